"""helpers.causes (notebook 12's runs of the front door's untrained causes) and helpers.cause_claims (its claims'
tests, scopes and evidence, on hand-made tables)."""

import math

import numpy as np
import pandas as pd
import pytest

from helpers import cause_claims as CC
from helpers import causes, mistakes
from helpers.data import make_scenes


@pytest.fixture(scope="module")
def small_runs():
    d = make_scenes(300, 150, 150, seed=1)
    s = causes.Settings(epochs=2, batch_size=64, seed=1, device="cpu")
    return d, causes.run(d, list(causes.CAUSES), s)


def test_every_cause_runs_beside_the_correct_run(small_runs):
    d, runs = small_runs
    assert list(runs) == ["correct", *causes.CAUSES]
    t = causes.table(d, runs)
    assert list(t.index) == list(runs)
    # nonnegative logits: sigmoid(x) >= 0.5 everywhere, so every label is predicted
    assert t.loc["relu_before_loss", "pred_pos_rate at 0.5"] == 1.0
    assert t.loc["softplus_before_loss", "pred_pos_rate at 0.5"] == 1.0
    assert "LOGITS_NONNEGATIVE" in t.loc["relu_before_loss", "check_setup codes"].split()
    # every parameter frozen: PyTorch's own error, no scores
    assert t.loc["all_frozen", "error"].startswith("RuntimeError") and "does not require grad" in t.loc["all_frozen", "error"]
    assert math.isnan(t.loc["all_frozen", "mAP"])
    # lr 0: the same batches' losses every epoch
    assert t.loc["lr_zero", "train loss last"] == pytest.approx(t.loc["lr_zero", "train loss first"], abs=1e-4)
    # one NaN: NaN from the first epoch, the model's outputs NaN, scored as predicting nothing
    for r in ("nan_inputs", "nan_targets"):
        assert t.loc[r, "first non-finite epoch"] == 1 and bool(t.loc[r, "non-finite outputs"])
        assert t.loc[r, "pred_pos_rate at 0.5"] == 0.0 and t.loc[r, "tuned macro-F1"] == 0.0
        assert t.loc[r, "mAP"] == pytest.approx(float(d.Y_test.mean()), abs=1e-3)  # all ties: each label's base rate
    assert t.loc["correct", "error"] == ""


def test_the_nan_targets_run_records_the_monitors_refusal(small_runs):
    _, runs = small_runs
    assert "NaN" in runs["nan_targets"].detail["monitor_refusal"]


def test_run_refuses_an_unknown_cause():
    with pytest.raises(ValueError, match="unknown cause"):
        causes.run(make_scenes(200, 100, 100, seed=0), ["relu"], causes.Settings(epochs=1))


def test_train_loop_accepts_lr_zero_and_refuses_a_negative_lr():
    d = make_scenes(200, 100, 100, seed=0)
    from helpers.models import build_model

    r = mistakes.train_loop(build_model(d, seed=0), d, epochs=1, lr=0.0, device="cpu", progress=False)
    assert len(r.history) == 1
    with pytest.raises(ValueError, match="lr >= 0"):
        mistakes.train_loop(build_model(d, seed=0), d, epochs=1, lr=-1.0, device="cpu", progress=False)


# --- the claims, on hand-made tables ------------------------------------------------------------------------

COLS = ["tuned macro-F1", "mAP", "macro-F1 at 0.5", "micro-F1 at 0.5", "pred_pos_rate at 0.5", "train loss first",
        "train loss last", "first non-finite epoch", "non-finite outputs", "check_setup codes", "monitor codes", "error"]


def _table(changes=None):
    base = {
        "correct": [0.8, 0.85, 0.7, 0.72, 0.15, 0.6, 0.2, np.nan, False, "", "", ""],
        "relu_before_loss": [0.33, 0.2, 0.33, 0.33, 1.0, 0.7, 0.69, np.nan, False, "LOGITS_NONNEGATIVE", "LOSS_AT_LN2", ""],
        "softplus_before_loss": [0.33, 0.2, 0.33, 0.33, 1.0, 0.7, 0.69, np.nan, False, "LOGITS_NONNEGATIVE", "", ""],
        "pos_weight_too_large": [0.4, 0.3, 0.33, 0.33, 0.99, 13.0, 4.0, np.nan, False, "POS_WEIGHT_INVALID", "", ""],
        "pos_weight_inverted": [0.6, 0.6, 0.3, 0.65, 0.05, 0.3, 0.1, np.nan, False, "POS_WEIGHT_INVERTED", "", ""],
        "lr_zero": [0.3, 0.2, 0.27, 0.29, 0.57, 0.771, 0.771, np.nan, False, "NO_LEARNING", "LOSS_AT_LN2 LOSS_FLAT", ""],
        "all_frozen": [np.nan] * 8 + [np.nan, "NO_LEARNING", "", "RuntimeError: element 0 of tensors does not require grad"],
        "lr_far_too_large": [0.33, 0.2, 0.0, 0.0, 0.0, 110.0, 0.5, np.nan, False, "LEARNING_RATE", "LOSS_AT_PRIOR", ""],
        "nan_inputs": [0.0, 0.2, 0.0, 0.0, 0.0, np.nan, np.nan, 1, True, "NON_FINITE", "LOSS_NON_FINITE", ""],
        "nan_targets": [0.0, 0.2, 0.0, 0.0, 0.0, np.nan, np.nan, 1, True, "NON_FINITE", "LOSS_NON_FINITE", ""],
    }
    t = pd.DataFrame.from_dict(base, orient="index", columns=COLS)
    for (run, col), v in (changes or {}).items():
        t.loc[run, col] = v
    return t


def _y(ratio_long=False, density=0.2, n=1000, labels=10):
    rng = np.random.default_rng(0)
    p = np.geomspace(0.5, 0.01, labels) if ratio_long else np.full(labels, density)
    return (rng.random((n, labels)) < p).astype(np.float32)


def _held(cc):
    return {k: (c["holds"]() if callable(c["holds"]) else c["holds"]) for k, c in cc.items() if c["applies"]}


def test_every_claim_holds_on_a_table_that_shows_the_causes():
    y, y_long = _y(), _y(ratio_long=True)
    long_table = _table({("pos_weight_inverted", "macro-F1 at 0.5"): 0.2})
    held = _held(CC.gather(_table(), y, long_table, y_long, steps=80))
    assert held and all(held.values()), held
    assert "pos_weight_inverted_hits_macro_f1" in held  # applies on long-tailed labels


@pytest.mark.parametrize(("claim", "change"), [
    ("correct_run_clean", {("correct", "check_setup codes"): "NO_LEARNING"}),
    ("correct_run_clean", {("correct", "train loss last"): 0.5}),
    ("nonnegative_logits_flagged", {("softplus_before_loss", "check_setup codes"): ""}),
    ("nonnegative_logits_learn_no_ranking", {("relu_before_loss", "mAP"): 0.7}),
    ("pos_weight_too_large_predicts_every_label", {("pos_weight_too_large", "pred_pos_rate at 0.5"): 0.89}),
    ("pos_weight_too_large_flagged", {("pos_weight_too_large", "check_setup codes"): "BIAS_INIT"}),
    ("pos_weight_inverted_flagged", {("pos_weight_inverted", "check_setup codes"): ""}),
    ("lr_zero_loss_flat", {("lr_zero", "train loss last"): 0.7}),
    ("lr_zero_flagged", {("lr_zero", "monitor codes"): "LOSS_AT_LN2"}),
    ("all_frozen_raises", {("all_frozen", "error"): ""}),
    ("lr_far_too_large_stays_finite", {("lr_far_too_large", "first non-finite epoch"): 3}),
    ("lr_far_too_large_learns_no_ranking", {("lr_far_too_large", "mAP"): 0.8}),
    ("lr_far_too_large_flagged", {("lr_far_too_large", "check_setup codes"): ""}),
    ("one_nan_poisons_the_run", {("nan_targets", "non-finite outputs"): False}),
    ("one_nan_flagged", {("nan_inputs", "monitor codes"): ""}),
])
def test_each_claim_fails_when_its_symptom_is_missing(claim, change):
    cc = CC.gather(_table(change), _y(), steps=80)
    assert cc[claim]["applies"]
    assert not (cc[claim]["holds"]() if callable(cc[claim]["holds"]) else cc[claim]["holds"])


def test_the_inverted_weights_claim_fails_and_needs_long_tailed_labels():
    y_long = _y(ratio_long=True)
    same_drop = _table()  # macro and micro fall alike: no extra cost to the rare labels
    same_drop.loc["pos_weight_inverted", ["macro-F1 at 0.5", "micro-F1 at 0.5"]] = [0.6, 0.62]
    cc = CC.gather(_table(), _y(), same_drop, y_long)["pos_weight_inverted_hits_macro_f1"]
    assert cc["applies"] and not cc["holds"]()
    cc = CC.gather(_table(), _y(), _table(), _y())["pos_weight_inverted_hits_macro_f1"]  # balanced labels
    assert not cc["applies"] and "long-tailed" in cc["why_not"]


def test_claims_are_not_applicable_without_their_run_or_a_learning_correct_run():
    t = _table().drop(index=["lr_zero", "nan_inputs", "nan_targets", "all_frozen"])
    cc = CC.gather(t, _y())
    for claim in ("lr_zero_loss_flat", "lr_zero_flagged", "all_frozen_raises", "one_nan_poisons_the_run", "one_nan_flagged"):
        assert not cc[claim]["applies"] and cc[claim]["why_not"], claim
    weak = _table({("correct", "mAP"): 0.3})  # the correct run does not learn: no claim about failing to learn
    cc = CC.gather(weak, _y())
    for claim in ("correct_run_clean", "nonnegative_logits_learn_no_ranking", "lr_far_too_large_learns_no_ranking"):
        assert not cc[claim]["applies"] and "must learn" in cc[claim]["why_not"], claim
    assert cc["nonnegative_logits_flagged"]["applies"]  # a check is judged whatever the correct run learnt


def test_the_monitor_flat_claim_needs_enough_steps():
    cc = CC.gather(_table(), _y(), steps=CC.MONITOR_FLAT_STEPS - 1)["lr_zero_flagged"]
    assert not cc["applies"] and "LOSS_FLAT" in cc["why_not"]
    assert CC.gather(_table(), _y(), steps=CC.MONITOR_FLAT_STEPS)["lr_zero_flagged"]["applies"]
