"""The monitor's loss rules (LOSS_AT_LN2, LOSS_AT_PRIOR, LOSS_FLAT) on the book's own runs: notebook 07's
hand-written loop (helpers.mistakes.train_loop) with the correct settings, a stale optimizer and a
forgotten zero_grad, and notebook 08's shuffled labels; and the Monitor's argument checks."""

from __future__ import annotations

import copy
import math

import pytest
import torch

import helpers
from helpers import labels, mistakes, models
from helpers.diagnose import Monitor, binary_entropy

LOSS_RULES = {"LOSS_AT_LN2", "LOSS_AT_PRIOR", "LOSS_FLAT"}


@pytest.fixture(scope="module")
def book_runs():
    """07's settings (2000 balanced scenes, the book's CNN, Adam 3e-3, batch 128), 8 epochs."""
    d = helpers.data.make_scenes(n_train=2000, n_val=200, n_test=200, seed=0)
    init = models.build_model(d, seed=0)

    def run(data=d, **kw):
        r = mistakes.train_loop(copy.deepcopy(init), data, epochs=8, batch_size=128, seed=0, device="cpu",
                                progress=False, **kw)
        return r, r.monitor.report()

    shuffled = labels.with_train(d, labels.shuffle_rows(d.Y_train, seed=0))
    return {"correct": run(), "stale": run(optimize="stale"), "no zero_grad": run(zero_grad=False),
            "shuffled": run(data=shuffled), "data": d}


def test_correct_run_is_quiet(book_runs):
    _, rep = book_runs["correct"]
    assert not [f for f in rep if f.severity != "info"], str(rep)


def test_stale_optimizer_is_flat(book_runs):
    r, rep = book_runs["stale"]
    assert "LOSS_FLAT" in rep and "LOSS_AT_LN2" in rep, str(rep)
    assert "another copy of the parameters" in rep.get("LOSS_FLAT").message


def test_forgotten_zero_grad_is_at_ln2_and_names_the_cause(book_runs):
    _, rep = book_runs["no zero_grad"]
    assert "LOSS_AT_LN2" in rep, str(rep)
    assert "zero_grad" in rep.get("LOSS_AT_LN2").message
    assert "LOSS_AT_PRIOR" not in rep


def test_shuffled_labels_sit_at_the_prior(book_runs):
    r, rep = book_runs["shuffled"]
    assert "LOSS_AT_PRIOR" in rep, str(rep)
    assert not {"LOSS_AT_LN2", "LOSS_FLAT"} & set(rep.codes)
    assert "misaligned" in rep.get("LOSS_AT_PRIOR").message


def test_prior_from_train_targets_equals_the_batches(book_runs):
    r, rep = book_runs["correct"]
    y = book_runs["data"].Y_train
    mon = Monitor(y.shape[1], train_targets=y)
    expected = float(binary_entropy(torch.as_tensor(y).mean(0)).mean())
    assert mon.prior_loss() == pytest.approx(expected)
    assert rep.facts["prior_loss"] == pytest.approx(expected, abs=0.01)  # from the batches: every row once per epoch
    assert rep.facts["prior_from"] == "the batches' targets"


def _run_monitor(losses, **kw):
    mon = Monitor(4, **kw)
    for v in losses:
        mon.update(loss=v)
    return mon.report()


def test_prior_rule_needs_a_plateau_not_a_crossing():
    y = (torch.rand(400, 4, generator=torch.Generator().manual_seed(0)) < 0.1).float()
    prior = float(binary_entropy(y.mean(0)).mean())
    falling_through = [0.69 - (0.69 - 0.5 * prior) * i / 39 for i in range(40)]  # passes the prior on its way down
    assert "LOSS_AT_PRIOR" not in _run_monitor(falling_through, train_targets=y)
    plateau = [prior * (1 + 0.01 * (-1) ** i) for i in range(40)]
    rep = _run_monitor(plateau, train_targets=y)
    assert "LOSS_AT_PRIOR" in rep and "LOSS_AT_LN2" not in rep
    assert "LOSS_FLAT" in rep  # flat too, at any level


def test_ln2_rule_with_pos_weight_uses_the_weighted_neutral_loss():
    y = (torch.rand(400, 4, generator=torch.Generator().manual_seed(0)) < 0.2).float()
    p = y.mean(0)
    pw = (1 - p) / p  # neg/pos: the weighted loss of every output at 0.5 is 2 (1 - p) ln 2, above ln 2
    healthy = [0.75 - 0.002 * i for i in range(40)]  # above ln 2, but far below the weighted neutral loss ~1.1
    assert "LOSS_AT_LN2" in _run_monitor(healthy)  # unweighted reading
    assert "LOSS_AT_LN2" not in _run_monitor(healthy, train_targets=y, pos_weight=pw)
    stuck = [float(2 * (1 - p).mean() * math.log(2))] * 40
    assert "LOSS_AT_LN2" in _run_monitor(stuck, train_targets=y, pos_weight=pw)


def test_flat_rule_ignores_a_noisy_but_falling_loss():
    g = torch.Generator().manual_seed(0)
    noisy_falling = [0.6 - 0.003 * i + 0.02 * float(torch.randn(1, generator=g)) for i in range(60)]
    assert "LOSS_FLAT" not in _run_monitor(noisy_falling)


def test_probabilities_fed_as_outputs_are_detected():
    g = torch.Generator().manual_seed(0)
    y = (torch.rand(64, 4, generator=g) < 0.3).float()
    mon = Monitor(4)
    for _ in range(10):
        probs = torch.sigmoid(torch.randn(64, 4, generator=g) - 3)  # predicts almost nothing
        mon.update(loss=0.4, outputs=probs, targets=y)
    rep = mon.report()
    assert rep.facts["outputs_form"] == "probabilities"
    assert rep.facts["pred_rate_last"] < 0.05  # read at 0.5, not as logits > 0 (which would be every label)
    soft = Monitor(4)
    soft.update(loss=0.4, outputs=torch.softmax(torch.randn(64, 4, generator=g), 1), targets=y)
    assert soft.outputs_form == "softmax"
    logits = Monitor(4)
    logits.update(loss=0.4, outputs=torch.randn(64, 4, generator=g), targets=y)
    assert logits.outputs_form == "logits"


def _softmax_run(targets: torch.Tensor, logits: torch.Tensor) -> Monitor:
    mon = Monitor(10, loss="softmax")
    for i in range(40):
        mon.update(loss=torch.tensor(2.3 * 0.97**i), outputs=logits, targets=targets)
    return mon


def test_no_pred_rate_collapse_for_a_single_label_softmax():
    # 10 classes, one per row: early on no class probability passes 0.5, but the argmax predicts
    g = torch.Generator().manual_seed(0)
    classes = torch.randint(0, 10, (64,), generator=g)
    logits = torch.randn(64, 10, generator=g) * 0.1
    one_hot = torch.nn.functional.one_hot(classes, 10).float()
    assert "PRED_RATE_COLLAPSE" not in _softmax_run(one_hot, logits).report()
    # a softmax on multi-hot targets (two positives per row) is still judged at 0.5
    multi = one_hot.clone()
    multi[torch.arange(64), (classes + 1) % 10] = 1
    assert "PRED_RATE_COLLAPSE" in _softmax_run(multi, logits).report()
