"""helpers.lessons: claims with declared preconditions, the list rule, and the evidence gatherers of 02-04."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import claims, lessons, losses, params


def test_unmet_gives_the_first_failing_reason():
    assert lessons.unmet((True, "a"), (True, "b")) == ""
    assert lessons.unmet((True, "a"), (False, "b"), (False, "c")) == "b"


def test_claim_not_applicable_evaluates_nothing():
    ledger = claims.Ledger(None, echo=False)

    def boom():
        raise AssertionError("evaluated")

    lessons.claim(ledger, "x", "a claim", boom, boom, unmet="epochs=1: too few")
    assert ledger.records[0]["status"] == claims.NOT_APPLICABLE and ledger.records[0]["why_not"] == "epochs=1: too few"
    lessons.claim(ledger, "y", "another", lambda: True, lambda: {"v": 1})
    assert ledger.records[1]["status"] == claims.HELD and ledger.records[1]["evidence"] == {"v": 1}
    with pytest.raises(claims.ClaimFailed):
        lessons.claim(ledger, "z", "a failing one", False, {"v": 2})


@pytest.mark.parametrize("bad", [[], [1, 1], [0, 2], [1, 5], [1.0, 2], "1,2", [True], None])
def test_int_list_refuses_in_one_line(bad):
    with pytest.raises(params.ParameterError, match="parameter `levels`"):
        lessons.int_list(1, 4)("levels", bad)


def test_int_list_accepts():
    lessons.int_list(1, 4)("levels", [1, 2, 3, 4])


def test_setup_names_are_valid_and_exclude_raising_losses():
    names = lessons.pos_weight_setups()
    assert "bce_with_logits+neg_over_pos" in names and "cross_entropy_long" not in names
    for n in names:
        losses.parse_setup(n)


def test_double_sigmoid_mechanism_reference_losses():
    y = np.zeros((10, 2))
    y[:2] = 1  # each label in 20% of the rows
    hist = pd.DataFrame({"train_loss": [0.8, 0.7, 0.6932]})
    m = lessons.double_sigmoid_mechanism(hist, np.full((4, 2), 1e-6), np.full((4, 2), 0.5), y)
    assert m["best_constant_loss"] == pytest.approx(math.log(2))  # p < 0.5: the bottom of the range
    top = 1 / (1 + math.exp(-1))
    assert m["perfect_separation_loss"] == pytest.approx(0.2 * -math.log(top) + 0.8 * math.log(2))
    assert m["perfect_separation_loss"] < math.log(2)
    assert m["loss_first_epoch"] == 0.8 and m["model_x_max"] == pytest.approx(1e-6)
    y2 = np.ones((10, 1))
    y2[:4] = 0  # present in 60%: the best constant is inside the range, at the frequency
    m2 = lessons.double_sigmoid_mechanism(hist, np.zeros((1, 1)), np.zeros((1, 1)) + 0.5, y2)
    assert m2["best_constant_loss"] == pytest.approx(-(0.6 * math.log(0.6) + 0.4 * math.log(0.4)))


def test_stability_points_match_float32():
    x = torch.linspace(-100, 100, 401)
    stab = pd.concat([losses.stability_table(x, t) for t in (0.0, 1.0)], ignore_index=True)
    s = lessons.stability_points(stab)
    assert 15 < s["sigmoid_rounds_to_1_at"] < 18  # float32 sigmoid reaches 1.0 near 16.6
    assert s["max_grad_after_rounding"] == 0.0  # BCELoss's gradient is exactly 0 once sigmoid(x) == 1
    assert s["min_grad_from_5_to_rounding"] > 0.99  # and about 1 before
    assert s["first_off_by_1pct"] < s["sigmoid_rounds_to_1_at"]
    assert s["pinned_from_20"] and s["vanishes_below_minus_50"] and s["zero_only_once_sigmoid_is_1"]
    broken = stab.copy()
    broken.loc[(broken["target"] == 0.0) & (broken["logit"] == 30.0), "grad_bce_of_sigmoid"] = 0.5
    b = lessons.stability_points(broken)
    assert not b["pinned_from_20"] and not b["zero_only_once_sigmoid_is_1"]


def test_rate_by_weight_splits_labels():
    p = {"a": np.array([[0.9, 0.1], [0.2, 0.6]]), "b": np.array([[0.4, 0.7], [0.1, 0.8]])}
    t = lessons.rate_by_weight(p, np.array([0.5, 3.0]), ["x", "y"], "a", "b")
    assert t.loc["x", "rate a"] == 0.5 and t.loc["x", "rate b"] == 0.0 and t.loc["y", "rate b"] == 1.0


def test_gains_from_records_and_runs():
    half = {"p": {"macro_f1": 0.6, "map": 0.8}, "w": {"macro_f1": 0.7, "map": 0.79}}
    tuned = {"p": {"macro_f1": 0.75}, "w": {"macro_f1": 0.73}}
    g = lessons.tuned_vs_half(half, tuned, "p", "w")
    assert g["gain_at_half"] == pytest.approx(0.1) and g["gain_tuned"] == pytest.approx(-0.02)
    record = {"results": [{"setup": "p", "threshold": "0.5", "macro_f1": 0.6, "map": 0.8},
                          {"setup": "p", "threshold": "tuned", "macro_f1": 0.75, "map": 0.8},
                          {"setup": "w", "threshold": "0.5", "macro_f1": 0.7, "map": 0.79},
                          {"setup": "w", "threshold": "tuned", "macro_f1": 0.73, "map": 0.79}]}
    assert lessons.record_gains(record, "p", "w") == pytest.approx(g)


def test_gpu_evidence_is_readable():
    rec = lessons.gpu_run("04_pos_weight_imbalance")
    assert rec["params"]["n_train"] == 20000
    assert "recall_none" in lessons.claim_evidence(rec, "neg_over_pos_lifts_rare_recall")
    assert lessons.claim_evidence(rec, "no_such_claim") == {}
