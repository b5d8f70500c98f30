"""helpers.diagnose_claims: notebook 06's claim tests, scopes and evidence, on hand-made reports."""

from types import SimpleNamespace

import pandas as pd
import torch

from helpers import diagnose_claims as dc
from helpers.diagnose.report import Finding, Report


def _report(*codes, facts=None):
    """A report with one finding per ``(code, severity)`` or ``(code, severity, message)``."""
    return Report([Finding(*c) for c in codes], facts=facts or {})


def test_article_claims():
    long = _report(("TARGET_DTYPE", "error", "int64"), ("SOFTMAX_ON_MULTILABEL", "error", "softmax"))
    c = dc.article_long_targets(long, multi_rows=40)
    assert all(v["holds"] and v.get("applies", True) for v in c.values())
    assert c["article_softmax_on_multilabel"]["evidence"]["rows_with_2plus_labels"] == 40
    warned = dc.article_long_targets(_report(("TARGET_DTYPE", "warning", "int64")), multi_rows=0)
    assert not warned["article_long_targets_error"]["holds"] and not warned["article_softmax_on_multilabel"]["applies"]
    noted = dc.article_sigmoid_bceloss(_report(("SIGMOID_THEN_BCELOSS", "info", "noted")), scenes=True)
    assert all(v["holds"] for v in noted.values())
    more = dc.article_sigmoid_bceloss(_report(("SIGMOID_THEN_BCELOSS", "info", "noted"), ("RARE_LABEL", "warning", "x")),
                                      scenes=False)
    assert more["article_sigmoid_bceloss_noted"]["holds"] and not more["article_sigmoid_bceloss_only_finding"]["holds"]
    assert more["article_sigmoid_bceloss_only_finding"]["why_not"] == dc.ON_SCENES_ONLY


def test_batch_weight_claims():
    flagged = _report(("POS_WEIGHT_INVALID", "error", "inf"), ("NON_FINITE", "error", "nan"))
    used = torch.tensor([1.0, float("inf"), float("inf")])
    c = dc.article_batch_weights(flagged, used, step=3, scenes=True)
    assert c["article_batch_weights_go_inf"]["holds"] and c["article_batch_weights_flagged"]["holds"]()
    assert c["article_batch_weights_go_inf"]["evidence"] == {"step": 3, "inf_labels": 2}
    finite = dc.article_batch_weights(_report(), torch.ones(3), step=15, scenes=True)
    assert not finite["article_batch_weights_go_inf"]["holds"] and not finite["article_batch_weights_flagged"]["applies"]
    assert dc.article_batch_weights(_report(), None, 0, True)["article_batch_weights_go_inf"]["evidence"]["inf_labels"] == 0
    small = ("BATCH_TOO_SMALL", "info", "label 9 has no positive in this batch; its weight is finite")
    fixed = dc.article_batch_weights_fixed(_report(small), torch.tensor([2.0, 8.0]))
    assert fixed["neg_over_pos_not_flagged"]["holds"] and fixed["batch_too_small_knows_pos_weight_is_done"]["holds"]()
    assert fixed["neg_over_pos_not_flagged"]["evidence"]["max_pos_weight"] == 8.0
    asks = dc.article_batch_weights_fixed(_report(("BATCH_TOO_SMALL", "info", "Compute pos_weight from the training set")),
                                          torch.tensor([2.0]))
    assert not asks["batch_too_small_knows_pos_weight_is_done"]["holds"]()
    none = dc.article_batch_weights_fixed(_report(("POS_WEIGHT_INVALID", "warning", "large")), torch.tensor([2.0]))
    assert not none["neg_over_pos_not_flagged"]["holds"] and not none["batch_too_small_knows_pos_weight_is_done"]["applies"]


EXPECTED = {"cross_entropy": "SOFTMAX_ON_MULTILABEL", "double_sigmoid": "DOUBLE_SIGMOID",
            "bce_on_logits": "PROBS_EXPECTED", "mse": "MSE_FOR_CLASSIFICATION"}


def test_notebook_02_claims():
    checks = {"cross_entropy": _report(("SOFTMAX_ON_MULTILABEL", "error", "x")),
              "double_sigmoid": _report(("DOUBLE_SIGMOID", "error", "x")),
              "bce_on_logits": _report(("PROBS_EXPECTED", "error", "x")),
              "mse": _report(("MSE_FOR_CLASSIFICATION", "warning", "x")), "bce_with_logits": _report()}
    c = dc.notebook_02(checks, EXPECTED, multi_rows=10, scenes=True)
    assert set(c) == {f"nb02_{k}_flagged" for k in EXPECTED} | {"nb02_three_errors", "nb02_mse_warning",
                                                                "nb02_bce_with_logits_clean"}
    assert all(v["holds"] for v in c.values())
    single = dc.notebook_02(checks, EXPECTED, multi_rows=0, scenes=True)
    assert not single["nb02_cross_entropy_flagged"]["applies"] and single["nb02_mse_flagged"]["applies"]
    missed = dc.notebook_02({**checks, "double_sigmoid": _report(), "bce_with_logits": _report(("RARE_LABEL", "warning", "x"))},
                            EXPECTED, 10, True)
    assert not missed["nb02_double_sigmoid_flagged"]["holds"] and not missed["nb02_three_errors"]["holds"]
    assert not missed["nb02_bce_with_logits_clean"]["holds"]


def test_fixed_setup_claims():
    facts = {"probe_loss_before": 0.7, "probe_loss_after": 0.2}
    c = dc.fixed_setup(_report(facts=facts), scenes=True)
    assert all(v["holds"] for v in c.values())
    warned = dc.fixed_setup(_report(("RARE_LABEL", "warning", "x"), facts={"probe_loss_before": 0.7, "probe_loss_after": 0.9}),
                            scenes=True)
    assert not warned["fixed_setup_no_warnings"]["holds"] and not warned["fixed_setup_probe_learns"]["holds"]
    assert warned["fixed_setup_ok"]["holds"]
    assert dc.fixed_setup(_report(facts=facts), scenes=False)["fixed_setup_no_warnings"]["applies"] is False

def _run(codes, train_loss=(0.9, 0.7)):
    return SimpleNamespace(monitor=_report(*codes), history=pd.DataFrame({"train_loss": list(train_loss)}))


def test_monitor_claims():
    ref = _run([("ALL_ZERO_PHASE", "info", "x")])
    ds = _run([("LOSS_AT_LN2", "warning", "x")], train_loss=(0.9, 0.7))
    rates = {"rate_through_loss": 1.0, "rate_model_x": 0.0}
    c = dc.monitored_runs(ref, ds, rates, steps=128)
    assert all(v["holds"] for v in c.values()) and c["monitor_double_sigmoid_at_chance"]["evidence"]["steps"] == 128
    short = dc.monitored_runs(_run([("LOSS_AT_LN2", "warning", "x")]), _run([]), rates, steps=64)
    assert not short["double_sigmoid_two_readings"]["applies"] and "64 training steps" in short["double_sigmoid_two_readings"]["why_not"]
    assert not short["monitor_reference_quiet"]["holds"] and not short["monitor_double_sigmoid_at_chance"]["holds"]
    runs = {"a": _run([("ALL_ZERO_PHASE", "info", "x")]), "b": _run([])}
    assert dc.all_zero_phase(runs, {"a": 2, "b": 0}, ["a"])["monitor_all_zero_phase"]["holds"]()
    assert not dc.all_zero_phase(runs, {"a": 2, "b": 2}, ["a", "b"])["monitor_all_zero_phase"]["holds"]()
    assert not dc.all_zero_phase(runs, {"a": 0, "b": 0}, [])["monitor_all_zero_phase"]["applies"]
    nan = _report(("LOSS_NON_FINITE", "error", "loss NaN at step 4 (first of 3 steps)"))
    assert dc.nan_step(nan, 4, 16)["monitor_names_nan_step"]["holds"]()
    assert not dc.nan_step(nan, 5, 16)["monitor_names_nan_step"]["holds"]()
    assert not dc.nan_step(nan, None, 16)["monitor_names_nan_step"]["applies"]


def test_prediction_claims():
    right = "sigmoid(logits) > 0.5"
    wrong = {"argmax (one label per row)": "ARGMAX_AS_MULTILABEL"}
    checks = {"argmax (one label per row)": _report(("ARGMAX_AS_MULTILABEL", "error", "x")), right: _report()}
    c = dc.predictions(checks, {"argmax (one label per row)": 0.5, right: 0.8}, wrong, right, multi_rows=5)
    assert c["pred_argmax_as_multilabel"]["holds"] and c["pred_argmax_as_multilabel"]["applies"]
    assert c["pred_right_way_clean"]["holds"]
    better = dc.predictions(checks, {"argmax (one label per row)": 0.9, right: 0.8}, wrong, right, multi_rows=0)
    assert not better["pred_argmax_as_multilabel"]["holds"] and not better["pred_argmax_as_multilabel"]["applies"]
    y = torch.zeros(100, 3)
    y[:5, 0] = 1
    p = dc.accuracy_paradox(_report(("ACCURACY_PARADOX", "warning", "x")), 0.98, y)["pred_accuracy_paradox"]
    assert p["holds"] and p["applies"] and abs(p["evidence"]["positive_rate"] - 5 / 300) < 1e-6
    assert not dc.accuracy_paradox(_report(), 0.5, torch.ones(4, 2))["pred_accuracy_paradox"]["applies"]


def test_own_data_claim():
    none = dc.own_data(None, 8)["own_data_trains"]
    assert not none["applies"] and none["evidence"] == {"first": None, "last": None} and "scenes" in none["why_not"]
    run = SimpleNamespace(history=pd.DataFrame({"epoch": [1, 2], "train_loss": [0.7, 0.4]}))
    assert dc.own_data(run, 2)["own_data_trains"]["holds"]() and dc.own_data(run, 2)["own_data_trains"]["applies"]
    rising = SimpleNamespace(history=pd.DataFrame({"epoch": [1, 2], "train_loss": [0.4, 0.7]}))
    assert not dc.own_data(rising, 2)["own_data_trains"]["holds"]()
    assert dc.own_data(run, 1)["own_data_trains"]["why_not"] == "one epoch: nothing to compare"
