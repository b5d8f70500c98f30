"""Headline numbers of notebooks 07 and 08, checked from their metrics.json with explicit tolerances.

Kept apart from tests/test_headlines.py (same conventions: run after the nbval items, a record older
than the test session is never trusted, expected values from the committed CPU run at defaults,
seed 0). Tolerances cover float differences between CPU kernels after several epochs; they are far
tighter than the gaps the notebooks' claims rest on.
"""

import pytest

from tests.notebook_runs import record_getter

pytestmark = pytest.mark.headlines

# notebook -> {(setup, metric): (expected, tolerance)}
EXPECTED = {
    "07_debug_training_loop": {
        ("correct", "macro_f1"): (0.863, 0.04),
        ("correct", "map"): (0.961, 0.03),
        ("no zero_grad", "macro_f1"): (0.153, 0.1),
        ("weight decay far too large", "pred_pos_rate"): (0.025, 0.02),
        ("stale parameters", "macro_f1"): (0.266, 0.05),
    },
    "08_check_labels_and_splits": {
        ("noise 0", "macro_f1"): (0.444, 0.05),
        ("noise 0", "map"): (0.596, 0.05),
        ("missing 0.3", "mean_recall"): (0.204, 0.06),
    },
}


@pytest.fixture(scope="module")
def records(request, tmp_path_factory):
    return record_getter(request.config.session_start_time, tmp_path_factory)


@pytest.mark.parametrize("stem,key", [(s, k) for s, ks in EXPECTED.items() for k in ks],
                         ids=lambda v: v if isinstance(v, str) else "/".join(map(str, v)))
def test_headline(records, stem, key):
    setup, metric = key
    expected, tol = EXPECTED[stem][key]
    hits = [r for r in records(stem)["results"] if r["setup"] == setup]
    assert len(hits) == 1, f"{stem}: expected one result for {setup!r}, got {len(hits)}"
    value = hits[0][metric]
    assert value == pytest.approx(expected, abs=tol), f"{stem} {setup} {metric}: {value:.4f} vs {expected} ± {tol}"


MIN_HELD = {"07_debug_training_loop": 18, "08_check_labels_and_splits": 8}  # at defaults, seed 0


@pytest.mark.parametrize("stem", list(EXPECTED))
def test_every_claim_held_or_not_applicable(records, stem):
    statuses = {c["id"]: c["status"] for c in records(stem)["claims"]}
    assert statuses and "failed" not in statuses.values()
    assert sum(s == "held" for s in statuses.values()) >= MIN_HELD[stem], statuses
