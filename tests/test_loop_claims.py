"""helpers.loop_claims: notebook 07's claim tests, scopes and evidence, on hand-made histories, and its
evidence gatherers on short runs of the hand-written loop."""

import copy
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from helpers import data, loop_claims, mistakes, models

SCENES = loop_claims.Scope("scenes", 160)


def _run(**columns):
    """A run-like object whose history holds ``columns`` (lists, one value per epoch)."""
    n = len(next(iter(columns.values())))
    return SimpleNamespace(history=pd.DataFrame({"epoch": range(1, n + 1), **columns}))


def test_scope_reads_the_data_and_the_steps():
    assert SCENES.scenes and SCENES.learns
    assert not loop_claims.Scope("yeast", 160).scenes
    assert not loop_claims.Scope("scenes", loop_claims.MIN_STEPS - 1).learns


def test_correct_run_claims():
    good = {"correct": _run(train_loss=[0.7, 0.3], val_map=[0.5, 0.8])}
    c = loop_claims.correct(good, freq_map=0.3, scope=SCENES)
    assert c["correct_run_learns"]["holds"] and c["correct_run_halves_loss"]["holds"]
    assert c["correct_run_learns"]["evidence"]["train_loss_last"] == 0.3
    flat = loop_claims.correct({"correct": _run(train_loss=[0.7, 0.5], val_map=[0.5, 0.8])}, 0.3, SCENES)
    assert flat["correct_run_learns"]["holds"] and not flat["correct_run_halves_loss"]["holds"]
    assert not loop_claims.correct(good, freq_map=0.9, scope=SCENES)["correct_run_learns"]["holds"]
    other = loop_claims.correct(good, 0.3, loop_claims.Scope("yeast", 40))["correct_run_halves_loss"]
    assert not other["applies"] and "data is yeast, 40 steps" in other["why_not"]


def _lr_runs(slow_f1):
    return {"correct": _run(train_loss=[0.6, 0.3], val_macro_f1=[0.5, 0.8], val_map=[0.7, 0.9]),
            "lr x10": _run(train_loss=[0.9, 0.5], val_macro_f1=[0.2, 0.6], val_map=[0.5, 0.8]),
            "lr /10": _run(train_loss=[0.68, 0.6], val_macro_f1=[0.1, slow_f1], val_map=[0.4, 0.6])}


def test_learning_rate_claims():
    suggested = {"steepest": 1e-3, "min_loss": 0.5, "min_loss_over_10": 0.05}
    c = loop_claims.learning_rate(_lr_runs(0.3), 3e-3, 10.0, 0.6, 12, 5, 30, suggested, None, SCENES)
    assert all(c[k]["holds"] and c[k]["applies"] for k in c)
    assert c["range_test_tenth_rule_overshoots"]["evidence"]["lr_up"] == pytest.approx(0.03)
    close = loop_claims.learning_rate(_lr_runs(0.7), 3e-3, 10.0, 0.6, None, 5, 30, suggested, None, SCENES)
    assert not close["lr_too_small_behind_at_equal_budget"]["holds"]  # within 0.2 of the correct run
    assert not close["lr_too_small_is_slower_not_broken"]["holds"]  # never reached the target
    factor = loop_claims.learning_rate({**_lr_runs(0.3), "lr x2": _lr_runs(0.3)["lr x10"],
                                        "lr /2": _lr_runs(0.3)["lr /10"]}, 3e-3, 2.0, 0.6, 12, 5, 30, suggested, None, SCENES)
    assert not any(v["applies"] for v in factor.values()) and "factor of at least 5" in factor["lr_too_large_starts_badly"]["why_not"]


def test_bias_init_claims_need_sparse_labels():
    bias = {"mean_frequency": 0.2, "start": {"first_loss_correct": 0.75, "first_loss_prior_bias": 0.5, "prior_loss": 0.48},
            "early": {"early_micro_f1_default": 0.1, "early_micro_f1_prior": 0.3}, "gain": {"early": 0.2, "final": 0.01}}
    c = loop_claims.bias_init(bias, rate1=0.0, true_rate=0.2, scope=SCENES)
    assert all(v["holds"] for v in c.values())
    assert c["prior_bias_starts_at_prior_loss"]["evidence"] is bias["start"]
    assert c["default_bias_underpredicts_at_first"]["evidence"]["below_1pct"]
    dense = loop_claims.bias_init({**bias, "mean_frequency": 0.5}, 0.0, 0.5, SCENES)
    assert not dense["prior_bias_starts_at_prior_loss"]["applies"] and dense["default_bias_underpredicts_at_first"].get("applies", True)
    slower = loop_claims.bias_init({**bias, "gain": {"early": 0.2, "final": 0.3}}, 0.3, 0.2, SCENES)
    assert not slower["prior_bias_gain_is_speed"]["holds"] and not slower["default_bias_underpredicts_at_first"]["holds"]


def test_stopping_claims_judge_only_disagreeing_runs():
    h = pd.DataFrame({"test_macro_f1": [0.2, 0.4, 0.6, 0.8], "val_loss": [0.6, 0.5, 0.4, 0.35]}, index=[1, 2, 3, 4])
    disagree = pd.DataFrame(index=["correct"])
    c = loop_claims.stopping(h, 2, 8, disagree, pd.Series([-0.02]), SCENES)
    assert c["too_few_epochs_far_below_final"]["holds"] and c["select_on_the_reported_metric"]["holds"]()
    assert c["too_few_epochs_far_below_final"]["evidence"]["val_loss_drop_last_epoch"] == pytest.approx(0.1)
    worse = loop_claims.stopping(h, 3, 8, disagree, pd.Series([0.05]), SCENES)
    assert not worse["too_few_epochs_far_below_final"]["holds"] and not worse["select_on_the_reported_metric"]["holds"]()
    none = loop_claims.stopping(h, 2, 8, pd.DataFrame(index=[]), pd.Series([], dtype=float), SCENES)
    assert not none["select_on_the_reported_metric"]["applies"]
    assert none["select_on_the_reported_metric"]["evidence"]["mean_difference"] is None
    one = loop_claims.stopping(h, 1, 8, disagree, pd.Series([-0.02]), SCENES)  # few_epochs=1: no earlier epoch
    assert one["too_few_epochs_far_below_final"]["evidence"]["val_loss_drop_last_epoch"] is None


def test_autocast_claims_follow_the_device():
    grid = np.linspace(-20, 20, 161)
    rows = pd.DataFrame({"logit": grid, "bce": np.minimum(np.log1p(np.exp(grid)), 100.0),
                         "bce_with_logits": np.log1p(np.exp(grid))})
    ok = {"bce": {"ok": True, "dtype": "float32"}, "bce_with_logits": {"ok": True, "dtype": "float32"}}
    cpu = loop_claims.autocast(ok, rows, 5.0, "cpu")
    assert not cpu["bce_refused_under_cuda_autocast"]["applies"] and cpu["bce_under_cpu_autocast_saturates_early"]["holds"]()
    assert not loop_claims.autocast(ok, rows, 12.0, "cpu")["bce_under_cpu_autocast_saturates_early"]["holds"]()
    refused = {"bce": {"ok": False, "error": "torch.nn.functional.binary_cross_entropy ... unsafe to autocast"},
               "bce_with_logits": {"ok": True, "dtype": "float32"}}
    cuda = loop_claims.autocast(refused, rows, None, "cuda")
    assert cuda["bce_refused_under_cuda_autocast"]["holds"]() and not cuda["bce_under_cpu_autocast_saturates_early"]["applies"]
    assert cuda["bce_under_cpu_autocast_saturates_early"]["evidence"] == {"pinned_from_logit": None}
    half = {**ok, "bce_with_logits": {"ok": True, "dtype": "bfloat16"}}
    assert not loop_claims.autocast(half, rows, 5.0, "cpu")["bce_with_logits_autocast_safe"]["holds"]


def test_inputs_claims_need_far_inputs():
    runs = {k: _run(val_macro_f1=[0.5, f1]) for k, f1 in (("correct", 0.8), ("unnormalised", 0.79), ("MLP", 0.6),
                                                          ("MLP unnormalised", 0.4))}
    table = pd.DataFrame({"first mini-batch loss": [0.7, 5.0], "grad norm, epoch 1": [1.0, 10.0]},
                         index=["MLP", "MLP unnormalised"])
    c = loop_claims.inputs(runs, table, 255.0, "image", SCENES)
    assert all(v["holds"] and v["applies"] for v in c.values())
    near = loop_claims.inputs(runs, table, 3.0, "image", SCENES)
    assert not any(v["applies"] for v in near.values())
    assert near["unnormalised_inputs_blow_up_mlp_start"]["why_not"] == "the raw inputs are already near unit scale (largest 3)"
    assert not loop_claims.inputs(runs, table, 255.0, "tabular", SCENES)["batchnorm_absorbs_input_scale"]["applies"]


def test_weight_decay_and_sorted_loader_claims():
    Y_val = np.zeros((10, 4))
    Y_val[:, 0] = 1  # true rate 0.25
    runs = {"correct": _run(val_macro_f1=[0.5, 0.8], val_map=[0.6, 0.9], val_pred_pos_rate=[0.1, 0.25]),
            "weight decay far too large": _run(val_macro_f1=[0.1, 0.2], val_map=[0.6, 0.85], val_pred_pos_rate=[0.0, 0.05]),
            "weight decay (SGD value)": _run(val_macro_f1=[0.5, 0.79], val_map=[0.6, 0.9], val_pred_pos_rate=[0.1, 0.25]),
            "sorted, not shuffled": _run(val_macro_f1=[0.3, 0.7], val_map=[0.5, 0.85], val_pred_pos_rate=[0.1, 0.2])}
    w = loop_claims.weight_decay(runs, Y_val, 0.1, 5e-4, SCENES)
    assert all(v["holds"] for v in w.values()) and w["big_weight_decay_zeroes_f1"]["evidence"]["true_pos_rate"] == 0.25
    assert not loop_claims.weight_decay(runs, Y_val, 0.01, 5e-4, SCENES)["big_weight_decay_zeroes_f1"]["applies"]
    s = loop_claims.sorted_loader(runs, SCENES)["sorted_loader_trains_worse"]
    assert s["holds"] and s["evidence"] == {"val_macro_f1": 0.7, "val_macro_f1_ref": 0.8, "val_map": 0.85, "val_map_ref": 0.9}
    assert not loop_claims.sorted_loader({**runs, "sorted, not shuffled": runs["weight decay (SGD value)"]},
                                         SCENES)["sorted_loader_trains_worse"]["holds"]


def test_code_claims():
    e = loop_claims.eval_mode({"correct": _run(val_macro_f1=[0.8]), "eval mode": _run(val_macro_f1=[0.6])}, [object()],
                              True, ["MODEL_IN_EVAL"], [], SCENES)
    assert all(v["holds"] for v in e.values()) and e["eval_mode_freezes_batchnorm_statistics"]["evidence"] == {"batchnorm_layers": 1}
    assert not loop_claims.eval_mode({"correct": _run(val_macro_f1=[0.8]), "eval mode": _run(val_macro_f1=[0.6])}, [],
                                     False, [], ["MODEL_IN_EVAL"], SCENES)["check_setup_quiet_after_train_call"]["holds"]
    runs = {"correct": _run(val_macro_f1=[0.5, 0.8]), "no zero_grad": _run(val_macro_f1=[0.2, 0.3]),
            "head only": _run(val_macro_f1=[0.4, 0.6]),
            "stale parameters": _run(train_loss=[0.70, 0.69], val_macro_f1=[0.1, 0.1])}
    z = loop_claims.zero_grad(runs, {"no zero_grad": 5.0, "correct": 0.5}, SCENES)
    assert all(v["holds"] for v in z.values())
    assert not loop_claims.zero_grad(runs, {"no zero_grad": 2.0, "correct": 0.5}, SCENES)["no_zero_grad_gradients_grow"]["holds"]
    o = loop_claims.optimizer(runs, True, ["NO_LEARNING"], SCENES)
    assert all(v["holds"] for v in o.values())
    assert not loop_claims.optimizer(runs, False, [], SCENES)["stale_optimizer_never_moves_the_model"]["holds"]
    assert loop_claims.monitor({"correct": []})["monitor_quiet_on_correct_run"]["holds"]
    assert not loop_claims.monitor({"correct": ["LOSS_AT_LN2"]})["monitor_quiet_on_correct_run"]["holds"]


@pytest.fixture(scope="module")
def tiny():
    return data.make_scenes(n_train=96, n_val=48, n_test=48, seed=1)


def _loop(tiny, **kw):
    init = models.build_model(tiny, seed=0)
    return mistakes.train_loop(copy.deepcopy(init), tiny, epochs=kw.pop("epochs", 2), batch_size=32, seed=0,
                               device="cpu", progress=False, **kw)


def test_evidence_gatherers(tiny):
    a = _loop(tiny, epochs=3, lr=3e-2)
    b = _loop(tiny, epochs=3)
    ev = loop_claims.compare_runs(b, a, columns=("train_loss",), epoch=1)
    assert ev == {"train_loss": float(b.history["train_loss"].iloc[0]),
                  "train_loss_ref": float(a.history["train_loss"].iloc[0])}
    ev = loop_claims.start_and_end(a, b)
    assert ev["train_loss"] == a.history["train_loss"].iloc[0] and ev["train_loss_ref"] == b.history["train_loss"].iloc[0]
    assert ev["val_macro_f1_last"] == a.history["val_macro_f1"].iloc[-1]
    assert ev["correct_val_macro_f1_last"] == b.history["val_macro_f1"].iloc[-1]
    prior = _loop(tiny, epochs=3, bias_init="prior")
    bias = loop_claims.bias_evidence(b, prior, tiny.Y_train, early_epochs=2)
    p = tiny.Y_train.mean(0)
    entropy = float(-(p * np.log(p) + (1 - p) * np.log(1 - p)).mean())
    assert bias["start"]["prior_loss"] == pytest.approx(entropy, abs=1e-5)
    assert bias["start"]["first_loss_prior_bias"] == prior.steps["loss"].iloc[0]
    assert bias["early"]["early_micro_f1_prior"] == pytest.approx(prior.history["val_micro_f1"].iloc[:2].mean())
    assert bias["gain"]["final"] == pytest.approx(prior.history["val_micro_f1"].iloc[-1] - b.history["val_micro_f1"].iloc[-1])
    assert bias["mean_frequency"] == pytest.approx(p.mean(), abs=1e-6)
