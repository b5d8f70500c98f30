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

from helpers.claims import FAILED, HELD, NOT_APPLICABLE
from tests.notebook_runs import NOTEBOOKS, record_getter

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


# notebook -> the claims that must be held at default parameters (every other claim it records must be
# "not applicable" with a reason); a claim that silently stops applying at the defaults fails here.
HELD_AT_DEFAULTS = {
    "01_data_inspection": {"rarest_label_about_1_in_200", "cardinality_matches_objects", "tail_changes_which_digits_only",
                           "balanced_mean_ir_near_1", "long_tail_mean_ir_10x", "no_source_digit_shared",
                           "source_digits_pixel_distinct"},
    "02_wrong_loss_failure": {"long_targets_and_bce_on_logits_raise", "validation_log_flags_broken_runs",
                              "double_sigmoid_loss_at_ln2", "ce_multihot_ranks_well", "ce_multihot_f1_collapses",
                              "ce_fine_with_one_digit", "ce_collapses_with_many_digits", "ce_f1_falls_with_cardinality",
                              "double_sigmoid_predicts_every_label", "double_sigmoid_direct_predicts_none",
                              "double_sigmoid_map_at_chance", "double_sigmoid_tiny_gradients", "mse_matches_bce_balanced",
                              "mse_behind_on_rare_labels"},
    "03_bce_with_logits": {"train_loss_falls", "train_loss_halves", "val_f1_climbs", "bce_learns_scenes",
                           "every_label_learned", "accuracy_hides_the_gap", "bce_of_sigmoid_pinned_at_clamp",
                           "with_logits_exact_at_large_logits", "bce_of_sigmoid_gradient_vanishes", "sigmoid_rounds_near_17",
                           "gradient_fades_below_minus_20"},
    "04_pos_weight_imbalance": {"trained_on_chosen_device", "batch_missing_share_matches_frequency",
                                "some_batch_weight_inf", "inf_weight_makes_nan_loss", "neg_over_pos_lifts_rare_recall",
                                "neg_over_pos_raises_positive_rate", "neg_over_pos_raises_thresholds"},
    "05_sweep_report": {"every_run_complete", "tuning_shrinks_neg_over_pos_gap", "sweep_claims_never_failed"},
}


@pytest.fixture(scope="module")
def records(request, tmp_path_factory):
    return record_getter(request.config.session_start_time, tmp_path_factory)


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


@pytest.mark.parametrize("stem", sorted(HELD_AT_DEFAULTS))
def test_claims_at_defaults(records, stem):
    """The same claim records the notebooks print: at default parameters the expected claims held,
    none failed, and every other one is not applicable with its reason."""
    claims = records(stem).get("claims")
    assert claims, f"{stem}: metrics.json lists no claims"
    by_status = {s: {c["id"] for c in claims if c["status"] == s} for s in (HELD, FAILED, NOT_APPLICABLE)}
    assert not by_status[FAILED], f"{stem}: failed claims {sorted(by_status[FAILED])}"
    assert by_status[HELD] == HELD_AT_DEFAULTS[stem], (
        f"{stem}: held {sorted(by_status[HELD])}, expected {sorted(HELD_AT_DEFAULTS[stem])}")
    assert all(c["why_not"] for c in claims if c["status"] == NOT_APPLICABLE)


def test_every_book_notebook_with_claims_is_checked():
    """A new notebook that records claims gets its expected claims here (one glob of notebooks)."""
    owned = {nb.stem for nb in NOTEBOOKS if nb.stem[:2] in {"01", "02", "03", "04", "05"}}
    assert owned <= set(HELD_AT_DEFAULTS), f"add the claims of {sorted(owned - set(HELD_AT_DEFAULTS))}"
