"""A training-time companion to :func:`check_setup`: :class:`Monitor` watches the loss, the
predictions and the gradients while a model trains, and reports what only shows during training,
with the same codes, findings and report as the checker.

In your own loop, two lines::

    mon = Monitor(n_labels)
    for epoch in range(epochs):
        for xb, yb in loader:
            out = model(xb); loss = criterion(out, yb); loss.backward()
            mon.update(loss=loss, outputs=out, targets=yb, model=model)   # after backward, before zero_grad
            optimizer.step(); optimizer.zero_grad()
        mon.end_epoch(val_metric=val_map)        # optional: enables VAL_FLAT and ALL_ZERO_PHASE
    mon.report()

It is cheap: per step it keeps the loss, the predicted-positive rate, the true rate and the
gradient norm as small tensors (no copy of the outputs), and names the first non-finite tensor
only when a loss first turns NaN/inf. ``helpers.train.fit`` runs one by default
(``result.monitor``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from helpers.diagnose.context import fmt, pct
from helpers.diagnose.registry import rule
from helpers.diagnose.report import Finding, Report, sort_findings

CHANCE_TOL = 0.03  # LOSS_AT_CHANCE: last-window loss within this relative distance of the chance value
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
    n = max(1, min(n, len(values)))
    size = len(values) / n
    return [sum(values[int(i * size):int((i + 1) * size)]) / max(1, int((i + 1) * size) - int(i * size))
            for i in range(n)]


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

    ``n_labels``: the number of labels (for the chance loss of a softmax, log C); ``loss``:
    ``"bce"`` (sigmoid per label: chance ln 2 per element, outputs are logits), ``"softmax"``
    (chance log C per positive) or ``"other"`` (no chance check; pass ``probs=`` to
    :meth:`update` for the predicted rate)."""

    def __init__(self, n_labels: int, *, loss: str = "bce") -> None:
        if isinstance(n_labels, bool) or not isinstance(n_labels, int) or n_labels < 1:
            raise ValueError(f"n_labels must be a positive int, got {n_labels!r}")
        if loss not in KINDS:
            raise ValueError(f"loss must be one of {KINDS}, got {loss!r}")
        self.n_labels, self.kind = n_labels, loss
        self._loss: list[torch.Tensor] = []
        self._rate: list[torch.Tensor] = []
        self._true: list[torch.Tensor] = []
        self._pos_per_row: list[torch.Tensor] = []
        self._grad: list[float] = []
        self.non_finite: tuple[int, str, float] | None = None  # (step, tensor named, loss value)
        self.epochs: list[dict[str, Any]] = []
        self._epoch_start = 0

    @property
    def steps(self) -> int:
        return len(self._loss)

    def update(self, loss: torch.Tensor | float | None = None, outputs: torch.Tensor | None = None,
               targets: torch.Tensor | None = None, model: nn.Module | None = None, *,
               probs: torch.Tensor | None = None, grad_norm: float | None = None) -> None:
        """Record one step: call after ``loss.backward()`` (so gradients exist) and before
        ``optimizer.zero_grad()``. ``outputs`` are logits (or pass ``probs``); ``model`` gives the
        gradient norm unless ``grad_norm`` is passed."""
        if loss is not None:
            lt = loss.detach().float().mean() if isinstance(loss, torch.Tensor) else torch.tensor(float(loss))
            self._loss.append(lt)
            if self.non_finite is None and not bool(torch.isfinite(lt)):
                self.non_finite = (self.steps - 1, _first_non_finite(outputs, targets, model), float(lt))
        with torch.no_grad():
            if probs is not None:
                pred = probs.detach() > 0.5
            elif outputs is not None and self.kind == "softmax":
                pred = torch.softmax(outputs.detach().float(), dim=-1) > 0.5
            elif outputs is not None:
                pred = outputs.detach() > 0  # sigmoid(z) > 0.5
            else:
                pred = None
            if pred is not None:
                self._rate.append(pred.float().mean())
            if targets is not None:
                yb = targets.detach().float()
                self._true.append((yb > 0.5).float().mean())
                if yb.ndim >= 2:
                    self._pos_per_row.append((yb > 0.5).float().sum(-1).mean())
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

    def chance_loss(self) -> float | None:
        """The loss of a constant, uninformed prediction: ln 2 per element (BCE on logits), log C per
        positive (softmax), None otherwise."""
        if self.kind == "bce":
            return math.log(2)
        if self.kind == "softmax" and self.n_labels > 1:
            k = float(torch.stack(self._pos_per_row).mean()) if self._pos_per_row else 1.0
            return max(k, 1.0) * math.log(self.n_labels)
        return None

    def report(self) -> Report:
        """The findings so far (a :class:`Report` titled ``monitor``)."""
        losses = [float(v) for v in self._loss]
        rates = [float(v) for v in self._rate]
        true = [float(v) for v in self._true]
        found: list[Finding] = []
        for check in (loss_non_finite, loss_at_chance, pred_rate_collapse, grad_vanishing, grad_exploding,
                      loss_unstable, val_flat, all_zero_phase):
            check(self, losses, rates, true, found)
        finite = [v for v in losses if math.isfinite(v)]
        facts = {"steps": self.steps, "epochs": len(self.epochs), "loss_kind": self.kind,
                 "loss_first": finite[0] if finite else None, "loss_last": finite[-1] if finite else None,
                 "chance_loss": self.chance_loss(),
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


@rule("LOSS_AT_CHANCE", "warning",
      f"the loss over the last tenth of the steps is within {CHANCE_TOL:.0%} of the chance value (ln 2 per label "
      "for BCE on logits, log C per positive for a softmax): the model predicts no better than a constant.",
      "remove a final nn.Sigmoid before BCEWithLogitsLoss; check labels align with inputs")
def loss_at_chance(mon: Monitor, losses, rates, true, out: list) -> None:
    chance = mon.chance_loss()
    finite = [v for v in losses if math.isfinite(v)]
    if chance is None or len(finite) < MIN_STEPS:
        return
    last = _windows(finite)[-1]
    if abs(last - chance) <= CHANCE_TOL * chance:
        what = "ln 2 = 0.693 per label (BCE at logit 0)" if mon.kind == "bce" else f"log C per positive = {fmt(chance)}"
        out.append(Finding("LOSS_AT_CHANCE", "warning",
                           f"after {len(finite)} steps the training loss is {fmt(last)} (first {fmt(finite[0])}), the "
                           f"chance value {what}: the model does no better than a constant guess. Typical causes: a "
                           f"final nn.Sigmoid before BCEWithLogitsLoss (the loss cannot go below 0.693 on negatives), "
                           f"labels shuffled against the inputs, or an lr of 0.",
                           "model outputs logits (no final Sigmoid); nn.BCEWithLogitsLoss()"))


@rule("PRED_RATE_COLLAPSE", "warning",
      f"the predicted-positive rate at 0.5 ends below {RATE_LOW:.0%} or above {RATE_HIGH:.0%} while the true rate is "
      f"in [{RATE_TRUE_RANGE[0]:.0%}, {RATE_TRUE_RANGE[1]:.0%}]: predictions drifted to all-absent or all-present.",
      "check the loss and pos_weight; tune per-label thresholds")
def pred_rate_collapse(mon: Monitor, losses, rates, true, out: list) -> None:
    if len(rates) < MIN_STEPS or not true:
        return
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
      f"second half's windows swing by more than {OSCILLATE_SPREAD:.0%} of their mean): the lr is too high.",
      "lower the lr (x0.1); a scheduler")
def loss_unstable(mon: Monitor, losses, rates, true, out: list) -> None:
    finite = [v for v in losses if math.isfinite(v)]
    if len(finite) < 2 * MIN_STEPS:
        return
    w = _windows(finite)
    best, last = min(w), w[-1]
    half = w[len(w) // 2:]
    mean_half = sum(half) / len(half)
    turns = sum((b - a) * (c - b) < 0 for a, b, c in zip(half, half[1:], half[2:], strict=False))
    if best > 0 and last > DIVERGE_RATIO * best:
        out.append(Finding("LOSS_UNSTABLE", "warning",
                           f"the loss diverges: it reached {fmt(best)} (best tenth of the steps) and is back at "
                           f"{fmt(last)} in the last tenth: the lr is too large for this model.",
                           "lower the lr (x0.1)"))
    elif mean_half > 0 and (max(half) - min(half)) > OSCILLATE_SPREAD * mean_half and turns >= 2:
        out.append(Finding("LOSS_UNSTABLE", "warning",
                           f"the loss oscillates: over the second half of the run its windows range from "
                           f"{fmt(min(half))} to {fmt(max(half))} (mean {fmt(mean_half)}), changing direction {turns} "
                           f"times: the lr is too large.", "lower the lr (x0.1)"))


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
                       f"Initialise the final bias to each label's prior to skip that phase.",
                       "last.bias.data = torch.logit(Y_train.float().mean(0).clamp(1e-3, 1 - 1e-3))"))
