"""The tests, evidence and preconditions of notebook 07's claims, gathered from its runs, so that each
claim in the notebook is one short ``ledger.claim(id, text, **claims[id])`` call.

Each section function returns ``{claim id: {"holds": ..., "evidence": ..., "applies": ..., "why_not": ...}}``
for :meth:`helpers.claims.Ledger.claim`. The tests are the ones the claims were registered with (the
notebook's text states each); ``holds`` is a callable where it may only be evaluated when the claim
applies. ``runs`` maps a run's name to its :class:`helpers.mistakes.LoopResult` (``"correct"`` among
them). The evidence gatherers :func:`compare_runs`, :func:`start_and_end` and :func:`bias_evidence`
return the numbers a claim is judged on. Nothing here trains or reads files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from helpers.mistakes import LoopResult, at_epoch

MIN_STEPS = 80  # claims about what training reaches need at least 80 optimizer steps (5 epochs of the default size)


@dataclass(frozen=True)
class Scope:
    """What the claims' preconditions read: the data's name (the margins of some claims are set for the
    book's digit scenes; other data gets generic checks) and the optimizer steps of every run."""

    data: str
    steps: int

    @property
    def scenes(self) -> bool:
        return self.data == "scenes"

    @property
    def learns(self) -> bool:
        return self.steps >= MIN_STEPS


def _last(runs: dict, name: str, column: str) -> float:
    """The value of ``column`` at the last epoch of run ``name``."""
    return float(runs[name].history[column].iloc[-1])


# --------------------------------------------------------------------------------------------------
# Evidence gatherers: each returns the numbers a claim is judged on


def compare_runs(a: LoopResult, b: LoopResult, columns=("val_macro_f1", "val_map", "train_loss"),
                 epoch: int | None = None) -> dict:
    """Evidence for a claim comparing run ``a`` with run ``b`` (often the correct one) at the same epoch
    (the last when ``None``): each column for both, keys ``<column>`` and ``<column>_ref``."""
    out = {}
    for c in columns:
        out[c], out[f"{c}_ref"] = at_epoch(a.history, c, epoch), at_epoch(b.history, c, epoch)
    return out


def start_and_end(a: LoopResult, b: LoopResult) -> dict:
    """Run ``a`` against ``b`` at both ends: first-epoch ``train_loss``/``val_macro_f1`` (keys ``<column>``,
    ``<column>_ref``) and the last epoch's ``val_macro_f1_last`` / ``correct_val_macro_f1_last``."""
    return compare_runs(a, b, ("train_loss", "val_macro_f1"), epoch=1) | {
        "val_macro_f1_last": at_epoch(a.history, "val_macro_f1"), "correct_val_macro_f1_last": at_epoch(b.history, "val_macro_f1")}


def bias_evidence(default: LoopResult, prior: LoopResult, Y_train: np.ndarray, early_epochs: int) -> dict:
    """What the bias-initialisation claims are judged on, one dict per claim: ``start`` (the first mini-batch
    loss of each run, ``first_loss_correct`` / ``first_loss_prior_bias``, and ``prior_loss``, the prior
    predictor's loss: the mean binary entropy of the labels' training frequencies), ``early`` (the mean
    validation micro-F1 over the first ``early_epochs`` epochs, and the epochs predicting (almost) nothing,
    predicted-positive rate below 0.01) and ``gain`` (the prior run's micro-F1 gain, ``early`` and ``final``)."""
    p = torch.as_tensor(np.asarray(Y_train)).float().mean(0).clamp(1e-4, 1 - 1e-4).numpy()
    first = {k: float(r.steps["loss"].iloc[0]) for k, r in (("correct", default), ("prior_bias", prior))}
    early = {k: float(r.history["val_micro_f1"].iloc[:early_epochs].mean()) for k, r in (("default", default),
                                                                                      ("prior", prior))}
    zero = {k: int((r.history["val_pred_pos_rate"] < 0.01).sum()) for k, r in (("default", default), ("prior", prior))}
    return {"start": {f"first_loss_{k}": v for k, v in first.items()}
            | {"prior_loss": float(-(p * np.log(p) + (1 - p) * np.log(1 - p)).mean())},
            "early": {f"early_micro_f1_{k}": v for k, v in early.items()} | {f"zero_epochs_{k}": v for k, v in zero.items()},
            "gain": {"early": early["prior"] - early["default"],
                     "final": at_epoch(prior.history, "val_micro_f1") - at_epoch(default.history, "val_micro_f1")},
            "mean_frequency": float(p.mean())}


# --------------------------------------------------------------------------------------------------
# The claims, one function per section of notebook 07


def correct(runs: dict, freq_map: float, scope: Scope) -> dict:
    """The correct run; ``freq_map`` the validation mAP of the label frequencies used as scores."""
    h = runs["correct"].history
    ev = {"train_loss_first": h["train_loss"].iloc[0], "train_loss_last": _last(runs, "correct", "train_loss"),
          "val_map_last": _last(runs, "correct", "val_map"), "val_map_label_frequencies": freq_map}
    return {
        "correct_run_learns": dict(
            holds=_last(runs, "correct", "train_loss") < h["train_loss"].iloc[0] and _last(runs, "correct", "val_map") > freq_map,
            evidence=ev),
        "correct_run_halves_loss": dict(
            holds=_last(runs, "correct", "train_loss") < 0.5 * h["train_loss"].iloc[0], evidence=ev,
            applies=scope.scenes and scope.learns,
            why_not=f"the margin is set for the scenes with at least 80 training steps; data is {scope.data}, "
                    f"{scope.steps} steps"),
    }


def learning_rate(runs: dict, lr: float, lr_factor: float, target: float, slow_reached: int | None, mid: int,
                  slow_epochs: int, suggested: dict, diverged_at: float | None, scope: Scope) -> dict:
    """The learning-rate section: the runs at ``lr`` times and divided by ``lr_factor``, the longer slow run
    (``slow_reached``: the epoch it reached ``target``, the correct run's score at epoch ``mid``), and the
    range test's readings ``suggested`` (:func:`helpers.mistakes.suggest_lr`)."""
    up, down = f"lr x{lr_factor:g}", f"lr /{lr_factor:g}"
    scale = scope.scenes and scope.learns and lr_factor >= 5  # margins set for the scenes, enough steps, a factor >= 5
    why_scale = (f"margin set for the scenes, at least 80 steps and a factor of at least 5 (data {scope.data}, "
                 f"{scope.steps} steps)")
    slow_ev, fast_ev = compare_runs(runs[down], runs["correct"]), start_and_end(runs[up], runs["correct"])
    range_ev = {**suggested, "diverged_at": diverged_at, "lr_up": lr * lr_factor, "val_macro_f1_up": _last(runs, up, "val_macro_f1"),
                "val_macro_f1_correct": _last(runs, "correct", "val_macro_f1")}
    return {
        "lr_too_small_behind_at_equal_budget": dict(
            evidence=slow_ev, holds=slow_ev["val_macro_f1"] < slow_ev["val_macro_f1_ref"] - 0.2
            and slow_ev["train_loss"] > slow_ev["train_loss_ref"], applies=scale, why_not=why_scale),
        "lr_too_small_is_slower_not_broken": dict(
            holds=slow_reached is not None,
            evidence={"target": target, "epoch_reached": slow_reached, "correct_epoch": mid, "slow_epochs": slow_epochs},
            applies=scale, why_not=why_scale),
        "lr_too_large_starts_badly": dict(
            evidence=fast_ev, holds=fast_ev["train_loss"] > fast_ev["train_loss_ref"]
            and fast_ev["val_macro_f1_last"] < fast_ev["correct_val_macro_f1_last"], applies=scale, why_not=why_scale),
        "range_test_tenth_rule_overshoots": dict(
            evidence=range_ev, holds=range_ev["min_loss_over_10"] >= lr * lr_factor
            and range_ev["val_macro_f1_up"] < range_ev["val_macro_f1_correct"], applies=scale, why_not=why_scale),
    }


def bias_init(bias: dict, rate1: float, true_rate: float, scope: Scope) -> dict:
    """The bias-initialisation section: ``bias`` from :func:`bias_evidence`; ``rate1`` the default run's
    validation predicted-positive rate at epoch 1, ``true_rate`` the validation labels' rate."""
    sparse = bias["mean_frequency"] < 0.35  # labels present in well under half the examples: the case the prior bias is for
    s, early_f1 = bias["start"], bias["early"]
    return {
        "default_bias_underpredicts_at_first": dict(
            holds=rate1 < true_rate,
            evidence={"val_pred_pos_rate_epoch1": rate1, "true_rate": true_rate, "below_1pct": rate1 < 0.01}),
        "prior_bias_starts_at_prior_loss": dict(
            evidence=s, applies=sparse,
            holds=abs(s["first_loss_prior_bias"] - s["prior_loss"]) < 0.1 and s["first_loss_prior_bias"] < s["first_loss_correct"],
            why_not="labels are not sparse here (mean frequency >= 0.35)"),
        "prior_bias_raises_early_f1": dict(
            holds=early_f1["early_micro_f1_prior"] > early_f1["early_micro_f1_default"] + 0.05, evidence=early_f1,
            applies=sparse and scope.scenes and scope.learns, why_not="margin set for the sparse digit scenes, at least 80 steps"),
        "prior_bias_gain_is_speed": dict(
            evidence=bias["gain"], holds=bias["gain"]["final"] < bias["gain"]["early"],
            applies=sparse and scope.scenes and scope.learns, why_not="set for the sparse digit scenes, at least 80 steps"),
    }


def eval_mode(runs: dict, bn: list, bn_untouched: bool, eval_codes: list, fixed_codes: list, scope: Scope) -> dict:
    """The eval-mode section: ``bn`` the batch-norm layers of the run trained in eval mode, ``eval_codes`` /
    ``fixed_codes`` check_setup's codes before and after ``model.train()``."""
    return {
        "eval_mode_freezes_batchnorm_statistics": dict(
            holds=bn_untouched, evidence={"batchnorm_layers": len(bn)}, applies=bool(bn), why_not="the model has no batch norm"),
        "eval_mode_trains_worse": dict(
            holds=_last(runs, "eval mode", "val_macro_f1") < _last(runs, "correct", "val_macro_f1") - 0.03,
            evidence={"macro_f1": _last(runs, "eval mode", "val_macro_f1"),
                      "correct_macro_f1": _last(runs, "correct", "val_macro_f1")},
            applies=bool(bn) and scope.scenes and scope.learns, why_not="margin set for the scenes' CNN with batch norm, 80+ steps"),
        "check_setup_sees_eval_mode": dict(holds="MODEL_IN_EVAL" in eval_codes, evidence={"codes": eval_codes}),
        "check_setup_quiet_after_train_call": dict(holds="MODEL_IN_EVAL" not in fixed_codes, evidence={"codes": fixed_codes}),
    }


def zero_grad(runs: dict, growth: dict, scope: Scope) -> dict:
    """The zero_grad section: ``growth`` each run's gradient norm, last epoch over first."""
    return {
        "no_zero_grad_gradients_grow": dict(
            holds=growth["no zero_grad"] > 3 and growth["correct"] < 1,
            evidence={"growth_no_zero_grad": growth["no zero_grad"], "growth_correct": growth["correct"]},
            applies=scope.learns, why_not=f"growth over a run needs at least 80 steps ({scope.steps} here)"),
        "no_zero_grad_trains_worse": dict(
            holds=_last(runs, "no zero_grad", "val_macro_f1") < _last(runs, "correct", "val_macro_f1") - 0.2,
            evidence={"macro_f1": _last(runs, "no zero_grad", "val_macro_f1"),
                      "correct_macro_f1": _last(runs, "correct", "val_macro_f1")},
            applies=scope.scenes and scope.learns, why_not="margin set for the scenes, at least 80 steps"),
    }


def optimizer(runs: dict, unchanged: bool, stale_codes: list, scope: Scope) -> dict:
    """The optimizer section: ``unchanged`` whether every weight of the stale run equals its initial value,
    ``stale_codes`` check_setup's codes for the stale optimizer."""
    flat = runs["stale parameters"].history["train_loss"]
    return {
        "stale_optimizer_never_moves_the_model": dict(
            holds=unchanged and abs(flat.iloc[-1] - flat.iloc[0]) < 0.05 * flat.iloc[0],
            evidence={"weights_unchanged": unchanged, "train_loss_first": flat.iloc[0], "train_loss_last": flat.iloc[-1]}),
        "head_only_trains_worse": dict(
            holds=_last(runs, "head only", "val_macro_f1") < _last(runs, "correct", "val_macro_f1") - 0.05,
            evidence={"macro_f1": _last(runs, "head only", "val_macro_f1"),
                      "correct_macro_f1": _last(runs, "correct", "val_macro_f1")},
            applies=scope.scenes and scope.learns, why_not="margin set for the scenes' CNN, at least 80 steps"),
        "check_setup_sees_stale_optimizer": dict(
            holds=bool({"OPTIMIZER_PARAMS", "NO_LEARNING"} & set(stale_codes)), evidence={"codes": stale_codes}),
    }


def inputs(runs: dict, norm_table, scale: float, kind: str, scope: Scope) -> dict:
    """The unnormalised-inputs section: ``norm_table`` the runs' first loss, first gradient norm and last
    macro-F1; ``scale`` the largest unnormalised input; ``kind`` the data's kind (``"image"`` for the CNN)."""
    far = scale > 10  # the unnormalised inputs are far from unit scale
    return {
        "unnormalised_inputs_blow_up_mlp_start": dict(
            holds=norm_table.loc["MLP unnormalised", "first mini-batch loss"] > norm_table.loc["MLP", "first mini-batch loss"]
            and norm_table.loc["MLP unnormalised", "grad norm, epoch 1"] > 3 * norm_table.loc["MLP", "grad norm, epoch 1"],
            evidence=norm_table.loc[["MLP", "MLP unnormalised"]].to_dict(orient="index"),
            applies=far, why_not=f"the raw inputs are already near unit scale (largest {scale:.3g})"),
        "batchnorm_absorbs_input_scale": dict(
            holds=abs(_last(runs, "unnormalised", "val_macro_f1") - _last(runs, "correct", "val_macro_f1")) < 0.05,
            evidence={"macro_f1": _last(runs, "unnormalised", "val_macro_f1"),
                      "correct_macro_f1": _last(runs, "correct", "val_macro_f1")},
            applies=far and kind == "image" and scope.learns,
            why_not="only the image CNN has batch norm after its first layer; at least 80 steps"),
        "unnormalised_inputs_hurt_mlp": dict(
            holds=_last(runs, "MLP unnormalised", "val_macro_f1") < _last(runs, "MLP", "val_macro_f1") - 0.02,
            evidence={"macro_f1": _last(runs, "MLP unnormalised", "val_macro_f1"),
                      "normalised_macro_f1": _last(runs, "MLP", "val_macro_f1")},
            applies=far and scope.scenes and scope.learns, why_not="margin set for the scenes' 0-255 pixels, at least 80 steps"),
    }


def weight_decay(runs: dict, Y_val: np.ndarray, big_weight_decay: float, sgd_weight_decay: float, scope: Scope) -> dict:
    """The weight-decay section: the runs at an SGD recipe's value and at a far too large one."""
    big, sgd = "weight decay far too large", "weight decay (SGD value)"
    return {
        "big_weight_decay_zeroes_f1": dict(
            holds=_last(runs, big, "val_macro_f1") < _last(runs, "correct", "val_macro_f1") - 0.3
            and _last(runs, big, "val_pred_pos_rate") < 0.5 * float(Y_val.mean()),
            evidence={"macro_f1": _last(runs, big, "val_macro_f1"), "correct_macro_f1": _last(runs, "correct", "val_macro_f1"),
                      "pred_pos_rate": _last(runs, big, "val_pred_pos_rate"), "true_pos_rate": float(Y_val.mean())},
            applies=scope.scenes and scope.learns and big_weight_decay >= 0.05,
            why_not="margin set for the scenes, 80+ steps, weight decay >= 0.05"),
        "big_weight_decay_keeps_ranking": dict(
            holds=_last(runs, big, "val_map") > _last(runs, "correct", "val_map") - 0.1,
            evidence={"map": _last(runs, big, "val_map"), "correct_map": _last(runs, "correct", "val_map")},
            applies=scope.scenes and scope.learns and big_weight_decay >= 0.05,
            why_not="margin set for the scenes, 80+ steps, weight decay >= 0.05"),
        "sgd_weight_decay_harmless_here": dict(
            holds=abs(_last(runs, sgd, "val_macro_f1") - _last(runs, "correct", "val_macro_f1")) < 0.05,
            evidence={"macro_f1": _last(runs, sgd, "val_macro_f1"), "correct_macro_f1": _last(runs, "correct", "val_macro_f1")},
            applies=scope.scenes and scope.learns and sgd_weight_decay <= 1e-3,
            why_not="margin set for the scenes, 80+ steps, weight decay <= 1e-3"),
    }


def stopping(h, few_epochs: int, n_epochs: int, disagree, loss_minus_f1, scope: Scope) -> dict:
    """The epochs section: ``h`` the correct run's history indexed by epoch; ``disagree`` the runs whose
    validation loss and validation macro-F1 pick different epochs, ``loss_minus_f1`` their test macro-F1
    differences (loss pick minus F1 pick)."""
    few = h.loc[few_epochs]
    return {
        "too_few_epochs_far_below_final": dict(
            holds=few["test_macro_f1"] < h["test_macro_f1"].iloc[-1] - 0.3,
            evidence={"test_macro_f1_few": few["test_macro_f1"], "test_macro_f1_final": h["test_macro_f1"].iloc[-1],
                      "val_loss_drop_last_epoch": (h["val_loss"].loc[few_epochs - 1] - few["val_loss"]
                                                   if few_epochs > 1 else None)},  # one epoch: nothing before it
            applies=scope.scenes and few_epochs <= 3 and n_epochs >= 8, why_not="set for the scenes, few_epochs <= 3, epochs >= 8"),
        "select_on_the_reported_metric": dict(
            holds=lambda: loss_minus_f1.mean() <= 0.01,
            evidence={"runs_disagreeing": list(disagree.index), "mean_difference": loss_minus_f1.mean() if len(disagree) else None},
            applies=len(disagree) > 0 and scope.learns,
            why_not=f"every run's loss and macro-F1 picks coincide here, or fewer than 80 steps ({scope.steps})"),
    }


def autocast(tries: dict, amp_rows, pinned_from: float | None, device_type: str) -> dict:
    """The autocast section: ``tries`` :func:`helpers.mistakes.autocast_loss` per loss, ``amp_rows`` their
    losses per logit, ``pinned_from`` the logit from which BCELoss sits at its clamp (``None`` when refused)."""
    return {
        "bce_refused_under_cuda_autocast": dict(
            holds=lambda: not tries["bce"]["ok"] and "unsafe to autocast" in tries["bce"]["error"],
            evidence={"error": tries["bce"].get("error")},
            applies=device_type == "cuda", why_not="needs a CUDA device; on the CPU autocast runs BCELoss in float32"),
        "bce_under_cpu_autocast_saturates_early": dict(
            holds=lambda: pinned_from < 10 and np.allclose(amp_rows.loc[amp_rows["logit"] >= 10, "bce_with_logits"],
                                                           amp_rows.loc[amp_rows["logit"] >= 10, "logit"], rtol=0.01),
            evidence={"pinned_from_logit": pinned_from if tries["bce"]["ok"] else None},
            applies=tries["bce"]["ok"], why_not="BCELoss was refused under autocast on this device"),
        "bce_with_logits_autocast_safe": dict(
            holds=tries["bce_with_logits"]["ok"] and tries["bce_with_logits"]["dtype"] == "float32",
            evidence={"dtype": tries["bce_with_logits"].get("dtype")}),
    }


def sorted_loader(runs: dict, scope: Scope) -> dict:
    """The sorted-loader section: the run trained on label-sorted batches without shuffling."""
    name = "sorted, not shuffled"
    return {"sorted_loader_trains_worse": dict(
        holds=_last(runs, name, "val_macro_f1") < _last(runs, "correct", "val_macro_f1") - 0.05,
        evidence=compare_runs(runs[name], runs["correct"], ("val_macro_f1", "val_map")),
        applies=scope.scenes and scope.learns, why_not="margin set for the scenes, at least 80 steps")}


def monitor(mon_codes: dict) -> dict:
    """The monitor section: ``mon_codes`` each run's monitor warnings and errors."""
    return {"monitor_quiet_on_correct_run": dict(holds=not mon_codes["correct"], evidence={"codes": mon_codes["correct"]})}
