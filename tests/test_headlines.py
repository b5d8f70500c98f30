"""Headline numbers of the book, checked from each notebook's metrics.json with explicit tolerances.

``make test`` runs these after the nbval items (see the root conftest.py), so they read the records
that the nbval run just wrote to ``outputs/<stem>/metrics.json``. Run alone, a test executes its
notebook with papermill first (a record older than this test session is never trusted).

Expected values are those of the committed CPU run at default parameters (seed 0). Tolerances
cover float differences between CPU kernels (AVX2 vs AVX-512) and thread counts, which change the
last bits of every step and so, after 15 epochs, the second decimal of a metric; they are far
tighter than the differences the book's claims rest on.
"""

import pytest

from helpers.results import RECORD_NAME, read_json, repo_root
from tests.notebook_runs import run

pytestmark = pytest.mark.headlines

# notebook -> {(setup, threshold or None, metric): (expected, tolerance)}
EXPECTED = {
    "02_wrong_loss_failure": {
        ("bce_with_logits", None, "micro_f1"): (0.907, 0.03),
        ("bce_with_logits", None, "map"): (0.971, 0.02),
        ("cross_entropy", None, "micro_f1"): (0.562, 0.06),
        ("cross_entropy", None, "map"): (0.929, 0.03),
        ("double_sigmoid", None, "pred_pos_rate"): (1.0, 0.0),
        ("mse", None, "micro_f1"): (0.909, 0.03),
    },
    "03_bce_with_logits": {
        ("bce_with_logits", "0.5", "micro_f1"): (0.907, 0.03),
        ("bce_with_logits", "0.5", "macro_f1"): (0.903, 0.03),
        ("bce_with_logits", "0.5", "map"): (0.971, 0.02),
        ("bce_with_logits", "0.5", "element_accuracy"): (0.964, 0.01),
    },
    "04_pos_weight_imbalance": {
        ("bce_with_logits", "0.5", "micro_f1"): (0.980, 0.01),
        ("bce_with_logits", "0.5", "map"): (0.791, 0.06),
        ("bce_with_logits+neg_over_pos", "0.5", "map"): (0.786, 0.06),
        ("bce_with_logits+neg_over_pos", "0.5", "micro_f1"): (0.960, 0.015),
    },
}


@pytest.fixture(scope="module")
def records(request, tmp_path_factory):
    cache = {}

    def get(stem):
        if stem not in cache:
            path = repo_root() / "outputs" / stem / RECORD_NAME
            if path.exists() and path.stat().st_mtime >= request.config.session_start_time:
                cache[stem] = read_json(path)
            else:
                nb = repo_root() / "notebooks" / f"{stem}.ipynb"
                cache[stem] = run(nb, tmp_path_factory.mktemp(stem))
        return cache[stem]

    return get


def _find(record, setup, threshold):
    hits = [r for r in record["results"] if r["setup"] == setup and (threshold is None or r.get("threshold") == threshold)]
    assert len(hits) == 1, f"{record['notebook']}: expected one result for {setup!r} (threshold {threshold}), got {len(hits)}"
    return hits[0]


@pytest.mark.parametrize("stem,key", [(s, k) for s, ks in EXPECTED.items() for k in ks],
                         ids=lambda v: v if isinstance(v, str) else "/".join(str(x) for x in v if x))
def test_headline(records, stem, key):
    setup, threshold, metric = key
    expected, tol = EXPECTED[stem][key]
    value = _find(records(stem), setup, threshold)[metric]
    assert value == pytest.approx(expected, abs=tol), f"{stem} {setup} {metric}: {value:.4f} vs {expected} ± {tol}"


def test_record_format(records):
    rec = records("03_bce_with_logits")
    assert set(rec) >= {"notebook", "params", "env", "results"}
    assert rec["params"]["seed"] == 0 and rec["env"]["torch"].startswith("2.")
    entry = rec["results"][0]
    assert {"setup", "micro_f1", "macro_f1", "samples_f1", "hamming_loss", "map", "pred_pos_rate", "true_pos_rate",
            "per_label", "train_seconds"} <= set(entry)
    assert {"label", "precision", "recall", "f1", "ap", "support"} <= set(entry["per_label"][0])
