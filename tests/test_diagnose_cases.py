"""The mistakes real users make that the first checker missed or misread (issue 10 section 2,
issue 11's check_setup items), and the Monitor in a hand-written loop and inside fit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import data, models, train
from helpers.diagnose import Monitor, Report, check_setup
from tests.test_diagnose import Y_TRAIN, D, L, X, Y, assert_finding, check, mlp

# --- outputs with more than two dimensions --------------------------------------------------------


class _Segments(nn.Module):
    """(N, C, S) per-segment scores with a softmax over the C classes."""

    def __init__(self, c: int = 4, s: int = 5):
        super().__init__()
        torch.manual_seed(0)
        self.c, self.s, self.lin = c, s, nn.Linear(D, c * s)

    def forward(self, x):
        return self.lin(x).view(-1, self.c, self.s).softmax(1)


def _one_positive_per_segment(n: int = 64) -> torch.Tensor:
    idx = torch.randint(0, 4, (n, 5), generator=torch.Generator().manual_seed(0))
    return F.one_hot(idx, 4).permute(0, 2, 1).float()


def test_softmax_judged_per_position_for_3d_outputs():
    x = X[:64]
    y = _one_positive_per_segment()
    report = check_setup(_Segments(), nn.BCELoss(), x, y)
    assert "SOFTMAX_ON_MULTILABEL" not in report, report  # one positive per position: not a misuse
    y2 = y.clone()
    y2[:, 0, :] = 1  # class 0 also present everywhere: 2 positives per position
    f = assert_finding(check_setup(_Segments(), nn.BCELoss(), x, y2), "SOFTMAX_ON_MULTILABEL", "error")
    assert "positions" in f.message and "(64, 4, 5)" in f.message


def test_cross_entropy_over_classes_of_3d_logits_with_index_targets_is_single_label():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(D, 20), nn.Unflatten(1, (4, 5)))
    idx = torch.randint(0, 4, (96, 5), generator=torch.Generator().manual_seed(1))
    report = check_setup(model, nn.CrossEntropyLoss(), X, idx)
    assert report.ok and "SINGLE_LABEL_TARGETS" in report and "TARGET_DTYPE" not in report, report


# --- losses recognised by behaviour ------------------------------------------------------------------


class CrossEntropyLoss(nn.Module):  # a user's class whose name lies: it is a sigmoid loss
    def forward(self, out, y):
        return F.binary_cross_entropy_with_logits(out, y)


def test_a_loss_named_cross_entropy_that_is_a_sigmoid_loss():
    report = check(criterion=CrossEntropyLoss())
    assert report.ok and "SOFTMAX_ON_MULTILABEL" not in report, report
    assert report.facts["loss_kind"] == "bce_logits" and "behaviour" not in report.facts["loss"]
    # the right fix for long targets is .float(), not "use BCEWithLogitsLoss"
    f = assert_finding(check(criterion=CrossEntropyLoss(), y=Y.long()), "TARGET_DTYPE", "error")
    assert f.fix == "targets = targets.float()"


def test_loss_wrappers_are_recognised():
    class Holder:  # an object holding a torch loss
        def __init__(self, pos_weight):
            self.loss = nn.BCEWithLogitsLoss(pos_weight=pos_weight)

        def __call__(self, out, y):
            return self.loss(out, y)

    report = check(criterion=Holder(torch.ones(L)))
    assert "LOSS_UNKNOWN" not in report and report.facts["loss_kind"] == "bce_logits", report
    report = check(criterion=Holder(torch.full((L,), math.inf)))  # its pos_weight is checked too
    assert_finding(report, "POS_WEIGHT_INVALID", "error")

    def softmax_loss(out, y):
        return F.cross_entropy(out, y)

    assert_finding(check(criterion=softmax_loss), "SOFTMAX_ON_MULTILABEL", "error")
    report = check(mlp(nn.Sigmoid()), lambda out, y: F.binary_cross_entropy(out, y))
    assert report.facts["loss_kind"] == "bce" and "LOSS_UNKNOWN" not in report


# --- weight decay, NO_LEARNING's suspect, extreme collapse --------------------------------------------


def test_no_learning_names_weight_decay_as_the_suspect():
    model = mlp()
    report = check(model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=100.0))
    assert_finding(report, "WEIGHT_DECAY", "warning")
    f = report.get("NO_LEARNING")
    assert f is not None and "weight_decay=100" in f.message and "lr too small" not in f.message, report


def test_extreme_collapse_on_sparse_labels_names_the_labels():
    y = torch.zeros(96, 20)
    y[torch.arange(0, 96, 4), torch.arange(0, 96, 4) % 20] = 1  # 1.25% positive
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(D, 20))
    with torch.no_grad():
        model[0].bias.fill_(-8.0)
    f = assert_finding(check_setup(model, nn.BCEWithLogitsLoss(), X, y, probe_steps=0), "COLLAPSED_PREDICTIONS",
                       "info")
    assert "no prediction is positive" in f.message and "labels 0, 4" in f.message


def test_all_positive_collapse_quotes_f1_formula():
    model = mlp()
    with torch.no_grad():
        model[3].bias.fill_(8.0)
    f = assert_finding(check(model), "COLLAPSED_PREDICTIONS", "warning")
    rate = Y.mean().item()
    assert f"{2 * rate / (1 + rate):.4g}" in f.message and "near 0" not in f.message


# --- pos_weight: the book's recipe is never flagged ----------------------------------------------------


def test_neg_over_pos_from_the_training_set_on_long_tailed_labels_is_not_flagged():
    tt = Y_TRAIN.clone()
    tt[:, 0] = 0
    tt[:6, 0] = 1  # 6 of 1000: neg/pos = 165.7, above POS_WEIGHT_MAX
    pw = (len(tt) - tt.sum(0)) / tt.sum(0)
    assert pw.max() > 100
    report = check(criterion=nn.BCEWithLogitsLoss(pos_weight=pw), train_targets=tt)
    assert "POS_WEIGHT_INVALID" not in report and report.ok, report
    # the same weights without the training set to compare with, or doubled, are a warning
    assert_finding(check(criterion=nn.BCEWithLogitsLoss(pos_weight=pw), train_targets=None), "POS_WEIGHT_INVALID",
                   "warning")
    assert_finding(check(criterion=nn.BCEWithLogitsLoss(pos_weight=2 * pw), train_targets=tt), "POS_WEIGHT_INVALID",
                   "warning")


def test_batch_too_small_does_not_ask_for_what_is_already_done():
    y = Y.clone()
    y[:, 2] = 0
    pw = (len(Y_TRAIN) - Y_TRAIN.sum(0)) / Y_TRAIN.sum(0)
    f = assert_finding(check(criterion=nn.BCEWithLogitsLoss(pos_weight=pw), y=y), "BATCH_TOO_SMALL", "info")
    assert "already" not in f.fix and "Compute pos_weight" not in f.message and "finite" in f.message
    f = assert_finding(check(y=y), "BATCH_TOO_SMALL", "info")
    assert "Compute pos_weight once from the training set" in f.message


# --- issue 11: bad inputs get a clear error -----------------------------------------------------------


def test_dict_without_logits_uses_the_entry_shaped_like_the_targets():
    class Named(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = mlp()

        def forward(self, x):
            return {"features": torch.cat([x, x], 1), "scores": self.body(x)}

    report = check(Named(), lambda out, y: F.binary_cross_entropy_with_logits(out["scores"], y))
    assert "SHAPE_MISMATCH" not in report
    assert "'scores'" in report.get("OUTPUT_NOT_TENSOR").message


def test_meta_device_model_or_inputs_is_a_clear_error():
    with torch.device("meta"):
        meta_model = nn.Linear(D, L)
    with pytest.raises(ValueError, match="on the meta device.*to_empty"):
        check_setup(meta_model, nn.BCEWithLogitsLoss(), X, Y)
    with pytest.raises(ValueError, match="inputs are on the meta device"):
        check_setup(mlp(), nn.BCEWithLogitsLoss(), torch.empty(96, D, device="meta"), Y)


def test_string_arrays_name_the_argument():
    with pytest.raises(TypeError, match="inputs is a numpy array of dtype <U"):
        check_setup(mlp(), nn.BCEWithLogitsLoss(), np.array([["a"] * D] * 4), Y[:4])
    with pytest.raises(TypeError, match="targets is a numpy array of dtype object"):
        check_setup(mlp(), nn.BCEWithLogitsLoss(), X[:2], np.array([[None] * L] * 2, dtype=object))


def test_check_setup_runs_on_copies_of_long_targets_without_changing_them():
    y = Y.long()
    before = y.clone()
    check(y=y)
    assert y.dtype == torch.int64 and torch.equal(y, before)


# --- the Monitor ---------------------------------------------------------------------------------------


def test_monitor_in_a_hand_written_loop_names_the_first_non_finite_tensor():
    torch.manual_seed(0)
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    mon = Monitor(L)
    for step in range(12):
        out = model(X)
        weights = torch.full((L,), math.inf) if step == 7 else None  # a batch pos_weight gone inf
        loss = F.binary_cross_entropy_with_logits(out, Y, pos_weight=weights)
        opt.zero_grad()
        loss.backward()
        mon.update(loss=loss, outputs=out, targets=Y, model=model)
        opt.step()
    report = mon.report()
    f = assert_finding(report, "LOSS_NON_FINITE", "error")
    assert "step 7" in f.message and "the loss itself" in f.message and "pos_weight" in f.message, f.message
    assert report.title == "monitor" and str(report).startswith("monitor: 1 error")


def test_monitor_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_labels must be a positive int"):
        Monitor(0)
    with pytest.raises(ValueError, match="loss must be one of"):
        Monitor(3, loss="hinge")
    assert Monitor(3).report().findings == []  # nothing recorded: nothing to say


@pytest.fixture(scope="module")
def scenes():
    return data.make_scenes(n_train=400, n_val=200, n_test=200, seed=1)


def test_fit_stores_the_monitor_report(scenes):
    r = train.fit(models.build_model(scenes), scenes, "bce_with_logits", epochs=3, batch_size=64, progress=False)
    assert isinstance(r.monitor, Report) and r.monitor.facts["steps"] == 3 * 7 and r.monitor.facts["epochs"] == 3
    assert r.monitor.ok, r.monitor
    r_off = train.fit(models.build_model(scenes), scenes, "bce_with_logits", epochs=3, batch_size=64, progress=False,
                      monitor=False)
    assert r_off.monitor is None
    assert np.allclose(r.history["train_loss"], r_off.history["train_loss"])  # watching changes nothing
