"""The tests, evidence and preconditions of notebook 00's claims, gathered from its results, so that each claim
in the notebook is one short ``ledger.claim(id, text, **claims[id])`` call (the pattern of
:mod:`helpers.label_claims`). Nothing here trains or reads files."""

from __future__ import annotations

import numpy as np

from helpers import frontdoor


def book_setup(report) -> dict:
    """The checker on the book's own setup (``report`` from ``check_setup``) and the front door's codes."""
    errors = [f.code for f in report.findings if f.severity == "error"]
    unknown = frontdoor.unknown_codes()
    return {
        "book_setup_has_no_error": dict(holds=not errors, evidence={"codes": report.codes, "errors": errors}),
        "front_door_codes_exist": dict(
            holds=not unknown, evidence={"codes_named": len(frontdoor.mentioned_codes()), "unknown": unknown,
                                         "being_added": sorted(set(frontdoor.CODES_BEING_ADDED))}),
    }


def user_script(setup_report, preds, Y_train, Y_val, data_name: str) -> dict:
    """The user-style script: ``setup_report`` from ``check_setup`` on it, ``preds`` its validation predictions
    at 0.5 after training."""
    named = setup_report.get("SOFTMAX_ON_MULTILABEL")
    multi_rows = int((np.asarray(Y_train).sum(1) >= 2).sum())
    val_rate = float(np.asarray(preds).mean())
    return {
        "user_script_mistake_named": dict(
            holds=named is not None and named.severity == "error",
            evidence={"codes": setup_report.codes, "rows_with_2plus_labels": multi_rows},
            applies=multi_rows > 0, why_not="no training row has two labels: the task is single-label"),
        "user_script_predicts_nothing": dict(
            holds=val_rate < 0.02, evidence={"val_pred_pos_rate": val_rate, "true_pos_rate": float(np.asarray(Y_val).mean())},
            applies=data_name == "scenes", why_not=f"the threshold is set for the scenes; data is {data_name}"),
    }
