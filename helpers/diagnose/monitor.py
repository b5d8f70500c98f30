"""A training-time companion to :func:`check_setup`: :class:`Monitor` watches the loss, the
predictions and the gradients while a model trains, and reports what only shows during training,
with the same codes, findings and report as the checker.

In your own loop, two lines::

    mon = Monitor(n_labels, train_targets=Y_train)   # the labels' frequencies give the prior's loss
    for epoch in range(epochs):
        for xb, yb in loader:
            out = model(xb); loss = criterion(out, yb); loss.backward()
            mon.update(loss=loss, outputs=out, targets=yb, model=model)   # after backward, before zero_grad
            optimizer.step(); optimizer.zero_grad()
        mon.end_epoch(val_metric=val_map)        # optional: enables VAL_FLAT and ALL_ZERO_PHASE
    mon.report()

It judges the loss against two references: ln 2 per label, the loss of outputs at 0
(``LOSS_AT_LN2``), and the loss of the best constant predictor, the mean binary entropy of the
label frequencies (``LOSS_AT_PRIOR``: the model learned only the base rates); and against its own
noise (``LOSS_FLAT``: the parameters do not move). It is cheap: per step it keeps the loss, the
predicted-positive rate, the true rate, the positives per label and the gradient norm as small
tensors (no copy of the outputs); it reads the outputs' width and form (logits or probabilities)
at the first update only, and names the first non-finite tensor only when a loss first turns
NaN/inf. ``python -m helpers.diagnose.cost`` measures it. ``helpers.train.fit`` runs one by default
(``result.monitor``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from helpers.diagnose.context import fmt, pct
from helpers.diagnose.registry import rule
from helpers.diagnose.report import Finding, Report, sort_findings

LN2_TOL = 0.03  # LOSS_AT_LN2: last-window loss at or above (1 - this) x the neutral loss (ln 2 per label)
PRIOR_TOL = 0.03  # LOSS_AT_PRIOR: the last two windows within this relative distance of the prior's loss
FLAT_REL, FLAT_Z = 0.02, 3.0  # LOSS_FLAT: first and last tenth differ by < this share and < FLAT_Z standard errors
PROBS_MIN_VALUES = 16  # Monitor: outputs of at least this many values, all in [0, 1], are read as probabilities
RATE_LOW, RATE_HIGH = 0.02, 0.98  # PRED_RATE_COLLAPSE: predicted positive rate outside, at the end ...
RATE_TRUE_RANGE = (0.05, 0.95)  # ... while the true rate is inside
GRAD_VANISH_ABS, GRAD_VANISH_REL = 1e-5, 1e-3  # GRAD_VANISHING: last-window median below, or below rel x the max
GRAD_EXPLODE_ABS, GRAD_EXPLODE_REL = 1e4, 1e3  # GRAD_EXPLODING: any norm above, or above rel x the first window
DIVERGE_RATIO = 1.5  # LOSS_UNSTABLE: last window > this x the best window ...
OSCILLATE_SPREAD = 0.5  # ... or second-half windows swing by more than this share of their mean
VAL_FLAT_DELTA, TRAIN_FALL = 0.01, 0.8  # VAL_FLAT: metric range below this while train loss fell below 0.8x
ZERO_PHASE_EPOCHS = 1  # ALL_ZERO_PHASE: at least this many first epochs predict no positive
MIN_STEPS = 8  # step-series rules need this many updates
KINDS = ("bce", "softmax", "other")


def _windows(values: list[float], n: int = 10) -> list[float]:
    """Means of ``n`` consecutive windows of ``values`` (fewer when there are fewer values)."""
    return [sum(w) / len(w) for w in _chunks(values, n)]


def _chunks(values: list[float], n: int = 10) -> list[list[float]]:
    """``values`` cut into ``n`` consecutive windows of (nearly) equal length (fewer when there are fewer values)."""
    n = max(1, min(n, len(values)))
    size = len(values) / n
    return [values[int(i * size):max(int((i + 1) * size), int(i * size) + 1)] for i in range(n)]


def _var(v: list[float]) -> float:
    m = sum(v) / len(v)
    return sum((a - m) ** 2 for a in v) / max(len(v) - 1, 1)


def binary_entropy(p: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
    """Per label, the loss of the best constant predictor under BCE with positive weight ``w``
    (1 when None): the (weighted) binary entropy of the label frequency ``p``."""
    p = p.double().clamp(0, 1)
    w = torch.ones_like(p) if w is None else w.double().expand_as(p)
    a, b = w * p, 1 - p
    q = (a / (a + b).clamp(min=1e-12)).clamp(1e-12, 1 - 1e-12)  # argmin of -a log q - b log(1 - q)
    return -(a * torch.log(q) + b * torch.log1p(-q))


def _tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray) or isinstance(value, (np.generic, float, int)) and not isinstance(value, bool):
        t = torch.as_tensor(np.asarray(value))
        if not (t.is_floating_point() or t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8,
                                                     torch.bool)):
            raise TypeError(f"Monitor.update: {what} has dtype {t.dtype}, not numbers")
        return t
    raise TypeError(f"Monitor.update: {what} must be a torch.Tensor, a numpy array or a number, got "
                    f"{type(value).__name__}")
def _first_non_finite(outputs, targets, model) -> str:
    """The first non-finite tensor in the order they are computed: targets, parameters, outputs, the loss."""
    if isinstance(targets, torch.Tensor) and targets.is_floating_point() and not bool(torch.isfinite(targets).all()):
        return f"targets ({int((~torch.isfinite(targets)).sum())} of {targets.numel()} values non-finite)"
    if isinstance(model, nn.Module):
        for name, p in model.named_parameters():
            if not bool(torch.isfinite(p).all()):
                return f"parameter {name!r} (so the outputs too: an earlier step wrote NaN into the weights)"
    if isinstance(outputs, torch.Tensor) and not bool(torch.isfinite(outputs).all()):
        return (f"outputs ({int((~torch.isfinite(outputs)).sum())} of {outputs.numel()} values non-finite, from "
                f"finite inputs and weights: an overflow in forward())")
    if outputs is None and targets is None:
        return "the loss (pass outputs= and targets= to name the tensor)"
    return ("the loss itself: outputs and targets are finite, so look at the loss's weights (a pos_weight with inf, "
            "e.g. computed on a batch that lacks a label)")


class Monitor:
    """Watch a training run; ``report()`` returns a :class:`Report` of the monitor codes.

    ``n_labels``: the number of labels (the width of the outputs; checked at the first update);
    ``loss``: ``"bce"`` (a sigmoid per label: outputs are logits, or probabilities, which the
    first update detects), ``"softmax"`` (a softmax over the labels: the neutral loss is log C per
    positive) or ``"other"`` (no reference losses; pass ``probs=`` to :meth:`update` for the
    predicted rate). ``train_targets``: the training set's (N, L) targets, whose label
    frequencies give the prior's loss (LOSS_AT_PRIOR); without them the batches' frequencies are
    used. ``pos_weight``: the loss's per-label positive weights, when it has them (they change both
    reference losses). Entries -1 in the targets are unknown (masked) and left out of the rates."""

    def __init__(self, n_labels: int, *, loss: str = "bce", train_targets: Any = None,
                 pos_weight: Any = None) -> None:
        if isinstance(n_labels, (bool, np.bool_)) or not isinstance(n_labels, (int, np.integer)) or n_labels < 1:
            raise ValueError(f"Monitor: n_labels must be a positive int (the number of label columns), got "
                             f"{n_labels!r}")
        if loss not in KINDS:
            raise ValueError(f"Monitor: loss must be one of {KINDS}, got {loss!r}")
        self.n_labels, self.kind = int(n_labels), loss
        self.label_freq: torch.Tensor | None = None  # from train_targets
        if train_targets is not None:
            tt = torch.as_tensor(np.asarray(train_targets) if not isinstance(train_targets, torch.Tensor)
                                 else train_targets).detach().cpu().double()
            if tt.ndim != 2 or tt.shape[0] == 0 or tt.shape[1] != self.n_labels:
                raise ValueError(f"Monitor: train_targets must be an (N, {self.n_labels}) array (n_labels columns), "
                                 f"got shape {tuple(tt.shape)}")
            if not bool(torch.isfinite(tt).all()):
                raise ValueError("Monitor: train_targets contain NaN/inf; mark unknown entries -1 instead")
            known = tt >= 0
            pm_only = bool((tt == -1).any()) and not bool((tt == 0).any())  # {-1, +1}: an encoding, not a mask
            if pm_only or not bool(((tt == 0) | (tt == 1) | (tt == -1)).all()):
                raise ValueError("Monitor: train_targets must hold 0/1 (and -1 for unknown entries); got other values "
                                 "(a -1/+1 encoding? use (Y + 1) / 2)")
            self.label_freq = (tt == 1).sum(0) / known.sum(0).clamp(min=1)
        self.pos_weight: torch.Tensor | None = None
        if pos_weight is not None:
            pw = torch.as_tensor(np.asarray(pos_weight) if not isinstance(pos_weight, torch.Tensor) else pos_weight)
            pw = pw.detach().cpu().double().reshape(-1)
            if pw.numel() not in (1, self.n_labels) or not bool(torch.isfinite(pw).all()) or bool((pw <= 0).any()):
                raise ValueError(f"Monitor: pos_weight must be finite, > 0, one value or {self.n_labels}; got "
                                 f"{pw.numel()} values")
            self.pos_weight = pw.expand(self.n_labels)
        self._loss: list[torch.Tensor] = []
        self._rate: list[torch.Tensor] = []
        self._true: list[torch.Tensor] = []
        self._pos_per_row: list[torch.Tensor] = []
        self._one_per_row: bool | None = None  # every target row seen has exactly one positive (or class indices)
        self._pos: torch.Tensor | None = None  # positives per label over the batches seen
        self._known: torch.Tensor | int | None = None  # known (not -1) entries per label
        self._masked: bool | None = None  # the first targets held -1 (unknown) entries
        self._grad: list[float] = []
        self.outputs_form: str | None = None  # "logits", "probabilities" or "softmax", decided at the first outputs
        self.non_finite: tuple[int, str, float] | None = None  # (step, tensor named, loss value)
        self.epochs: list[dict[str, Any]] = []
        self._epoch_start = 0

    @property
    def steps(self) -> int:
        return len(self._loss)

    def _first_outputs(self, o: torch.Tensor) -> None:
        """Check the width and decide once whether the outputs are logits or probabilities."""
        width = o.shape[-1] if o.ndim >= 2 else 1
        if o.ndim >= 2 and width != self.n_labels and not (o.ndim > 2 and o.shape[1] == self.n_labels):
            raise ValueError(f"Monitor: the outputs {tuple(o.shape)} have {width} columns but Monitor(n_labels="
                             f"{self.n_labels}): pass the number of label columns, Monitor({width}) if that is right")
        self.outputs_form = "logits"
        if self.kind == "bce" and o.numel() >= PROBS_MIN_VALUES and o.is_floating_point():
            of = o.detach().float()
            if bool(torch.isfinite(of).all()) and of.min().item() >= 0 and of.max().item() <= 1 \
                    and (of == 0).float().mean().item() < 0.05:
                rows_one = of.ndim >= 2 and of.shape[-1] >= 2 and (of.sum(-1) - 1).abs().max().item() < 1e-3
                self.outputs_form = "softmax" if rows_one else "probabilities"

    def update(self, loss: Any = None, outputs: Any = None, targets: Any = None, model: nn.Module | None = None, *,
               probs: Any = None, grad_norm: float | None = None) -> None:
        """Record one step: call after ``loss.backward()`` (so gradients exist) and before
        ``optimizer.zero_grad()``. ``outputs`` are logits (probabilities are detected at the first
        update and read as such; or pass ``probs``); ``model`` gives the gradient norm unless
        ``grad_norm`` is passed. Tensors, numpy arrays and numbers are accepted."""
        if model is not None and not isinstance(model, nn.Module):
            raise TypeError(f"Monitor.update: model must be the nn.Module being trained (for the gradient norm), got "
                            f"{type(model).__name__} {model!r:.40}")
        if loss is not None:
            lt = _tensor(loss, "loss")
            lt = lt.detach().float().mean() if lt.numel() else torch.tensor(float("nan"))
            self._loss.append(lt)
            if self.non_finite is None and not bool(torch.isfinite(lt)):
                self.non_finite = (self.steps - 1, _first_non_finite(outputs, targets, model), float(lt))
        with torch.no_grad():
            if outputs is not None:
                outputs = _tensor(outputs, "outputs").detach()
                if self.outputs_form is None:
                    self._first_outputs(outputs)
            if probs is not None:
                pred = _tensor(probs, "probs").detach() > 0.5
            elif outputs is not None and self.kind == "softmax":
                pred = torch.softmax(outputs.float(), dim=-1) > 0.5
            elif outputs is not None and self.outputs_form != "logits":
                pred = outputs > 0.5
            elif outputs is not None:
                pred = outputs > 0  # sigmoid(z) > 0.5
            else:
                pred = None
            if pred is not None:
                self._rate.append(pred.float().mean())
            if targets is not None:
                yb = _tensor(targets, "targets").detach()
                if self._masked is None:  # decided once: do the targets mark unknown entries with -1?
                    self._masked = bool((yb < 0).any())
                pos = yb > 0.5
                if yb.ndim >= 2 and self._masked:
                    known = yb >= 0
                    self._true.append(pos.sum() / known.sum().clamp(min=1))
                else:
                    self._true.append(pos.float().mean())
                if yb.ndim >= 2 and self.kind == "softmax":
                    self._pos_per_row.append(pos.float().sum(-1).mean())
                one = bool((pos.sum(-1) == 1).all()) if yb.ndim >= 2 else not yb.is_floating_point()
                self._one_per_row = one if self._one_per_row is None else self._one_per_row and one
                if self.label_freq is None and yb.ndim == 2 and yb.shape[1] == self.n_labels:
                    ps = pos.sum(0)
                    ks = (yb >= 0).sum(0) if self._masked else yb.shape[0]
                    self._pos = ps if self._pos is None else self._pos + ps
                    self._known = ks if self._known is None else self._known + ks
        if grad_norm is None and isinstance(model, nn.Module):
            norms = [p.grad.detach().norm() for p in model.parameters() if p.grad is not None]
            grad_norm = float(torch.linalg.vector_norm(torch.stack(norms))) if norms else None
        if grad_norm is not None:
            self._grad.append(float(grad_norm))

    def end_epoch(self, *, val_metric: float | None = None, val_pred_rate: float | None = None) -> None:
        """Mark the end of an epoch: its mean training loss and, when given, a validation metric
        (higher is better: mAP, F1) and the predicted-positive rate on validation."""
        losses = self._loss[self._epoch_start:]
        train = float(torch.stack(losses).mean()) if losses else None
        self.epochs.append({"train_loss": train, "val_metric": val_metric, "val_pred_rate": val_pred_rate})
        self._epoch_start = self.steps

    def frequencies(self) -> tuple[torch.Tensor | None, str]:
        """Each label's positive rate (float64, CPU) and where it comes from."""
        if self.label_freq is not None:
            return self.label_freq, "the training targets"
        if self._pos is not None:
            known = self._known.double().clamp(min=1) if isinstance(self._known, torch.Tensor) else max(self._known, 1)
            return (self._pos.double() / known).cpu(), "the batches' targets"
        return None, "no targets given"

    def neutral_loss(self) -> float | None:
        """The loss of outputs at 0 (probability 0.5 per label): ln 2 per label for BCE (times
        w p + 1 - p with a pos_weight w), log C per positive for a softmax; None otherwise."""
        if self.kind == "bce":
            if self.pos_weight is None:
                return math.log(2)
            p, _ = self.frequencies()
            return None if p is None else float(((self.pos_weight * p + 1 - p) * math.log(2)).mean())
        if self.kind == "softmax" and self.n_labels > 1:
            k = float(torch.stack(self._pos_per_row).mean()) if self._pos_per_row else 1.0
            return max(k, 1.0) * math.log(self.n_labels)
        return None

    def chance_loss(self) -> float | None:
        """Kept for callers of the old name: the neutral loss (outputs at 0)."""
        return self.neutral_loss()

    def prior_loss(self) -> float | None:
        """The loss of the best constant predictor, each label's frequency (BCE only): the mean
        binary entropy of the label frequencies (weighted by pos_weight when given)."""
        if self.kind != "bce":
            return None
        p, _ = self.frequencies()
        return None if p is None else float(binary_entropy(p, self.pos_weight).mean())

    def report(self) -> Report:
        """The findings so far (a :class:`Report` titled ``monitor``)."""
        losses = [float(v) for v in self._loss]
        rates = [float(v) for v in self._rate]
        true = [float(v) for v in self._true]
        found: list[Finding] = []
        for check in (loss_non_finite, loss_at_ln2, loss_at_prior, loss_flat, pred_rate_collapse, grad_vanishing,
                      grad_exploding, loss_unstable, val_flat, all_zero_phase):
            check(self, losses, rates, true, found)
        finite = [v for v in losses if math.isfinite(v)]
        facts = {"steps": self.steps, "epochs": len(self.epochs), "loss_kind": self.kind,
                 "outputs_form": self.outputs_form,
                 "loss_first": finite[0] if finite else None, "loss_last": finite[-1] if finite else None,
                 "neutral_loss": self.neutral_loss(), "prior_loss": self.prior_loss(),
                 "prior_from": self.frequencies()[1],
                 "pred_rate_last": rates[-1] if rates else None, "true_rate": sum(true) / len(true) if true else None,
                 "grad_norm_median": sorted(self._grad)[len(self._grad) // 2] if self._grad else None}
        return Report(sort_findings(found), facts, title="monitor")


# --- the rules (each reads the monitor's series) -----------------------------------------------------


@rule("LOSS_NON_FINITE", "error", "the training loss became NaN or inf; the message gives the first step and the "
      "first non-finite tensor found (outputs, targets, a parameter, a gradient, or the loss itself).",
      "pos_weight from the training set; lower the lr; torch.autograd.set_detect_anomaly(True)")
def loss_non_finite(mon: Monitor, losses, rates, true, out: list) -> None:
    if mon.non_finite is not None:
        step, where, value = mon.non_finite
        n_bad = sum(not math.isfinite(v) for v in losses)
        out.append(Finding("LOSS_NON_FINITE", "error",
                           f"the loss is {value} at step {step} (first of {n_bad} non-finite steps out of {len(losses)}); "
                           f"first non-finite tensor found: {where}. From here optimizer.step() writes NaN into the "
                           f"weights.", "assert torch.isfinite(loss), step  # and compute pos_weight once, from Y_train"))


def _last_windows(losses: list[float]) -> tuple[list[float], list[float]] | None:
    finite = [v for v in losses if math.isfinite(v)]
    return (finite, _windows(finite)) if len(finite) >= MIN_STEPS else None


@rule("LOSS_AT_LN2", "warning",
      f"the loss over the last tenth of the steps is at or above {1 - LN2_TOL:.0%} of the loss of outputs at 0 (ln 2 "
      "per label for BCE on logits, log C per positive for a softmax): worse than, or equal to, predicting 0.5 "
      "everywhere.", "remove a final nn.Sigmoid before BCEWithLogitsLoss; call optimizer.zero_grad() every step",
      see="02 §2 double_sigmoid; 07 §4 (zero_grad) and §5 (optimizer parameters)")
def loss_at_ln2(mon: Monitor, losses, rates, true, out: list) -> None:
    got, neutral = _last_windows(losses), mon.neutral_loss()
    if got is None or neutral is None:
        return
    finite, w = got
    last = w[-1]
    if last < (1 - LN2_TOL) * neutral:
        return
    if mon.kind == "bce":
        what = ("ln 2 = 0.693 per label, the loss of every output at probability 0.5" if mon.pos_weight is None
                else f"{fmt(neutral)}, the loss of every output at probability 0.5 under this pos_weight")
        prior = mon.prior_loss()
        below = (f" A constant guess of each label's frequency would score {fmt(prior)}." if prior is not None
                 and prior < (1 - LN2_TOL) * neutral else "")
        probs = (" The outputs are already probabilities (all in [0, 1] at the first step): a logits loss applies a "
                 "second sigmoid." if mon.outputs_form != "logits" and mon.outputs_form is not None else "")
        causes = ("outputs that are already probabilities (a final nn.Sigmoid/Softmax) fed to BCEWithLogitsLoss (a "
                  "negative's loss cannot go below 0.693); a forgotten optimizer.zero_grad() (gradients pile up and "
                  "every step overshoots); an lr of 0 or an optimizer over another model's parameters; if your loss "
                  "has a pos_weight, pass it: Monitor(..., pos_weight=pos_weight)")
    else:
        what, below, probs = f"log C per positive = {fmt(neutral)}, the loss of uniform outputs", "", ""
        causes = "an lr of 0, an optimizer over another model's parameters, a forgotten optimizer.zero_grad()"
    out.append(Finding("LOSS_AT_LN2", "warning",
                       f"after {len(finite)} steps the training loss is {fmt(last)} (first {fmt(finite[0])}), at or "
                       f"above {what}: the model does no better than outputs at 0.{below}{probs} Causes that hold a "
                       f"loss here: {causes}.",
                       "model outputs logits (no final Sigmoid) for nn.BCEWithLogitsLoss(); optimizer.zero_grad() "
                       "every step; build your optimizer after the model"))


@rule("LOSS_AT_PRIOR", "warning",
      f"the loss over the last two tenths of the steps is within {PRIOR_TOL:.0%} of the prior's loss (the mean binary "
      "entropy of the label frequencies, from train_targets or the batches): the model learned only the base rates.",
      "check inputs and labels align; more capacity or a larger lr; check the features reach the head",
      see="08 §3 (shuffled labels); 07 §1 (learning rate), §6 (unnormalised inputs) and §7 (weight decay)")
def loss_at_prior(mon: Monitor, losses, rates, true, out: list) -> None:
    got, prior, neutral = _last_windows(losses), mon.prior_loss(), mon.neutral_loss()
    if got is None or prior is None or prior <= 0 or (neutral is not None and prior >= (1 - LN2_TOL) * neutral):
        return  # balanced labels: the prior is the neutral loss, LOSS_AT_LN2's
    finite, w = got
    if len(w) < 2 or not all(abs(v - prior) <= PRIOR_TOL * prior for v in w[-2:]):
        return
    src = mon.frequencies()[1]
    out.append(Finding("LOSS_AT_PRIOR", "warning",
                       f"after {len(finite)} steps the training loss is {fmt(w[-1])} (first {fmt(finite[0])}), within "
                       f"{pct(PRIOR_TOL)} of {fmt(prior)}, the loss of predicting each label's frequency (from {src}) "
                       f"for every input: the model has learned the base rates and nothing that depends on the input. "
                       f"Causes: inputs that carry no information about the labels, or labels misaligned with their "
                       f"inputs (shuffled or sorted separately); too little capacity or too small an lr to get past "
                       f"the base rates; a weight decay far too large (it pulls every weight to 0, leaving the biases: "
                       f"the base rates); features that do not reach the head (a detached or frozen body, a constant "
                       f"input).",
                       "assert len(X) == len(Y); train on 100 examples until the loss falls well below the prior"))


@rule("LOSS_FLAT", "warning",
      f"the last tenth of the steps' loss differs from the first tenth's by less than {FLAT_REL:.0%} and by less "
      f"than {FLAT_Z:g} standard errors of the batch losses, whatever its level: the parameters do not move.",
      "build the optimizer over model.parameters() after the model; lr > 0; requires_grad on trained layers",
      see="07 §5 (an optimizer over only some of the parameters); 07 §1 (learning rate)")
def loss_flat(mon: Monitor, losses, rates, true, out: list) -> None:
    finite = [v for v in losses if math.isfinite(v)]
    if len(finite) < 2 * MIN_STEPS:
        return
    chunks = _chunks(finite)
    a, b = chunks[0], chunks[-1]
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    se = math.sqrt(_var(a) / len(a) + _var(b) / len(b))
    if abs(mb - ma) < FLAT_REL * abs(ma) and abs(mb - ma) <= FLAT_Z * se:
        out.append(Finding("LOSS_FLAT", "warning",
                           f"over {len(finite)} steps the training loss did not move beyond its own noise: "
                           f"{fmt(ma)} in the first tenth of the steps, {fmt(mb)} in the last (a change of "
                           f"{fmt(mb - ma)}, standard error {fmt(se)} from batch to batch). Training is not changing "
                           f"the model: an optimizer built over another copy of the parameters (stale: the model was "
                           f"re-created after it), frozen parameters (requires_grad=False), an lr of 0 or far too small.",
                           "optimizer = torch.optim.<YourOptimizer>(model.parameters(), ...)  # after the model is "
                           "built"))


@rule("PRED_RATE_COLLAPSE", "warning",
      f"the predicted-positive rate at 0.5 ends below {RATE_LOW:.0%} or above {RATE_HIGH:.0%} while the true rate is "
      f"in [{RATE_TRUE_RANGE[0]:.0%}, {RATE_TRUE_RANGE[1]:.0%}]: predictions drifted to all-absent or all-present "
      "(not for a softmax on single-label targets, whose prediction is the argmax).",
      "check the loss and pos_weight; tune per-label thresholds")
def pred_rate_collapse(mon: Monitor, losses, rates, true, out: list) -> None:
    if len(rates) < MIN_STEPS or not true or mon.non_finite is not None:
        return  # after a non-finite loss, NaN outputs compare false with 0.5: LOSS_NON_FINITE says what happened
    if mon.kind == "softmax" and mon._one_per_row:
        return  # single-label softmax: the argmax predicts, one class per row; no class need pass 0.5
    last, first = _windows(rates)[-1], _windows(rates)[0]
    true_rate = sum(true) / len(true)
    if RATE_TRUE_RANGE[0] <= true_rate <= RATE_TRUE_RANGE[1] and (last < RATE_LOW or last > RATE_HIGH):
        side = "every label absent" if last < RATE_LOW else "every label present"
        f1 = "F1 of 0" if last < RATE_LOW else f"F1 = 2*rate/(1+rate) = {fmt(2 * true_rate / (1 + true_rate))}"
        out.append(Finding("PRED_RATE_COLLAPSE", "warning",
                           f"the predicted-positive rate went from {pct(first)} (first tenth of the steps) to "
                           f"{pct(last)} (last tenth) while {pct(true_rate)} of the targets are positive: the model "
                           f"predicts {side}, which gives {f1} at threshold 0.5.",
                           "print(probs.mean(0), Y.mean(0)); check the loss / pos_weight; tune thresholds"))


@rule("GRAD_VANISHING", "warning",
      f"the median gradient norm of the last tenth of the steps is below {GRAD_VANISH_ABS:g}, or below "
      f"{GRAD_VANISH_REL:g}x the largest window's: the parameters stopped receiving signal.",
      "logits + BCEWithLogitsLoss (no saturating sigmoid); check for dead ReLUs")
def grad_vanishing(mon: Monitor, losses, rates, true, out: list) -> None:
    g = [v for v in mon._grad if math.isfinite(v)]
    if len(g) < MIN_STEPS:
        return
    w = _windows(g)
    if w[-1] < GRAD_VANISH_ABS or w[-1] < GRAD_VANISH_REL * max(w):
        out.append(Finding("GRAD_VANISHING", "warning",
                           f"the gradient norm fell to {fmt(w[-1])} in the last tenth of the steps (largest window "
                           f"{fmt(max(w))}, first {fmt(w[0])}): no signal reaches the parameters, so training has "
                           f"stopped while the loss is {fmt(losses[-1] if losses else None)}.",
                           "use logits + nn.BCEWithLogitsLoss(); check saturated sigmoids and dead ReLUs"))


@rule("GRAD_EXPLODING", "warning",
      f"a gradient norm above {GRAD_EXPLODE_ABS:g}, or above {GRAD_EXPLODE_REL:g}x the first tenth's median.",
      "lower the lr; torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)")
def grad_exploding(mon: Monitor, losses, rates, true, out: list) -> None:
    g = [v for v in mon._grad if math.isfinite(v)]
    if len(g) < MIN_STEPS:
        return
    first, peak = _windows(g)[0], max(g)
    if peak > GRAD_EXPLODE_ABS or peak > GRAD_EXPLODE_REL * max(first, 1e-12):
        out.append(Finding("GRAD_EXPLODING", "warning",
                           f"the gradient norm reached {fmt(peak)} at step {g.index(peak)} (first tenth of the steps: "
                           f"{fmt(first)}): one step of this size throws the weights far from where they were.",
                           "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); lower the lr"))


@rule("LOSS_UNSTABLE", "warning",
      f"the loss diverges (last tenth of the steps > {DIVERGE_RATIO:g}x the best tenth) or oscillates (the "
      f"second half's windows swing by more than {OSCILLATE_SPREAD:.0%} of their mean and 3 standard errors), after "
      "removing what the number of positives per batch explains: the lr is too high.",
      "lower the lr (x0.1); a scheduler")
def _adjusted_for_positives(losses: list[float], true: list[float]) -> tuple[list[float], float] | None:
    """The step losses with the part explained by each batch's share of positives removed (least squares on
    the steps' positive rate), and the R^2 of that fit; None when the rates were not recorded per step."""
    if len(true) != len(losses) or len(losses) < 2 * MIN_STEPS:
        return None
    pairs = [(t, v) for t, v in zip(true, losses, strict=True) if math.isfinite(v)]
    mt = sum(t for t, _ in pairs) / len(pairs)
    mv = sum(v for _, v in pairs) / len(pairs)
    stt = sum((t - mt) ** 2 for t, _ in pairs)
    if stt <= 0:
        return None
    slope = sum((t - mt) * (v - mv) for t, v in pairs) / stt
    svv = sum((v - mv) ** 2 for _, v in pairs)
    r2 = slope ** 2 * stt / svv if svv > 0 else 0.0
    return [v - slope * (t - mt) for t, v in pairs], r2


def loss_unstable(mon: Monitor, losses, rates, true, out: list) -> None:
    finite = [v for v in losses if math.isfinite(v)]
    if len(finite) < 2 * MIN_STEPS:
        return
    adj = _adjusted_for_positives(losses, true)
    series, note = finite, ""
    if adj is not None and adj[1] > 0.1:  # the batches' positives explain part of the swings: judge the rest
        series = adj[0]
        note = (f" (after removing the part explained by the number of positives per batch, which accounts for "
                f"{pct(adj[1])} of the step-to-step variance)")
    w = _windows(series)
    best, last = min(w), w[-1]
    half = w[len(w) // 2:]
    mean_half = sum(half) / len(half)
    turns = sum((b - a) * (c - b) < 0 for a, b, c in zip(half, half[1:], half[2:], strict=False))
    # a window's mean moves by its own noise too: the swing must exceed 3 standard errors of a window
    chunks = _chunks(series)[len(w) // 2:]
    se = max(math.sqrt(_var(c) / len(c)) if len(c) > 1 else 0.0 for c in chunks)
    if best > 0 and last > DIVERGE_RATIO * best:
        out.append(Finding("LOSS_UNSTABLE", "warning",
                           f"the loss diverges: it reached {fmt(best)} (best tenth of the steps) and is back at "
                           f"{fmt(last)} in the last tenth{note}: the lr is too large for this model.",
                           "lower the lr (x0.1)"))
    elif mean_half > 0 and (max(half) - min(half)) > max(OSCILLATE_SPREAD * mean_half, 3 * se) and turns >= 2:
        out.append(Finding("LOSS_UNSTABLE", "warning",
                           f"the loss oscillates: over the second half of the run its windows range from "
                           f"{fmt(min(half))} to {fmt(max(half))} (mean {fmt(mean_half)}), changing direction {turns} "
                           f"times{note}: the lr is too large.", "lower the lr (x0.1)"))


@rule("VAL_FLAT", "warning",
      f"the training loss fell below {TRAIN_FALL:g}x its first epoch while the validation metric moved by less "
      f"than {VAL_FLAT_DELTA:g} over 3+ epochs: memorisation, or labels misaligned with inputs.",
      "check X and Y are shuffled together; more data or regularisation")
def val_flat(mon: Monitor, losses, rates, true, out: list) -> None:
    ep = [e for e in mon.epochs if e["train_loss"] is not None and e["val_metric"] is not None]
    if len(ep) < 3:
        return
    tl = [e["train_loss"] for e in ep]
    vm = [e["val_metric"] for e in ep]
    if tl[-1] < TRAIN_FALL * tl[0] and max(vm) - min(vm) < VAL_FLAT_DELTA:
        out.append(Finding("VAL_FLAT", "warning",
                           f"over {len(ep)} epochs the training loss fell from {fmt(tl[0])} to {fmt(tl[-1])} while the "
                           f"validation metric stayed within [{fmt(min(vm))}, {fmt(max(vm))}]: the model memorises the "
                           f"training set without learning anything that transfers (or the labels no longer match "
                           f"their inputs).", "assert len(X) == len(Y); shuffle X and Y with the same permutation"))


@rule("ALL_ZERO_PHASE", "info",
      "the first epoch(s) predict no positive at all on validation (predicted-positive rate 0) before positives appear, "
      "and the validation metric does not improve during them: the model is learning the base rates first.",
      "last.bias.data = torch.logit(Y_train.mean(0).clamp(1e-3, 1 - 1e-3))")
def all_zero_phase(mon: Monitor, losses, rates, true, out: list) -> None:
    ep = mon.epochs
    zero = 0
    while zero < len(ep) and ep[zero]["val_pred_rate"] is not None and ep[zero]["val_pred_rate"] == 0:
        zero += 1
    if zero < ZERO_PHASE_EPOCHS or zero == len(ep):  # an all-zero run to the end is PRED_RATE_COLLAPSE's
        return
    vm = [e["val_metric"] for e in ep[:zero] if e["val_metric"] is not None]
    if vm and max(vm) - vm[0] > VAL_FLAT_DELTA:
        return
    out.append(Finding("ALL_ZERO_PHASE", "info",
                       f"{'epoch 1' if zero == 1 else f'epochs 1-{zero}'} of {len(ep)} predict{'s' if zero == 1 else ''} no positive label on validation (predicted-positive rate "
                       f"0 at 0.5){f', the metric flat at {fmt(vm[0])}' if vm else ''}: with default init every logit "
                       f"starts near 0, and on sparse labels the first epochs only learn to predict fewer positives. "
                       f"Initialising the final bias to each label's prior starts the model at the prior's loss and "
                       f"shortens this phase; it does not skip it: a label under 50% is still predicted absent at 0.5 "
                       f"by its prior, by construction, until the model learns from the inputs.",
                       "last.bias.data = torch.logit(Y_train.float().mean(0).clamp(1e-3, 1 - 1e-3))"))
