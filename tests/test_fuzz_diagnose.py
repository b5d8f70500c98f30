"""Issue 19's bad inputs to the diagnose APIs, each asserting its specific error class and message, or
the finding (code and severity) that names the problem. Inputs are generated here; nothing is committed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from helpers.diagnose import Monitor, check_predictions, check_setup
from tests.test_diagnose import Y_TRAIN, X, Y, check, mlp


def _finding(report, code, severity):
    f = report.get(code)
    assert f is not None, f"{code} not reported:\n{report}"
    assert f.severity == severity, f"{code} is {f.severity}:\n{report}"
    return f


# --- check_setup -----------------------------------------------------------------------------------------


def test_loss_returning_none_is_an_error():
    def loss(out, y):
        (out - y).abs().mean()  # forgot the return

    rep = check(criterion=loss)
    assert not rep.ok
    assert "None" in _finding(rep, "LOSS_ERROR", "error").message


def test_loss_returning_an_integer_tensor_is_not_called_a_softmax():
    rep = check(criterion=lambda out, y: ((out > 0).long() != y.long()).sum())
    assert not rep.ok and "SOFTMAX_ON_MULTILABEL" not in rep
    assert "torch.int64" in _finding(rep, "LOSS_ERROR", "error").message


@pytest.mark.parametrize("value, code, severity, words", [
    (float("nan"), "NON_FINITE", "error", "train_targets"),
    (-1.0, "TARGET_NOT_BINARY", "error", "-1/+1"),
])
def test_bad_train_targets_are_flagged_like_bad_targets(value, code, severity, words):
    tt = Y_TRAIN.clone()
    if value == -1.0:
        tt[tt == 0] = -1.0  # a -1/+1 encoding
    else:
        tt[3, 2] = value
    assert words in _finding(check(train_targets=tt), code, severity).message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_one_non_finite_target_is_non_finite_not_a_crash(value):
    y = Y.clone()
    y[5, 1] = value
    for criterion in (nn.BCEWithLogitsLoss(), nn.CrossEntropyLoss()):
        rep = check(criterion=criterion, y=y)
        assert "targets" in _finding(rep, "NON_FINITE", "error").message


def test_zero_d_model_output_is_a_model_error():
    class Mean(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = mlp()

        def forward(self, x):
            return self.body(x).mean()

    assert "single number" in _finding(check(Mean()), "MODEL_ERROR", "error").message


def test_probe_steps_cap_and_numpy_integers():
    with pytest.raises(ValueError, match="above the cap of 1000"):
        check(probe_steps=10**9)
    rep = check(probe_steps=np.int64(5))
    assert rep.facts["probe_steps"] == 5
    with pytest.raises(ValueError, match="probe_steps must be an int"):
        check(probe_steps=2.5)


def test_float16_model_on_cpu_names_half_precision_not_the_lr():
    model = mlp().half()
    rep = check_setup(model, nn.BCEWithLogitsLoss(), X.half(), Y.half(),
                      optimizer=torch.optim.Adam(model.parameters()))
    f = _finding(rep, "NON_FINITE", "error")
    assert "torch.float16" in f.message and "lr is too large" not in f.message
    assert f.fix == "model.float()"


def test_masked_targets_and_a_loss_that_does_not_ignore_them():
    y = Y.clone()
    y[(Y == 0) & (torch.arange(Y.shape[1]) < 2)] = -1.0
    rep = check(y=y)
    _finding(rep, "MASKED_TARGETS", "info")
    _finding(rep, "MASK_NOT_IGNORED", "error")
    assert "TARGET_NOT_BINARY" not in rep
    pm = check(y=torch.where(Y == 0, -1.0, Y))  # only {-1, +1}: an encoding, still an error
    assert "-1/+1" in _finding(pm, "TARGET_NOT_BINARY", "error").message and "MASKED_TARGETS" not in pm


# --- check_predictions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("column", [
    torch.rand(40, 1),  # probabilities
    torch.full((40, 1), 9.0),  # indices out of range
    torch.full((40, 1), -1.0),  # -1
])
def test_single_column_predictions_are_not_clamped_into_class_indices(column):
    with pytest.raises(ValueError, match="class indices"):
        check_predictions(column, Y[:40])


def test_single_column_integer_indices_are_read_as_argmax():
    rep = check_predictions(Y[:40].argmax(1, keepdim=True), Y[:40])
    assert rep.facts["y_pred_read_as"].startswith("class indices")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_all_non_finite_scores_are_an_error(bad):
    rep = check_predictions((Y > 0).float(), Y, scores=torch.full_like(Y, bad))
    assert not rep.ok and "(all of them)" in _finding(rep, "NON_FINITE", "error").message


def test_nan_targets_are_not_read_as_zero():
    y = torch.zeros(200, 20)
    y[0, 0] = float("nan")
    rep = check_predictions(torch.zeros(200, 20), y)
    assert "targets" in _finding(rep, "NON_FINITE", "error").message and "ACCURACY_PARADOX" not in rep


# --- Monitor ---------------------------------------------------------------------------------------------


def test_monitor_checks_n_labels_against_the_outputs():
    mon = Monitor(4)
    with pytest.raises(ValueError, match=r"have 10 columns but Monitor\(n_labels=4\)"):
        mon.update(loss=0.5, outputs=torch.randn(8, 10))
    soft = Monitor(5000, loss="softmax")
    with pytest.raises(ValueError, match=r"Monitor\(4\) if that is right"):
        soft.update(loss=1.38, outputs=torch.randn(8, 4))


def test_monitor_accepts_numpy():
    mon = Monitor(np.int64(4))
    for _ in range(10):
        mon.update(loss=np.float32(0.5), outputs=np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32),
                   targets=np.eye(4, dtype=np.float32)[[0, 1, 2, 3] * 2])
    assert mon.steps == 10 and mon.report().facts["true_rate"] == pytest.approx(0.25)


@pytest.mark.parametrize("bad, err, words", [
    (dict(model="model"), TypeError, "must be the nn.Module"),
    (dict(loss="0.5"), TypeError, "loss must be a torch.Tensor"),
    (dict(outputs=[[0.1, 0.2]]), TypeError, "outputs must be"),
])
def test_monitor_refuses_what_it_cannot_read(bad, err, words):
    with pytest.raises(err, match=words):
        Monitor(2).update(**bad)


@pytest.mark.parametrize("n, words", [(0, "positive int"), (2.0, "positive int"), (True, "positive int")])
def test_monitor_n_labels(n, words):
    with pytest.raises(ValueError, match=words):
        Monitor(n)


def test_monitor_train_targets_are_checked():
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        Monitor(4, train_targets=np.zeros((10, 3)))
    with pytest.raises(ValueError, match="NaN"):
        Monitor(2, train_targets=np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="-1/\\+1"):
        Monitor(2, train_targets=np.array([[1.0, -1.0], [-1.0, 1.0]]))
    masked = Monitor(2, train_targets=np.array([[1.0, -1.0], [0.0, 1.0], [1.0, 0.0]]))  # -1 unknown: left out
    assert masked.label_freq.tolist() == pytest.approx([2 / 3, 1 / 2])
