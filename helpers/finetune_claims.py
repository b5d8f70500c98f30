"""The tests, evidence and preconditions of notebook 10's claims, gathered from its results, so that each
claim in the notebook is one short ``ledger.claim(id, text, **claims[id])`` call.

Each function returns ``{claim id: {"holds": ..., "evidence": ..., "applies": ..., "why_not": ...}}`` for
:meth:`helpers.claims.Ledger.claim`. The tests and scopes are the ones the claims were declared with (the
notebook's text states each). A run's verdict is :func:`helpers.finetune.judge`'s dict (``map``,
``tuned_macro_f1``, ``val_map``, ...). Every claim about training applies only to a run long and large
enough to learn at all (:func:`learns`, :data:`WHY_NOT`). Nothing here trains or reads files.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

WHY_NOT = "needs pretrain_epochs >= 3, epochs >= 6 and n_train >= 500 to learn at all"


def learns(pretrain_epochs: int, epochs: int, n_train: int) -> bool:
    """Whether the run has enough epochs and rows to learn at all: the precondition of the claims."""
    return pretrain_epochs >= 3 and epochs >= 6 and n_train >= 500


def _claim(holds, evidence: Mapping, applies: bool, why_not: str = WHY_NOT) -> dict:
    return dict(holds=holds, evidence=evidence, applies=applies, why_not=why_not)


def pretraining(history: pd.DataFrame, learns: bool) -> dict:
    """Pretraining: ``history`` one row per epoch, with ``val_accuracy``."""
    return {"pretraining_learns": _claim(history["val_accuracy"].iloc[-1] >= 0.8, history.iloc[-1].to_dict(), learns)}


def versus_scratch(correct: Mapping, scratch: Mapping, learns: bool) -> dict:
    """The correct fine-tuning against the same network trained from scratch."""
    return {"finetuning_beats_scratch": _claim(
        correct["map"] > scratch["map"] and correct["tuned_macro_f1"] > scratch["tuned_macro_f1"],
        {"correct": correct, "from_scratch": scratch}, learns)}


def frozen_bn(bn_eval: Mapping, bn_train: Mapping, drift: Mapping, learns: bool) -> dict:
    """Section 1: the frozen backbone with batch norm in eval mode against left in train mode; ``drift``
    the relative change of the running statistics per run."""
    gap = bn_eval["tuned_macro_f1"] - bn_train["tuned_macro_f1"]
    return {"frozen_bn_drift_small_effect_here": _claim(
        abs(gap) < 0.03, {"bn_eval": bn_eval, "bn_train": bn_train, "drift": drift}, learns)}


def raw_inputs(correct: Mapping, raw: Mapping, learns: bool) -> dict:
    """Section 2: fully fine-tuned on normalised against unnormalised inputs."""
    return {"raw_inputs_absorbed_by_finetuning": _claim(
        abs(raw["tuned_macro_f1"] - correct["tuned_macro_f1"]) < 0.03, {"normalised": correct, "raw": raw}, learns)}


def one_lr(per_group: Mapping, one: Mapping, learns: bool, backbone_lr_factor: float) -> dict:
    """Section 3: the backbone at ``backbone_lr_factor`` times the head's lr against at the head's lr."""
    return {"one_lr_ahead_here": _claim(
        one["tuned_macro_f1"] > per_group["tuned_macro_f1"] and one["map"] > per_group["map"],
        {"per_group": per_group, "one_lr": one}, learns and backbone_lr_factor <= 0.2,
        WHY_NOT + ", and backbone_lr_factor <= 0.2")}


def validation_mode(eval_mode: Mapping, train_mode: Mapping, learns: bool, dropout: float) -> dict:
    """Section 5: the same weights read with ``model.eval()`` and without it."""
    return {"train_mode_validation_reads_lower": _claim(
        train_mode["val_map"] < eval_mode["val_map"] - 0.03
        and train_mode["tuned_macro_f1"] < eval_mode["tuned_macro_f1"] - 0.03,
        {"eval_mode": eval_mode, "train_mode": train_mode}, learns and dropout > 0, WHY_NOT + ", and dropout > 0")}


def monitor_quiet(codes: str) -> dict:
    """The monitor on the correct run: ``codes`` its warnings joined, ``"-"`` when none."""
    return {"monitor_quiet_on_correct_finetuning": _claim(codes == "-", {"codes": codes}, True, "")}
