"""The front door's causes that no other notebook trains, each reproduced once on the same data and batches.

Notebook 12 trains the book's correct setup and, from the same initial weights and batch order, one run per
cause below; each run is scored on test as every other notebook scores (at 0.5, with per-label thresholds
tuned on validation, mAP) and is shown to ``check_setup`` and to the training ``Monitor``. The causes are
small registered functions (:data:`CAUSES`, name -> :class:`Cause`), each building its broken run from the
correct one's ingredients:

* ``relu_before_loss`` / ``softplus_before_loss``: a ReLU or a Softplus after the head, before
  ``BCEWithLogitsLoss``: the logits can no longer be negative, so no probability falls below 0.5;
* ``pos_weight_too_large``: ``pos_weight`` = ``negatives / positives`` times ``pos_weight_factor``;
* ``pos_weight_inverted``: ``pos_weight`` = ``positives / negatives`` (the ratio upside down);
* ``lr_zero``: Adam at learning rate 0 (a scheduler decayed to 0, or a typo): nothing moves;
* ``all_frozen``: every parameter's ``requires_grad`` set to False before training;
* ``lr_far_too_large``: Adam at ``lr_factor`` times the book's learning rate;
* ``nan_inputs`` / ``nan_targets``: one training row with a NaN feature, or one NaN target entry.

A run that raises (``all_frozen`` does, at its first ``backward()``) is recorded with PyTorch's own error and
no scores. A model whose outputs are NaN is scored as its user would see it: ``NaN >= t`` is False, so it
predicts no label; its ranking is all ties (mAP at the labels' base rate). Nothing here writes files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from helpers import losses as losses_mod
from helpers import metrics as metrics_mod
from helpers import mistakes as mistakes_mod
from helpers import models as models_mod
from helpers import train as train_mod
from helpers.diagnose import Monitor, check_setup


@dataclass(frozen=True)
class Settings:
    """The correct run's settings, and how far the broken ones move them."""

    epochs: int = 15
    batch_size: int = 128
    lr: float = 3e-3
    seed: int = 0
    device: str | torch.device = "auto"
    pos_weight_factor: float = 100.0  # pos_weight_too_large: negatives / positives times this
    lr_factor: float = 1000.0  # lr_far_too_large: the book's learning rate times this


@dataclass
class CauseRun:
    """One cause's run: its history (per epoch, as :func:`helpers.train.fit` records it), the test and
    validation probabilities, the monitor's and ``check_setup``'s codes, and the error if it raised."""

    name: str
    history: pd.DataFrame | None
    p_val: np.ndarray | None
    p_test: np.ndarray | None
    monitor_codes: list[str]
    check_codes: list[str]
    error: str = ""
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Cause:
    """A registered cause: the front door's words for it and the function that trains it."""

    name: str
    text: str
    run: Callable[..., CauseRun]


CAUSES: dict[str, Cause] = {}


def _cause(name: str, text: str):
    def register(fn):
        CAUSES[name] = Cause(name, text, fn)
        return fn
    return register


def _model(data, seed: int) -> nn.Module:
    return models_mod.build_model(data, seed=seed)


def _batch(data, batch_size: int, rows: np.ndarray | None = None):
    idx = np.arange(min(batch_size, len(data.X_train))) if rows is None else rows
    return torch.as_tensor(data.X_train[idx], dtype=torch.float32), torch.as_tensor(data.Y_train[idx], dtype=torch.float32)


def _checked(model: nn.Module, criterion, data, s: Settings, *, lr: float | None = None, rows=None) -> list[str]:
    """``check_setup`` on the run's model, loss and first batch (or ``rows``), with its optimizer and the
    training labels, as the book tells readers to call it before training."""
    xb, yb = _batch(data, s.batch_size, rows)
    trainable = [p for p in model.parameters() if p.requires_grad] or list(model.parameters())
    opt = torch.optim.Adam(trainable, lr=s.lr if lr is None else lr)
    return check_setup(model, criterion, xb, yb, optimizer=opt, train_targets=data.Y_train).codes


def _probs(model: nn.Module, X: np.ndarray) -> np.ndarray:
    dev = next(model.parameters()).device
    with torch.no_grad():
        out = train_mod._outputs(model, torch.as_tensor(X, dtype=torch.float32, device=dev), 2048)
    return torch.sigmoid(out).cpu().numpy()


def _from_fit(name: str, model: nn.Module, data, s: Settings, check: list[str], *, pos_weight=None,
              lr: float | None = None, fit_data=None, **detail) -> CauseRun:
    r = train_mod.fit(model, data if fit_data is None else fit_data, "bce_with_logits", pos_weight=pos_weight,
                      epochs=s.epochs, batch_size=s.batch_size, lr=s.lr if lr is None else lr, seed=s.seed,
                      device=s.device, progress=False)
    return CauseRun(name, r.history, _probs(r.model, data.X_val), _probs(r.model, data.X_test),
                    r.monitor.codes if r.monitor is not None else [], check, detail=detail)


def _from_loop(name: str, model: nn.Module, fit_data, data, s: Settings, check: list[str], *, lr: float | None = None,
               **detail) -> CauseRun:
    """Trained by :func:`helpers.mistakes.train_loop` (``fit``'s loop written out; with the same settings it
    reproduces ``fit``'s history), for the mistakes ``fit`` refuses up front: lr 0, NaN targets."""
    r = mistakes_mod.train_loop(model, fit_data, epochs=s.epochs, batch_size=s.batch_size,
                                lr=s.lr if lr is None else lr, seed=s.seed, device=s.device, progress=False, desc=name)
    return CauseRun(name, r.history, r.predict_proba(data.X_val), r.predict_proba(data.X_test),
                    r.monitor.report().codes if r.monitor is not None else [], check, detail=detail)


def correct(data, s: Settings) -> CauseRun:
    """The book's correct setup: logits, ``BCEWithLogitsLoss``, Adam at the book's learning rate."""
    model = _model(data, s.seed)
    return _from_fit("correct", model, data, s, _checked(model, nn.BCEWithLogitsLoss(), data, s))


@_cause("relu_before_loss", "a ReLU or Softplus before `BCEWithLogitsLoss`")
def relu_before_loss(data, s: Settings) -> CauseRun:
    model = nn.Sequential(_model(data, s.seed), nn.ReLU())  # the mistake: logits clipped at 0
    return _from_fit("relu_before_loss", model, data, s, _checked(model, nn.BCEWithLogitsLoss(), data, s))


@_cause("softplus_before_loss", "a ReLU or Softplus before `BCEWithLogitsLoss`")
def softplus_before_loss(data, s: Settings) -> CauseRun:
    model = nn.Sequential(_model(data, s.seed), nn.Softplus())  # the mistake: logits always positive
    return _from_fit("softplus_before_loss", model, data, s, _checked(model, nn.BCEWithLogitsLoss(), data, s))


@_cause("pos_weight_too_large", "`pos_weight` far too large")
def pos_weight_too_large(data, s: Settings) -> CauseRun:
    pw = losses_mod.compute_pos_weight(data.Y_train, "neg_over_pos") * s.pos_weight_factor
    model = _model(data, s.seed)
    return _from_fit("pos_weight_too_large", model, data, s, _checked(model, nn.BCEWithLogitsLoss(pos_weight=pw), data, s),
                     pos_weight=pw, pos_weight_max=float(pw.max()), pos_weight_min=float(pw.min()))


@_cause("pos_weight_inverted", "`pos_weight` inverted (positives / negatives)")
def pos_weight_inverted(data, s: Settings) -> CauseRun:
    pw = 1.0 / losses_mod.compute_pos_weight(data.Y_train, "neg_over_pos")  # the mistake: positives / negatives
    model = _model(data, s.seed)
    return _from_fit("pos_weight_inverted", model, data, s, _checked(model, nn.BCEWithLogitsLoss(pos_weight=pw), data, s),
                     pos_weight=pw, pos_weight_max=float(pw.max()), pos_weight_min=float(pw.min()))


@_cause("lr_zero", "a learning rate of 0, or every parameter frozen")
def lr_zero(data, s: Settings) -> CauseRun:
    model = _model(data, s.seed)
    check = _checked(model, nn.BCEWithLogitsLoss(), data, s, lr=0.0)
    return _from_loop("lr_zero", model, data, data, s, check, lr=0.0)


@_cause("all_frozen", "a learning rate of 0, or every parameter frozen")
def all_frozen(data, s: Settings) -> CauseRun:
    model = _model(data, s.seed)
    for p in model.parameters():
        p.requires_grad_(False)  # the mistake: e.g. a freezing loop meant for the backbone ran over every layer
    check = _checked(model, nn.BCEWithLogitsLoss(), data, s)
    try:
        r = train_mod.fit(model, data, "bce_with_logits", epochs=s.epochs, batch_size=s.batch_size, lr=s.lr,
                          seed=s.seed, device=s.device, progress=False)
    except RuntimeError as e:  # PyTorch's own error at the first backward(): what the reader sees
        return CauseRun("all_frozen", None, None, None, [], check, error=f"{type(e).__name__}: {e}")
    return CauseRun("all_frozen", r.history, _probs(r.model, data.X_val), _probs(r.model, data.X_test),
                    r.monitor.codes if r.monitor is not None else [], check)


@_cause("lr_far_too_large", "learning rate far too large")
def lr_far_too_large(data, s: Settings) -> CauseRun:
    model = _model(data, s.seed)
    lr = s.lr * s.lr_factor
    return _from_fit("lr_far_too_large", model, data, s, _checked(model, nn.BCEWithLogitsLoss(), data, s, lr=lr),
                     lr=lr, lr_used=lr)


def _nan_row(data, seed: int) -> int:
    return int(np.random.default_rng(seed).integers(len(data.X_train)))


@_cause("nan_inputs", "NaN or inf in the inputs or targets")
def nan_inputs(data, s: Settings) -> CauseRun:
    row = _nan_row(data, s.seed)
    X = data.X_train.copy()
    X[row].flat[0] = np.nan  # the mistake: one missing value in one training row, left as NaN
    broken = dataclasses.replace(data, X_train=X)
    model = _model(data, s.seed)
    rows = np.r_[row, np.setdiff1d(np.arange(min(s.batch_size, len(X))), [row])][:s.batch_size]
    check = _checked(model, nn.BCEWithLogitsLoss(), broken, s, rows=rows)
    return _from_loop("nan_inputs", model, broken, data, s, check, nan_row=row)


@_cause("nan_targets", "NaN or inf in the inputs or targets")
def nan_targets(data, s: Settings) -> CauseRun:
    row = _nan_row(data, s.seed)
    Y = data.Y_train.astype(np.float32, copy=True)
    Y[row, 0] = np.nan  # the mistake: one unknown label left as NaN
    broken = dataclasses.replace(data, Y_train=Y)
    model = _model(data, s.seed)
    rows = np.r_[row, np.setdiff1d(np.arange(min(s.batch_size, len(Y))), [row])][:s.batch_size]
    check = _checked(model, nn.BCEWithLogitsLoss(), broken, s, rows=rows)
    try:  # the monitor given the training targets refuses them up front
        Monitor(data.n_labels, train_targets=Y)
        refusal = ""
    except ValueError as e:
        refusal = str(e)
    # the reader's own loop with a monitor that was not given the training targets (helpers.train.fit always
    # gives them, so it would stop at the refusal above)
    return _from_loop("nan_targets", model, broken, data, s, check, nan_row=row, monitor_refusal=refusal)


def run(data, names, s: Settings) -> dict[str, CauseRun]:
    """The correct run and each named cause's run, same data, initial weights and batch order."""
    unknown = [n for n in names if n not in CAUSES]
    if unknown:
        raise ValueError(f"unknown cause(s) {unknown}; choose from {list(CAUSES)}")
    return {"correct": correct(data, s), **{n: CAUSES[n].run(data, s) for n in names}}


def scores(data, r: CauseRun) -> dict:
    """Test scores of a run: at 0.5 and with thresholds tuned on validation, mAP, the predicted-positive rate,
    the training loss first and last, the first epoch whose training loss is not finite. NaN probabilities
    predict no label and rank as ties (module docstring); a run that raised has NaN scores and its error."""
    out = {"cause": r.name, "error": r.error, "monitor codes": " ".join(r.monitor_codes),
           "check_setup codes": " ".join(r.check_codes)}
    if r.history is None:
        return out | {k: np.nan for k in ("tuned macro-F1", "mAP", "macro-F1 at 0.5", "micro-F1 at 0.5",
                                          "pred_pos_rate at 0.5", "train loss first", "train loss last",
                                          "first non-finite epoch", "non-finite outputs")}
    finite = np.isfinite(r.p_test).all() and np.isfinite(r.p_val).all()
    p_val, p_test = np.nan_to_num(r.p_val, nan=0.0), np.nan_to_num(r.p_test, nan=0.0)
    half = metrics_mod.evaluate(data.Y_test, p_test)
    tuned = metrics_mod.evaluate(data.Y_test, p_test, threshold=metrics_mod.tune_thresholds(data.Y_val, p_val))
    loss = r.history["train_loss"].to_numpy()
    bad = np.flatnonzero(~np.isfinite(loss))
    return out | {"tuned macro-F1": tuned["macro_f1"], "mAP": half["map"], "macro-F1 at 0.5": half["macro_f1"],
                  "micro-F1 at 0.5": half["micro_f1"], "pred_pos_rate at 0.5": half["pred_pos_rate"],
                  "train loss first": float(loss[0]), "train loss last": float(loss[-1]),
                  "first non-finite epoch": int(bad[0]) + 1 if len(bad) else np.nan,
                  "non-finite outputs": not finite, **r.detail}


def table(data, runs: dict[str, CauseRun]) -> pd.DataFrame:
    """One row per run (``correct`` first), the columns of :func:`scores`."""
    return pd.DataFrame([scores(data, r) for r in runs.values()]).set_index("cause")

