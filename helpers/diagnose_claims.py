"""The tests, evidence and preconditions of notebook 06's claims, gathered from its checks and runs, so
that each claim in the notebook is one short ``ledger.claim(id, text, **claims[id])`` call.

Each function returns ``{claim id: {"holds": ..., "evidence": ..., "applies": ..., "why_not": ...}}`` for
:meth:`helpers.claims.Ledger.claim`. The tests are the ones the claims were registered with (the
notebook's text states each); ``holds`` is a callable where it may only be evaluated when the claim
applies. The reports are :func:`helpers.diagnose.check_setup`'s, :func:`helpers.diagnose.check_predictions`'
and :class:`helpers.diagnose.Monitor`'s; ``multi_rows`` is how many rows of the checked batch hold two or
more labels, ``scenes`` whether the data is the book's digit scenes (some claims are set for them). Nothing
here trains or reads files.
"""

from __future__ import annotations

import torch

ON_SCENES_ONLY = "other data can have rare or empty labels, which add their own findings"
MIN_STEPS_DOUBLE_SIGMOID = 100  # the double sigmoid's loss needs about a hundred steps to fall from its start to ln 2
STUCK_CODES = {"LOSS_AT_LN2"}  # the monitor's code for a loss at or above ln 2


def article_long_targets(report, multi_rows: int) -> dict:
    """The article's first snippet: CrossEntropyLoss on ``.long()`` multi-hot targets."""
    return {
        "article_long_targets_error": dict(
            holds=not report.ok and "error" in {f.severity for f in report if f.code == "TARGET_DTYPE"},
            evidence={"codes": report.codes}),
        "article_softmax_on_multilabel": dict(
            holds="SOFTMAX_ON_MULTILABEL" in report, evidence={"codes": report.codes, "rows_with_2plus_labels": multi_rows},
            applies=multi_rows > 0, why_not="no row of the checked batch has two labels"),
    }


def article_sigmoid_bceloss(report, scenes: bool) -> dict:
    """The article's second snippet: a model ending in ``nn.Sigmoid()`` with ``BCELoss``."""
    return {
        "article_sigmoid_bceloss_noted": dict(
            holds=report.ok and "SIGMOID_THEN_BCELOSS" in report, evidence={"codes": report.codes}),
        "article_sigmoid_bceloss_only_finding": dict(
            holds=report.codes == ["SIGMOID_THEN_BCELOSS"], evidence={"codes": report.codes},
            applies=scenes, why_not=ON_SCENES_ONLY),
    }


def article_batch_weights(report, used, step: int, scenes: bool) -> dict:
    """The article's third snippet: ``pos_weight`` computed from the previous batch; ``used`` the weights
    the checked step trains with (``None`` on the first step), ``step`` that step."""
    inf_step = used is not None and not bool(torch.isfinite(used).all())
    return {
        "article_batch_weights_go_inf": dict(
            holds=inf_step, evidence={"step": step, "inf_labels": int((~torch.isfinite(used)).sum()) if used is not None else 0},
            applies=scenes, why_not="your data may hold every label in every batch"),
        "article_batch_weights_flagged": dict(
            holds=lambda: not report.ok and report.get("POS_WEIGHT_INVALID").severity == "error" and "NON_FINITE" in report,
            evidence={"codes": report.codes}, applies=inf_step, why_not="no batch weight went inf in this epoch"),
    }


def article_batch_weights_fixed(report, pos_weight: torch.Tensor) -> dict:
    """The fix: ``pos_weight`` neg_over_pos from the training split."""
    small = report.get("BATCH_TOO_SMALL")
    return {
        "neg_over_pos_not_flagged": dict(
            holds=report.ok and "POS_WEIGHT_INVALID" not in report,
            evidence={"codes": report.codes, "max_pos_weight": pos_weight.max().item()}),
        "batch_too_small_knows_pos_weight_is_done": dict(
            holds=lambda: "Compute pos_weight" not in small.message and "finite" in small.message,
            evidence={"message": small.message if small else None},
            applies=small is not None, why_not="every label has a positive in the checked batch"),
    }


def notebook_02(checks: dict, expected: dict, multi_rows: int, scenes: bool) -> dict:
    """Notebook 02's setups: ``checks`` the report of each, ``expected`` the code each wrong one must get."""
    errors = ["cross_entropy", "double_sigmoid", "bce_on_logits"]
    flagged = {f"nb02_{name}_flagged": dict(
        holds=code in checks[name], evidence={"codes": checks[name].codes},
        applies=name != "cross_entropy" or multi_rows > 0, why_not="no row of the batch has two labels")
        for name, code in expected.items()}
    return flagged | {
        "nb02_three_errors": dict(holds=not any(checks[k].ok for k in errors), evidence={k: checks[k].ok for k in errors}),
        "nb02_mse_warning": dict(
            holds=checks["mse"].ok and checks["mse"].get("MSE_FOR_CLASSIFICATION").severity == "warning",
            evidence={"codes": checks["mse"].codes}),
        "nb02_bce_with_logits_clean": dict(
            holds=checks["bce_with_logits"].codes == [], evidence={"codes": checks["bce_with_logits"].codes},
            applies=scenes, why_not=ON_SCENES_ONLY),
    }


def fixed_setup(report, scenes: bool) -> dict:
    """The fixed setup's report (``scenes``: the book's generated data, where no warning is expected)."""
    f = report.facts
    return {
        "fixed_setup_ok": dict(holds=report.ok, evidence={"codes": report.codes}),
        "fixed_setup_no_warnings": dict(
            holds=not report.by_severity("warning"), evidence={"codes": report.codes},
            applies=scenes, why_not="your data may have rare labels (RARE_LABEL)"),
        "fixed_setup_probe_learns": dict(
            holds=f["probe_loss_after"] < f["probe_loss_before"],
            evidence={"before": f["probe_loss_before"], "after": f["probe_loss_after"]}),
    }


def monitored_runs(ref, ds, rates: dict, steps: int) -> dict:
    """The monitored runs: ``ref`` the right setup's, ``ds`` the double sigmoid's, ``rates`` the latter's
    predicted-positive rates read through the loss's sigmoid and from ``model(x)``; ``steps`` per run."""
    trained = steps >= MIN_STEPS_DOUBLE_SIGMOID  # the collapse is what training does: it needs steps
    why_short = (f"{steps} training steps: the double sigmoid's loss needs about a hundred steps to fall from its start "
                 "to ln 2, so fewer cannot show where it ends")
    return {
        "double_sigmoid_two_readings": dict(
            holds=rates["rate_through_loss"] > 0.9 and rates["rate_model_x"] < 0.1, evidence=rates,
            applies=trained, why_not=why_short),
        "monitor_reference_quiet": dict(
            holds=not [f for f in ref.monitor if f.severity != "info"], evidence={"codes": ref.monitor.codes}),
        "monitor_double_sigmoid_at_chance": dict(
            holds=bool(STUCK_CODES & set(ds.monitor.codes)),
            evidence={"codes": ds.monitor.codes, "final_train_loss": ds.history["train_loss"].iloc[-1], "steps": steps},
            applies=trained, why_not=why_short),
    }


def all_zero_phase(runs: dict, zero_epochs: dict, phased: list) -> dict:
    """``zero_epochs`` each run's epochs predicting no positive before the first positive; ``phased`` the
    runs with such a phase followed by positives."""
    return {"monitor_all_zero_phase": dict(
        holds=lambda: all("ALL_ZERO_PHASE" in runs[k].monitor for k in phased),
        evidence={"zero_epochs": zero_epochs, "runs_with_phase": phased},
        applies=bool(phased), why_not="no run here starts with an all-zero phase followed by positives")}


def nan_step(report, first_inf: int | None, n_steps: int) -> dict:
    """The monitor's report on the article's batch weights; ``first_inf`` the first step using inf weights."""
    return {"monitor_names_nan_step": dict(
        holds=lambda: "LOSS_NON_FINITE" in report and f"at step {first_inf} " in report.get("LOSS_NON_FINITE").message,
        evidence={"first_inf_step": first_inf, "codes": report.codes},
        applies=first_inf is not None and first_inf < n_steps, why_not="no batch weight went inf")}


def predictions(pred_checks: dict, micro: dict, wrong: dict, right: str, multi_rows: int) -> dict:
    """The ways of turning logits into predictions: ``wrong`` maps each wrong way to the code it must get,
    ``right`` names the right way; ``micro`` each way's validation micro-F1. Ids ``pred_<code>``."""
    out = {"pred_" + code.lower(): dict(
        holds=code in pred_checks[k] and micro[k] < micro[right],
        evidence={"codes": pred_checks[k].codes, "micro_f1": micro[k], "micro_f1_right": micro[right]},
        applies=k != "argmax (one label per row)" and k != "softmax scores > 0.5" or multi_rows > 0,
        why_not="single-label rows only") for k, code in wrong.items()}
    return out | {"pred_right_way_clean": dict(holds=pred_checks[right].ok, evidence={"codes": pred_checks[right].codes})}


def accuracy_paradox(report, acc: float, tail_y: torch.Tensor) -> dict:
    """The rarest labels' predictions: ``acc`` their accuracy, ``tail_y`` their validation targets."""
    return {"pred_accuracy_paradox": dict(
        holds="ACCURACY_PARADOX" in report, evidence={"accuracy": acc, "positive_rate": tail_y.mean().item()},
        applies=tail_y.mean().item() <= 0.1, why_not="the rarest labels are not sparse here")}


def own_data(run, epochs: int) -> dict:
    """The brief run on the reader's data (``run`` is ``None`` on the scenes)."""
    history = run.history.set_index("epoch") if run is not None else None
    return {"own_data_trains": dict(
        holds=lambda: history["train_loss"].iloc[-1] < history["train_loss"].iloc[0],
        evidence={"first": None if history is None else history["train_loss"].iloc[0],
                  "last": None if history is None else history["train_loss"].iloc[-1]},
        applies=run is not None and epochs >= 2,
        why_not="data='scenes': notebook 03 trains this setup" if run is None else "one epoch: nothing to compare")}
