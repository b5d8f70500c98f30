"""The tests, evidence and preconditions of notebook 09's claims, gathered from its results, so that each
claim in the notebook is one short ``ledger.claim(id, text, **claims[id])`` call.

Each function returns ``{claim id: {"holds": ..., "evidence": ..., "applies": ..., "why_not": ...}}`` for
:meth:`helpers.claims.Ledger.claim`. The tests and scopes are the ones the claims were declared with (the
notebook's text states each); ``holds`` is a callable where it may only be evaluated when the claim
applies (an empty sweep has no rows to compare). Nothing here trains or reads files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PRIOR = "bce_with_logits+prior_bias"  # the setup with the head's bias at the training prior


def oversampling(freq: pd.DataFrame, over: pd.Series, Y_train: np.ndarray) -> dict:
    """The oversampling section: ``freq`` the labels' effective frequencies (most frequent label first,
    columns ``plain`` and ``oversampled``), ``over`` its summary (third entry: the share of the most
    frequent label's draws that come from rows oversampled for a rarer label)."""
    top = freq.index[0]
    return {"oversampling_keeps_frequent_label_frequent": dict(
        holds=freq.loc[top, "oversampled"] >= 0.5 * freq.loc[top, "plain"],
        evidence={"label": top, "plain": freq.loc[top, "plain"], "oversampled": freq.loc[top, "oversampled"],
                  "carried_share": over.iloc[2]},
        applies=Y_train.sum(axis=1).mean() > 1.05,
        why_not="needs rows with several labels (training cardinality above 1.05): without co-occurrence "
                "nothing is carried along")}


def label_count_sweep(sweep: pd.DataFrame, sweep_epochs: int) -> dict:
    """The all-zero-phase sweep: ``sweep`` one row per (label count, bias) with ``val mAP, epoch 1`` and
    ``all-zero epochs``; empty when the sweep did not run (other data, no ``label_counts``)."""
    ran = len(sweep) > 0
    pair = sweep.pivot(index="labels", columns="bias", values="val mAP, epoch 1") if ran else pd.DataFrame()
    zero = sweep[sweep["bias"] == "default"].set_index("labels")["all-zero epochs"] if ran else pd.Series(dtype=int)
    return {
        "prior_bias_raises_first_epoch_map": dict(
            holds=lambda: bool((pair["prior"] > pair["default"]).all()),
            evidence={"map_epoch1": pair.round(4).to_dict("index") if ran else {}},
            applies=ran, why_not="no label-count sweep (it needs data='many_scenes' and label_counts)"),
        "all_zero_phase_longer_with_more_labels": dict(
            holds=lambda: bool(zero.iloc[-1] > zero.iloc[0]),
            evidence={"all_zero_epochs": zero.to_dict(), "epochs": sweep_epochs},
            applies=len(zero) >= 2 and zero.index[-1] >= 5 * zero.index[0],
            why_not="the sweep needs two label counts, the largest at least 5 times the smallest"),
    }


def short_budget(table: pd.DataFrame, setups, epochs: int, Y_train: np.ndarray, correct: str) -> dict:
    """The setups' table (one row per trained setup, column ``mAP``): the prior bias against ``correct``
    after a short budget on sparse labels."""
    return {"prior_bias_raises_test_map": dict(
        holds=lambda: table.loc[PRIOR, "mAP"] > table.loc[correct, "mAP"] + 0.05,
        evidence={"map": table["mAP"].to_dict(), "density": Y_train.mean()},
        applies=PRIOR in setups and epochs <= 10 and Y_train.mean() <= 0.05,
        why_not="the claim is about a short budget (10 epochs or fewer) on sparse labels (density 5% or less), "
                f"with {PRIOR!r} in setups")}
