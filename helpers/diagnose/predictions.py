"""Rules on how predictions are made and scored: :func:`check_predictions` looks at the 0/1
predictions a user computed (and the scores they came from) next to the true targets, and finds
argmax used as a multi-label prediction, 0.5 applied to logits or to softmax scores, and accuracy
reported on sparse labels."""

from __future__ import annotations

from typing import Any

import torch

from helpers.diagnose.context import as_tensor, fmt, pct, shape
from helpers.diagnose.registry import rule
from helpers.diagnose.report import Finding, Report, sort_findings

ACCURACY_SPARSE_RATE = 0.1  # ACCURACY_PARADOX: positive rate at or below this (all-zero accuracy >= 90%)


def _as_2d(value: Any, what: str) -> torch.Tensor:
    t = as_tensor(value, what).detach().cpu()
    if t.ndim == 1:
        t = t.reshape(-1, 1)
    if t.ndim != 2 or t.shape[0] == 0:
        raise ValueError(f"{what} must be an (N, L) array, got shape {tuple(t.shape)}")
    return t.float()


@rule("ARGMAX_AS_MULTILABEL", "error",
      "the predictions have exactly one positive per row (argmax) while some target rows have 2+ positives.",
      "preds = (torch.sigmoid(logits) > threshold).float()")
def argmax_as_multilabel(preds: torch.Tensor, y: torch.Tensor, scores: torch.Tensor | None, out: list) -> None:
    per_row, true_rows = preds.sum(1), y.sum(1)
    multi = int((true_rows >= 2).sum())
    if preds.shape[1] > 1 and bool((per_row == 1).all()) and multi:
        out.append(Finding("ARGMAX_AS_MULTILABEL", "error",
                           f"every one of the {preds.shape[0]} prediction rows {shape(preds)} has exactly one positive, "
                           f"while {multi} target rows have 2 or more (up to {int(true_rows.max())}): argmax picks one "
                           f"label per row, so recall cannot exceed 1/k on a row with k labels.",
                           "preds = (torch.sigmoid(logits) > 0.5).float()  # one decision per label"))


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool((a == b).all())


@rule("THRESHOLD_ON_LOGITS", "error",
      "0.5 applied to scores outside [0, 1] (logits): logit > 0.5 means probability > 0.62.",
      "preds = (logits > 0).float()  # or torch.sigmoid(logits) > 0.5")
def threshold_on_logits(preds: torch.Tensor, y: torch.Tensor, scores: torch.Tensor | None, out: list) -> None:
    if scores is None or scores.shape != preds.shape:
        return
    lo, hi = scores.min().item(), scores.max().item()
    if (lo < 0 or hi > 1) and (_same(preds, (scores > 0.5).float()) or _same(preds, (scores >= 0.5).float())):
        moved = int(((scores > 0) & (scores <= 0.5)).sum())
        out.append(Finding("THRESHOLD_ON_LOGITS", "error",
                           f"the predictions equal scores > 0.5, but the scores range over [{fmt(lo)}, {fmt(hi)}]: they "
                           f"are logits, and logit > 0.5 means probability > 0.62; {moved} entries with probability "
                           f"between 0.5 and 0.62 were called negative.",
                           "preds = (torch.sigmoid(logits) > 0.5).float()  # or logits > 0"))


@rule("SOFTMAX_THRESHOLD", "error",
      "the scores are a softmax (rows sum to 1) and were thresholded at 0.5 on multi-label targets: at most one "
      "label per row can pass.", "scores = torch.sigmoid(logits)  # per label, from a BCE-trained model")
def softmax_threshold(preds: torch.Tensor, y: torch.Tensor, scores: torch.Tensor | None, out: list) -> None:
    if scores is None or scores.shape != preds.shape or scores.shape[1] < 2:
        return
    is_softmax = scores.min().item() >= 0 and (scores.sum(1) - 1).abs().max().item() < 1e-3
    multi = int((y.sum(1) >= 2).sum())
    if is_softmax and multi and (_same(preds, (scores > 0.5).float()) or _same(preds, (scores >= 0.5).float())):
        out.append(Finding("SOFTMAX_THRESHOLD", "error",
                           f"the scores {shape(scores)} sum to 1 on every row (a softmax) and the predictions are scores "
                           f"> 0.5, but {multi} target rows have 2 or more positives: a softmax gives a row with k "
                           f"labels at most 1/k each, so at most one label per row can pass 0.5 (the predictions have "
                           f"at most {int(preds.sum(1).max())} per row).",
                           "train with BCEWithLogitsLoss; scores = torch.sigmoid(logits)"))


@rule("ACCURACY_PARADOX", "warning",
      f"labels are sparse (positive rate <= {ACCURACY_SPARSE_RATE:.0%}), so element-wise accuracy is high for "
      "any model, even all-zero predictions; the message compares the two.",
      "report micro/macro-F1 and mAP (sklearn.metrics)")
def accuracy_paradox(preds: torch.Tensor, y: torch.Tensor, scores: torch.Tensor | None, out: list) -> None:
    rate = y.mean().item()
    if rate > ACCURACY_SPARSE_RATE:
        return
    acc = (preds == y).float().mean().item()
    zero_acc = 1 - rate
    tp = (preds * y).sum().item()
    f1 = 2 * tp / max(preds.sum().item() + y.sum().item(), 1)
    out.append(Finding("ACCURACY_PARADOX", "warning",
                       f"only {pct(rate)} of the {y.numel()} targets are positive: predicting nothing at all scores an "
                       f"element-wise accuracy of {pct(zero_acc)}, and these predictions score {pct(acc)} (micro-F1 "
                       f"{fmt(f1)}). Accuracy cannot tell a useful model from an empty one here.",
                       "sklearn.metrics.f1_score(Y, preds, average='macro', zero_division=0)"))


def check_predictions(y_pred: Any, targets: Any, *, scores: Any = None) -> Report:
    """Check how 0/1 predictions ``y_pred`` (N, L) were made and would be scored against
    ``targets`` (N, L); ``scores`` are the values they were thresholded from (logits, sigmoid or
    softmax outputs), when known. Returns a :class:`Report`; see the package docstring's codes."""
    preds = _as_2d(y_pred, "y_pred")
    y = _as_2d(targets, "targets")
    if preds.shape != y.shape:
        if preds.shape[1] == 1 and y.shape[1] > 1 and preds.shape[0] == y.shape[0]:
            idx = preds.reshape(-1).long().clamp(0, y.shape[1] - 1)
            preds = torch.nn.functional.one_hot(idx, y.shape[1]).float()  # class indices: argmax output
        else:
            raise ValueError(f"y_pred {tuple(preds.shape)} and targets {tuple(y.shape)} must have the same shape")
    s = None if scores is None else _as_2d(scores, "scores")
    if s is not None and s.shape != y.shape:
        raise ValueError(f"scores {tuple(s.shape)} and targets {tuple(y.shape)} must have the same shape")
    y = (y > 0.5).float()
    if not bool(((preds == 0) | (preds == 1)).all()):
        raise ValueError("y_pred must hold 0/1 predictions (thresholded); pass the raw values as scores=")
    found: list[Finding] = []
    for check in (argmax_as_multilabel, threshold_on_logits, softmax_threshold, accuracy_paradox):
        check(preds, y, s, found)
    facts = {"n_rows": int(y.shape[0]), "n_labels": int(y.shape[1]), "true_positive_rate": y.mean().item(),
             "pred_positive_rate": preds.mean().item(),
             "scores_range": None if s is None else [s.min().item(), s.max().item()]}
    return Report(sort_findings(found), facts, title="check_predictions")

