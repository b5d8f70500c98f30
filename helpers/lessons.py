"""What notebooks 01-04 need and no other notebook does: claims with their preconditions in one call,
parameter rules for their list parameters, and the evidence their claims are judged on.

A claim's preconditions follow from what it means (enough epochs or rows to learn, the data it is
about, both setups of a comparison), so they are declared with it, before any run judges it::

    needs = lessons.unmet((SCENES, "the margins are set for the digit scenes"),
                          (epochs >= 10, f"epochs={epochs}: a claim about what training learns needs 10 or more"))
    lessons.claim(ledger, "bce_learns_scenes", "BCE on logits learns the scenes: ...",
                  lambda: test["micro_f1"] > 0.75, lambda: {"micro_f1": test["micro_f1"]}, unmet=needs)

Under other parameters the claim is recorded "not applicable" with the first unmet reason, and
neither its test nor its evidence is evaluated. The evidence gatherers below keep the notebooks'
cells about their lesson: each returns the numbers a claim is judged on and the notebook prints.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from helpers import losses, params, results

ARTICLE = '"Why isn\'t my PyTorch multi-label classification network training?" (2025-01-30)'
"""The popular article the book answers; its snippets are quoted in notebooks 02 and 04."""


# ------------------------------------------------------------------------------------------------
# Claims with declared preconditions
# ------------------------------------------------------------------------------------------------
def unmet(*conditions: tuple[bool, str]) -> str:
    """The reason of the first ``(holds, reason)`` precondition that does not hold; ``""`` when all hold."""
    return next((reason for ok, reason in conditions if not ok), "")


def claim(ledger: Any, id: str, text: str, test: bool | Callable[[], bool],
          evidence: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None, *, unmet: str = "") -> None:
    """One claim: not applicable with reason ``unmet`` when that is non-empty, else judged by ``test``.

    ``test`` and ``evidence`` may be callables; they are evaluated only when the claim applies (so they
    may use results that exist only then)."""
    applies = not unmet
    ev = (evidence() if callable(evidence) else evidence) if applies else {}
    ledger.claim(id, text, test, applies=applies, why_not=unmet, evidence=ev or {})


# ------------------------------------------------------------------------------------------------
# Parameter rules the four notebooks need beyond helpers.params
# ------------------------------------------------------------------------------------------------
def int_list(min: int, max: int) -> params.Rule:
    """A non-empty list of distinct whole numbers within ``[min, max]``."""
    def rule(name: str, value: Any) -> None:
        __tracebackhide__ = True
        ok = isinstance(value, list | tuple) and len(value) > 0 and len(set(value)) == len(value) and all(
            isinstance(v, int) and not isinstance(v, bool) and min <= v <= max for v in value)
        if not ok:
            params.fail(name, value, f"give a list of distinct whole numbers from {min} to {max}, e.g. [1, 2, 3]")
    return rule


def trainable_losses() -> list[str]:
    """Names of the loss setups that train (those that raise at the first step are shown apart)."""
    return [name for name, s in losses.LOSSES.items() if not s.raises]


def pos_weight_setups() -> list[str]:
    """Every setup notebook 04 can train: each trainable loss, and ``loss+strategy`` where it takes ``pos_weight``."""
    names = trainable_losses()
    return names + [losses.setup_name(n, s) for n in names if losses.LOSSES[n].accepts_pos_weight
                    for s in losses.POS_WEIGHT_STRATEGIES if s != "none"]


# ------------------------------------------------------------------------------------------------
# 02: the double sigmoid
# ------------------------------------------------------------------------------------------------
def double_sigmoid_mechanism(history: pd.DataFrame, direct: np.ndarray, loss_view: np.ndarray,
                             y_train: np.ndarray) -> dict[str, float]:
    """The numbers behind the double sigmoid's collapse, from its run.

    ``direct`` is ``model(x)`` (the model's own sigmoid), ``loss_view`` what the loss reads,
    ``sigmoid(model(x))``, confined to ``[0.5, sigmoid(1)]``. With a label present in a fraction
    ``p < 0.5`` of the rows, the best constant prediction in that range is its bottom, 0.5, at loss
    ln 2, and a model that separated positives (``model(x) = 1``) from negatives (``0``) perfectly
    would reach ``p * -log(sigmoid(1)) + (1 - p) * ln 2``, below ln 2. Returned: the training loss at
    the first and last epoch, the two ranges, the mean label frequency, and both reference losses."""
    p = y_train.mean(axis=0)
    top = 1 / (1 + math.exp(-1))
    q = np.clip(p, 0.5, top)  # the best constant prediction the range allows
    best_constant = -(p * np.log(q) + (1 - p) * np.log(1 - q))
    return {
        "loss_first_epoch": float(history["train_loss"].iloc[0]),
        "loss_last_epoch": float(history["train_loss"].iloc[-1]),
        "ln2": math.log(2),
        "loss_view_min": float(loss_view.min()), "loss_view_max": float(loss_view.max()),
        "range_top": top,
        "model_x_min": float(direct.min()), "model_x_max": float(direct.max()),
        "label_frequency": float(p.mean()),
        "best_constant_loss": float(best_constant.mean()),
        "perfect_separation_loss": float(np.mean(-(p * math.log(top)) + (1 - p) * math.log(2))),
    }


# ------------------------------------------------------------------------------------------------
# 03: where BCELoss(sigmoid(x)) parts from BCEWithLogitsLoss
# ------------------------------------------------------------------------------------------------
def stability_points(stab: pd.DataFrame) -> dict[str, float]:
    """For target 0 on the grid of ``losses.stability_table``: the first logit where float32
    ``sigmoid(x)`` rounds to exactly 1, the first logit where ``BCELoss(sigmoid(x))`` is more than
    1% off the exact loss, the smallest gradient from logit 5 up to the rounding point (``sigmoid(x)``
    is within 1% of 1 there, so the exact gradient is about 1), the largest gradient from the rounding
    point on; for target 1, the largest logit below which the gradient stays under 0.01 in size; and
    the three checks notebook 03 claims (``pinned_from_20``, ``zero_only_once_sigmoid_is_1``,
    ``vanishes_below_minus_50``)."""
    t0 = stab[stab["target"] == 0.0].sort_values("logit")
    x0 = torch.tensor(t0["logit"].to_numpy(dtype=np.float32))
    rounds = t0["logit"][(torch.sigmoid(x0) == 1.0).numpy()]
    sig_one = float(rounds.min()) if len(rounds) else float("nan")
    off = ~np.isclose(t0["loss_bce_of_sigmoid"], t0["loss_with_logits"], rtol=0.01, atol=0.01)
    before = t0[(t0["logit"] >= 5) & (t0["logit"] < sig_one)]["grad_bce_of_sigmoid"]
    after = t0[t0["logit"] >= sig_one]["grad_bce_of_sigmoid"]
    t1 = stab[stab["target"] == 1.0].sort_values("logit")
    small = (t1["grad_bce_of_sigmoid"].abs() < 0.01).to_numpy()
    n_low = int(np.argmin(small)) if not small.all() else len(small)  # leading run of small gradients from -100 up
    big0, low1 = t0[t0["logit"] >= 20], t1[t1["logit"] <= -50]
    pts = {
        "sigmoid_rounds_to_1_at": sig_one,
        "first_off_by_1pct": float(t0["logit"][off].min()),
        "min_grad_from_5_to_rounding": float(before.min()) if len(before) else float("nan"),
        "max_grad_after_rounding": float(after.abs().max()) if len(after) else float("nan"),
        "gradient_gone_below": float(t1["logit"].iloc[n_low - 1]) if n_low else float("nan"),
        # target 0, logit >= 20: BCELoss(sigmoid) pinned at its clamp with gradient 0, the logits loss exact with gradient 1
        "pinned_from_20": bool((big0["loss_bce_of_sigmoid"] == 100.0).all() and (big0["grad_bce_of_sigmoid"] == 0.0).all()
                               and np.allclose(big0["loss_with_logits"], big0["logit"])
                               and (big0["grad_with_logits"] == 1.0).all()),
        # target 1, logit <= -50: BCELoss(sigmoid)'s gradient below 1e-6 in size, the logits loss keeps -1
        "vanishes_below_minus_50": bool((low1["grad_bce_of_sigmoid"].abs() < 1e-6).all()
                                        and (low1["grad_with_logits"] == -1.0).all()),
    }
    pts["zero_only_once_sigmoid_is_1"] = bool(15 < sig_one < 18 and pts["min_grad_from_5_to_rounding"] > 0.99
                                              and pts["max_grad_after_rounding"] == 0)
    return pts


# ------------------------------------------------------------------------------------------------
# 04: what reweighting moves, and what the GPU run measured
# ------------------------------------------------------------------------------------------------
def rate_by_weight(p_test: Mapping[str, np.ndarray], weight: np.ndarray, label_names: Sequence[str], plain: str,
                   weighted: str) -> pd.DataFrame:
    """Predicted-positive rate at 0.5 per label (``p >= 0.5``, as ``metrics.evaluate`` predicts), plain vs
    weighted, beside the label's ``pos_weight``.

    A weight above 1 raises a label's probabilities, one below 1 (the frequent labels under
    ``neg_over_pos``) lowers them; pooled over all labels the two can cancel."""
    return pd.DataFrame({"pos_weight": np.asarray(weight, dtype=float),
                         **{f"rate {k}": (np.asarray(p_test[k]) >= 0.5).mean(axis=0) for k in (plain, weighted)}},
                        index=list(label_names))


def gpu_run(stem: str, earlier: str | None = None) -> dict[str, Any]:
    """A notebook's record from ``evidence/gpu_check`` (``earlier``: a file of its ``earlier/`` tries)."""
    folder = results.repo_root() / "evidence" / "gpu_check"
    path = folder / "earlier" / earlier if earlier else folder / f"{stem}.metrics.json"
    return json.loads(path.read_text(encoding="utf-8"))


def claim_evidence(record: Mapping[str, Any], claim_id: str) -> dict[str, Any]:
    """The evidence a record's claim ``claim_id`` was judged on (``{}`` when it has none)."""
    return next((dict(c.get("evidence") or {}) for c in record.get("claims", []) if c["id"] == claim_id), {})


def tuned_vs_half(at_half: Mapping[str, Mapping[str, Any]], tuned: Mapping[str, Mapping[str, Any]],
                  plain: str, weighted: str) -> dict[str, float]:
    """Macro-F1 gain of ``weighted`` over ``plain`` at 0.5 and with tuned thresholds, and the mAP gain."""
    return {"gain_at_half": at_half[weighted]["macro_f1"] - at_half[plain]["macro_f1"],
            "gain_tuned": tuned[weighted]["macro_f1"] - tuned[plain]["macro_f1"],
            "map_gain": at_half[weighted]["map"] - at_half[plain]["map"]}


def record_gains(record: Mapping[str, Any], plain: str, weighted: str) -> dict[str, float]:
    """:func:`tuned_vs_half` from a committed record's ``results`` list."""
    by = {(r["setup"], r.get("threshold")): r for r in record["results"]}
    half = {k: by[(k, "0.5")] for k in (plain, weighted)}
    return tuned_vs_half(half, {k: by[(k, "tuned")] for k in (plain, weighted)}, plain, weighted)


def first_true(flags: Sequence[bool]) -> int | None:
    """Index of the first true flag, ``None`` when there is none."""
    return next((i for i, f in enumerate(flags) if f), None)
