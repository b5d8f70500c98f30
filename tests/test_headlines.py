"""Headline numbers of the book, checked from each notebook's metrics.json with explicit tolerances.

``make test`` runs these after the nbval items (see the root conftest.py), so they read the records
that the nbval run just wrote to ``outputs/<stem>/metrics.json``. Run alone, a test executes its
notebook with papermill first (a record older than this test session is never trusted).

Expected values are never typed here (tests/headline_sources.py):

- notebooks 02 and 03: the numbers the committed notebook printed in its claim lines (the committed
  run at default parameters, seed 0; refreshed whenever the notebook is re-executed in place), which
  the fresh run must reproduce.

The drift test (committed evidence against what the code produces now) is tests/test_evidence_drift.py.

Each tolerance is stated with the effect it protects and is no wider than it.
"""

import pytest

from helpers.claims import FAILED, HELD, NOT_APPLICABLE
from tests.headline_sources import printed_claim_evidence
from tests.notebook_runs import NOTEBOOKS, record_getter

pytestmark = pytest.mark.headlines

# notebook -> {(claim id, evidence key): tolerance, with the smallest effect it protects}
HEADLINES = {
    "02_wrong_loss_failure": {
        ("ce_multihot_f1_collapses", "bce_micro_f1"): 0.03,  # MSE matches BCE within 0.05
        ("ce_multihot_f1_collapses", "ce_micro_f1"): 0.05,  # CE falls more than 0.2 below BCE
        ("ce_multihot_ranks_well", "bce_map"): 0.02,  # CE's mAP within 0.1 of BCE's
        ("ce_multihot_ranks_well", "ce_map"): 0.03,  # idem
        ("double_sigmoid_direct_predicts_none", "pred_pos_rate_direct"): 0.02,  # below 0.02
        ("mse_matches_bce_balanced", "micro_f1"): 0.03,  # MSE minus BCE within 0.05
    },
    "03_bce_with_logits": {
        ("bce_learns_scenes", "micro_f1"): 0.03,  # micro-F1 above 0.75 (and 02's MSE-BCE 0.05)
        ("bce_learns_scenes", "map"): 0.02,  # mAP above 0.85
        ("every_label_learned", "worst_f1"): 0.05,  # every label's F1 above 0.5
    },
}


# notebook -> the claims that must be held at default parameters (every other claim it records must be
# "not applicable" with a reason); a claim that silently stops applying at the defaults fails here.
HELD_AT_DEFAULTS = {
    "01_data_inspection": {"rarest_label_about_1_in_200", "cardinality_matches_objects", "tail_changes_which_digits_only",
                           "balanced_mean_ir_near_1", "long_tail_mean_ir_10x", "no_source_digit_shared",
                           "source_digits_pixel_distinct"},
    "02_wrong_loss_failure": {"long_targets_and_bce_on_logits_raise", "validation_log_flags_broken_runs",
                              "double_sigmoid_loss_falls_to_ln2", "double_sigmoid_pulled_to_half", "ce_multihot_ranks_well", "ce_multihot_f1_collapses",
                              "ce_fine_with_one_digit", "ce_collapses_with_many_digits", "ce_f1_falls_with_cardinality",
                              "double_sigmoid_direct_predicts_none",
                              "double_sigmoid_map_at_chance", "double_sigmoid_tiny_gradients", "mse_matches_bce_balanced",
                              "mse_behind_on_rare_labels"},
    "03_bce_with_logits": {"train_loss_falls", "train_loss_halves", "val_f1_climbs", "bce_learns_scenes",
                           "every_label_learned", "bce_of_sigmoid_pinned_at_clamp", "gradient_zero_only_once_sigmoid_is_1",
                           "bce_of_sigmoid_gradient_vanishes", "gradient_fades_below_minus_20"},
    "04_pos_weight_imbalance": {"trained_on_chosen_device", "batch_missing_share_matches_frequency",
                                "some_batch_weight_inf", "neg_over_pos_raises_rate_of_upweighted_labels",
                                "neg_over_pos_raises_thresholds"},
    "05_sweep_report": {"every_run_complete", "tuning_shrinks_neg_over_pos_gap", "sweep_claims_never_failed"},
}


@pytest.fixture(scope="module")
def records(request, tmp_path_factory):
    return record_getter(request.config.session_start_time, tmp_path_factory)


def _claim_evidence(record, claim_id):
    hits = [c for c in record.get("claims", []) if c["id"] == claim_id]
    assert len(hits) == 1, f"{record['notebook']}: expected one claim {claim_id!r}, got {len(hits)}"
    return hits[0]["evidence"]


@pytest.mark.parametrize("stem,key", [(s, k) for s, ks in HEADLINES.items() for k in ks],
                         ids=lambda v: v if isinstance(v, str) else "/".join(str(x) for x in v if x))
def test_headline(records, stem, key):
    claim_id, name = key
    tol = HEADLINES[stem][key]
    printed = printed_claim_evidence(stem)
    assert name in printed.get(claim_id, {}), (f"the committed {stem} printed no {name}= in claim {claim_id!r}: "
                                               f"re-execute it in place, or update HEADLINES")
    expected = printed[claim_id][name]
    value = _claim_evidence(records(stem), claim_id)[name]
    assert value == pytest.approx(expected, abs=tol), (
        f"{stem} {claim_id}.{name}: this run {value:.4f}, the committed notebook printed {expected} (tolerance {tol})")


def test_printed_claim_evidence_parses_the_claim_lines():
    ev = printed_claim_evidence("03_bce_with_logits")
    assert ev and all(isinstance(v, float) for d in ev.values() for v in d.values())


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
