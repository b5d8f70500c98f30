"""The tests, evidence and preconditions of notebook 12's claims, gathered from its table of runs
(:func:`helpers.causes.table`: one row per run, ``correct`` first), so that each claim in the notebook is one
short ``ledger.claim(id, text, **claims[id])`` call.

:func:`gather` returns ``{claim id: {"holds": ..., "evidence": ..., "applies": ..., "why_not": ...}}`` for
:meth:`helpers.claims.Ledger.claim`. The tests and scopes are the ones the claims were declared with
(notebook 12 states each), before the evidence set judged them at seeds 1-5. A claim about a cause applies
when that cause was run; a claim about what a broken run fails to learn applies only when the correct run
learns (:data:`LEARNS_MARGIN`); the inverted-weights claim only on long-tailed labels (:data:`LONG_TAIL_RATIO`).
Nothing here trains or reads files.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from helpers.diagnose.monitor import MIN_STEPS

LEARNS_MARGIN = 0.2  # the correct run learns: its test mAP exceeds the label density (a constant score's) by this
LONG_TAIL_RATIO = 10.0  # long-tailed: the most frequent label has at least 10 times the rarest one's training positives
EVERY_LABEL = 0.98  # "predicts every label": test predicted-positive rate at 0.5 above this (the front door's threshold)
NOTHING = 0.02  # "predicts nothing": below this
FLAT = 0.005  # "loss identical every epoch": last epoch's training loss within this of the first's
CAUSE_CODES = {"LOGITS_NONNEGATIVE", "POS_WEIGHT_INVALID", "POS_WEIGHT_INVERTED", "NO_LEARNING", "LEARNING_RATE",
               "NON_FINITE"}  # what check_setup names the causes here by; the correct run gets none of them
MONITOR_FLAT_STEPS = 2 * MIN_STEPS  # the monitor's LOSS_FLAT rule looks at no fewer steps
GAP = 0.02  # inverted weights: macro-F1 at 0.5 falls by at least this much more than micro-F1 does


def _codes(table: pd.DataFrame, run: str, column: str) -> list[str]:
    v = table.loc[run, column]
    return str(v).split() if isinstance(v, str) else []


def _no_ranking(table: pd.DataFrame, run: str, density: float) -> bool:
    """The run's test mAP is nearer a constant score's (the label density) than the correct run's."""
    return bool(table.loc[run, "mAP"] < (density + table.loc["correct", "mAP"]) / 2)


def gather(table: pd.DataFrame, Y_train: np.ndarray, long_table: pd.DataFrame | None = None,
           Y_long: np.ndarray | None = None, *, steps: int | None = None) -> dict:
    """Every claim of notebook 12 from its ``table`` (index: run names) and the training labels; the
    inverted-weights claim reads ``long_table`` and ``Y_long`` (the correct and the inverted run on long-tailed
    scenes; default: the main table and labels). ``steps``: the optimizer steps of each run (the monitor's
    ``LOSS_FLAT`` needs :data:`MONITOR_FLAT_STEPS` of them)."""
    ran = set(table.index)
    density = float(np.mean(Y_train))
    long_table = table if long_table is None else long_table
    pos = np.asarray(Y_train if Y_long is None else Y_long).sum(axis=0)
    ratio = float(pos.max() / max(pos.min(), 1))
    long_learns = bool(long_table.loc["correct", "mAP"] > float(np.mean(Y_train if Y_long is None else Y_long))
                       + LEARNS_MARGIN)
    learns = bool(table.loc["correct", "mAP"] > density + LEARNS_MARGIN)
    learns_why = (f"the correct run must learn (test mAP above the label density {density:.3f} + {LEARNS_MARGIN}; "
                  f"it has {table.loc['correct', 'mAP']:.3f}): more training scenes or epochs")
    cols = ["mAP", "tuned macro-F1", "pred_pos_rate at 0.5"]

    def ev(*runs: str, extra: tuple[str, ...] = ()) -> dict:
        return {r: {c: table.loc[r, c] for c in (*cols, *extra) if c in table.columns} for r in ("correct", *runs)
                if r in ran} | {"density": density}

    nonneg = [r for r in ("relu_before_loss", "softplus_before_loss") if r in ran]
    nan_runs = [r for r in ("nan_inputs", "nan_targets") if r in ran]
    out = {
        "correct_run_clean": dict(
            holds=lambda: not CAUSE_CODES & set(_codes(table, "correct", "check_setup codes"))
            and table.loc["correct", "train loss last"] < 0.5 * table.loc["correct", "train loss first"]
            and NOTHING < table.loc["correct", "pred_pos_rate at 0.5"] < EVERY_LABEL,
            evidence=ev(extra=("check_setup codes", "train loss first", "train loss last")),
            applies=learns, why_not=learns_why),
        "nonnegative_logits_flagged": dict(
            holds=lambda: all("LOGITS_NONNEGATIVE" in _codes(table, r, "check_setup codes") for r in nonneg),
            evidence={r: table.loc[r, "check_setup codes"] for r in nonneg},
            applies=bool(nonneg), why_not="neither relu_before_loss nor softplus_before_loss was run"),
        "nonnegative_logits_learn_no_ranking": dict(
            holds=lambda: all(_no_ranking(table, r, density) for r in nonneg),
            evidence=ev(*nonneg, extra=("train loss last",)),
            applies=bool(nonneg) and learns, why_not=learns_why if nonneg else "neither run was run"),
        "pos_weight_too_large_predicts_every_label": dict(
            holds=lambda: table.loc["pos_weight_too_large", "pred_pos_rate at 0.5"] > EVERY_LABEL,
            evidence=ev("pos_weight_too_large", extra=("pos_weight_min", "pos_weight_max")),
            applies="pos_weight_too_large" in ran, why_not="pos_weight_too_large was not run"),
        "pos_weight_too_large_flagged": _flagged(table, "pos_weight_too_large", "POS_WEIGHT_INVALID"),
        "pos_weight_inverted_flagged": _flagged(table, "pos_weight_inverted", "POS_WEIGHT_INVERTED"),
        "pos_weight_inverted_hits_macro_f1": dict(
            holds=lambda: _gap(long_table, "pos_weight_inverted") > GAP,
            evidence={r: {c: long_table.loc[r, c] for c in ("macro-F1 at 0.5", "micro-F1 at 0.5", "tuned macro-F1", "mAP")}
                      for r in ("correct", "pos_weight_inverted") if r in long_table.index} | {
                "label_ratio": ratio, "macro_minus_micro_drop": _gap(long_table, "pos_weight_inverted")
                if "pos_weight_inverted" in long_table.index else math.nan},
            applies="pos_weight_inverted" in long_table.index and long_learns and ratio >= LONG_TAIL_RATIO,
            why_not=(f"about long-tailed labels: the most frequent label needs {LONG_TAIL_RATIO:g} times the rarest's "
                     f"training positives (here {ratio:.1f}), and the correct run must learn")),
        "lr_zero_loss_flat": dict(
            holds=lambda: abs(table.loc["lr_zero", "train loss last"] - table.loc["lr_zero", "train loss first"]) < FLAT,
            evidence=ev("lr_zero", extra=("train loss first", "train loss last", "monitor codes", "check_setup codes")),
            applies="lr_zero" in ran, why_not="lr_zero was not run"),
        "lr_zero_flagged": dict(
            holds=lambda: "NO_LEARNING" in _codes(table, "lr_zero", "check_setup codes")
            and "LOSS_FLAT" in _codes(table, "lr_zero", "monitor codes"),
            evidence={k: table.loc["lr_zero", k] for k in ("check_setup codes", "monitor codes")} if "lr_zero" in ran else {},
            applies="lr_zero" in ran and (steps is None or steps >= MONITOR_FLAT_STEPS),
            why_not=f"needs lr_zero run over at least {MONITOR_FLAT_STEPS} optimizer steps (the monitor's LOSS_FLAT "
                    f"compares the first and last tenth of the steps); this run has {steps}"),
        "all_frozen_raises": dict(
            holds=lambda: table.loc["all_frozen", "error"].startswith("RuntimeError")
            and "NO_LEARNING" in _codes(table, "all_frozen", "check_setup codes"),
            evidence={k: table.loc["all_frozen", k] for k in ("error", "check_setup codes")} if "all_frozen" in ran else {},
            applies="all_frozen" in ran, why_not="all_frozen was not run"),
        "lr_far_too_large_stays_finite": dict(
            holds=lambda: not bool(table.loc["lr_far_too_large", "non-finite outputs"])
            and not np.isfinite(table.loc["lr_far_too_large", "first non-finite epoch"]),
            evidence=ev("lr_far_too_large", extra=("lr_used", "train loss first", "train loss last",
                                                   "first non-finite epoch", "monitor codes")),
            applies="lr_far_too_large" in ran, why_not="lr_far_too_large was not run"),
        "lr_far_too_large_learns_no_ranking": dict(
            holds=lambda: _no_ranking(table, "lr_far_too_large", density),
            evidence=ev("lr_far_too_large", extra=("lr_used",)),
            applies="lr_far_too_large" in ran and learns,
            why_not=learns_why if "lr_far_too_large" in ran else "lr_far_too_large was not run"),
        "lr_far_too_large_flagged": _flagged(table, "lr_far_too_large", "LEARNING_RATE"),
        "one_nan_poisons_the_run": dict(
            holds=lambda: all(table.loc[r, "first non-finite epoch"] == 1 and bool(table.loc[r, "non-finite outputs"])
                              for r in nan_runs),
            evidence=ev(*nan_runs, extra=("first non-finite epoch", "non-finite outputs", "nan_row")),
            applies=bool(nan_runs), why_not="neither nan_inputs nor nan_targets was run"),
        "one_nan_flagged": dict(
            holds=lambda: all("NON_FINITE" in _codes(table, r, "check_setup codes")
                              and "LOSS_NON_FINITE" in _codes(table, r, "monitor codes") for r in nan_runs),
            evidence={r: {k: table.loc[r, k] for k in ("check_setup codes", "monitor codes")} for r in nan_runs},
            applies=bool(nan_runs), why_not="neither nan_inputs nor nan_targets was run"),
    }
    return out


def _flagged(table: pd.DataFrame, run: str, code: str) -> dict:
    """The claim that ``check_setup`` names ``run``'s mistake by ``code``; it applies when ``run`` was run."""
    ran = run in table.index
    return dict(holds=lambda: code in _codes(table, run, "check_setup codes"),
                evidence={"check_setup codes": table.loc[run, "check_setup codes"] if ran else ""},
                applies=ran, why_not=f"{run} was not run")


def _gap(table: pd.DataFrame, run: str) -> float:
    """How much more macro-F1 at 0.5 than micro-F1 at 0.5 the run lost against the correct run."""
    c, r = table.loc["correct"], table.loc[run]
    return float((c["macro-F1 at 0.5"] - r["macro-F1 at 0.5"]) - (c["micro-F1 at 0.5"] - r["micro-F1 at 0.5"]))
