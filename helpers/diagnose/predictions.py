"""Rules on how predictions are made and scored: :func:`check_predictions` looks at the 0/1
predictions a user computed (and the scores they came from) next to the true targets, and finds
argmax used as a multi-label prediction, 0.5 applied to logits or to softmax scores, and accuracy
reported on sparse labels."""

from __future__ import annotations

from typing import Any

import torch
from scipy.stats import norm
from sklearn.metrics import average_precision_score

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
      "the predictions have exactly one positive per row (argmax) while some target rows have 2+ positives; or, "
      "with a single output column, every prediction is 0 (an argmax over one column is always index 0) while "
      "some scores are positive read as logits and as probabilities (> 0 and > 0.5).",
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
        return
    if preds.shape[1] != 1 or scores is None or scores.shape != preds.shape or bool(preds.any()) or not bool(y.any()):
        return
    called = int(((scores > 0) & (scores > 0.5)).sum())
    if called:
        out.append(Finding("ARGMAX_AS_MULTILABEL", "error",
                           f"every one of the {preds.shape[0]} predictions is 0, though {called} of the scores "
                           f"(one output column, range [{fmt(scores.min().item())}, {fmt(scores.max().item())}]) are "
                           f"positive whether read as logits (> 0) or as probabilities (> 0.5), and {int(y.sum())} "
                           f"targets are 1: an argmax over a single output column (torch.max(outputs, 1)[1]) is "
                           f"always index 0. A binary head is thresholded, not argmaxed.",
                           "preds = (outputs > 0).float()  # logits; or torch.sigmoid(outputs) > 0.5"))


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


MISALIGNED_ALPHA = 1e-3  # LABEL_COLUMNS_MISALIGNED: a label's frequency test across splits, Bonferroni over labels
MISALIGNED_MIN_POS = 10  # ... and a label's AP below its prevalence counts only with this many positives
MISALIGNED_MAX_SEARCH = 200  # ... and only up to this many labels (the search for the column that fits is L^2)


@rule("LABEL_COLUMNS_MISALIGNED", "warning",
      f"check_predictions(..., train_targets=): a label's positive rate differs between the training targets and "
      f"these targets beyond chance (two-proportion test, p < {MISALIGNED_ALPHA:g} after Bonferroni), or a label "
      f"with {MISALIGNED_MIN_POS}+ positives has an AP below its prevalence while another column's scores rank it well "
      "(AP at least halfway from the prevalence to 1, or 2x the prevalence): the label columns may be in another order at evaluation.",
      "use one fixed list of label names for every split (MultiLabelBinarizer(classes=names))")
def label_columns_misaligned(preds: torch.Tensor, y: torch.Tensor, scores: torch.Tensor | None,
                             train: torch.Tensor, out: list) -> None:
    n_tr, n_ev = train.shape[0], y.shape[0]
    pos_tr, pos_ev = (train > 0.5).sum(0).double(), y.sum(0).double()
    p_tr, p_ev = pos_tr / n_tr, pos_ev / n_ev
    pooled = (pos_tr + pos_ev) / (n_tr + n_ev)
    se = (pooled * (1 - pooled) * (1 / n_tr + 1 / n_ev)).sqrt()
    z = ((p_tr - p_ev).abs() / se.clamp(min=1e-12)).where(se > 0, torch.zeros_like(se))
    pvals = torch.tensor(2 * norm.sf(z.numpy()))
    moved = [j for j in range(y.shape[1]) if float(pvals[j]) * y.shape[1] < MISALIGNED_ALPHA]
    low_ap: list[tuple[int, float, float, int, float]] = []
    if scores is not None and y.shape[1] <= MISALIGNED_MAX_SEARCH:
        for j in range(y.shape[1]):
            if not MISALIGNED_MIN_POS <= int(pos_ev[j]) < n_ev:
                continue
            ap = float(average_precision_score(y[:, j].numpy(), scores[:, j].numpy()))
            prev = float(p_ev[j])
            if ap >= prev:
                continue
            # evidence of a swap: another column's scores rank this label's positives well
            others = [(k, float(average_precision_score(y[:, j].numpy(), scores[:, k].numpy())))
                      for k in range(y.shape[1]) if k != j]
            k, best = max(others, key=lambda t: t[1])
            if best >= min(2 * prev, prev + 0.5 * (1 - prev)):  # halfway from chance to perfect, at most 2x
                low_ap.append((j, ap, prev, k, best))
    if not moved and not low_ap:
        return
    parts = []
    if moved:
        shown = ", ".join(f"{j} ({pct(float(p_tr[j]))} in train, {pct(float(p_ev[j]))} here)" for j in moved[:5])
        parts.append(f"{len(moved)} of {y.shape[1]} labels have a positive rate here that differs from the training "
                     f"targets' beyond chance (two-proportion test, p < {MISALIGNED_ALPHA:g} after Bonferroni): "
                     f"label {shown}{' ...' if len(moved) > 5 else ''}")
    if low_ap:
        shown = ", ".join(f"{j} (AP {fmt(a)} < prevalence {fmt(p)}; column {k}'s scores give AP {fmt(b)})"
                          for j, a, p, k, b in low_ap[:5])
        parts.append(f"{len(low_ap)} label{'s' * (len(low_ap) > 1)} score an AP below their prevalence, worse than "
                     f"random scores, while another column's scores rank them well: label {shown}"
                     f"{' ...' if len(low_ap) > 5 else ''}")
    out.append(Finding("LABEL_COLUMNS_MISALIGNED", "warning",
                       "; ".join(parts) + ". Label columns in another order at evaluation (MultiLabelBinarizer sorts "
                       "class names; dict or set order) give exactly this: each column is scored against another "
                       "label's targets. Check that every split uses the same list of label names in the same order.",
                       "mlb = MultiLabelBinarizer(classes=label_names)  # one fixed order for every split"))


def _finite_or_finding(t: torch.Tensor, what: str, found: list) -> bool:
    n_nan, n_inf = int(torch.isnan(t).sum()), int(torch.isinf(t).sum())
    if n_nan or n_inf:
        found.append(Finding("NON_FINITE", "error",
                             f"{what} {shape(t)} contain {n_nan} NaN and {n_inf} inf values"
                             + (" (all of them)" if n_nan + n_inf == t.numel() else "")
                             + ": the checks and any metric on them are meaningless; find where they were produced "
                             "(a NaN loss in training writes NaN into the weights, missing labels read as NaN).",
                             f"assert torch.isfinite({what}).all()"))
        return False
    return True


def _class_indices(preds: torch.Tensor, raw: Any, n_labels: int) -> torch.Tensor:
    """(N, 1) predictions read as class indices (argmax output), only when they are integers in [0, L)."""
    t = as_tensor(raw, "y_pred")
    integral = not t.is_floating_point() or bool((preds == preds.round()).all())
    if not integral or preds.min().item() < 0 or preds.max().item() > n_labels - 1:
        raise ValueError(f"y_pred has shape {tuple(preds.shape)} with values in [{fmt(preds.min().item())}, "
                         f"{fmt(preds.max().item())}] but targets have {n_labels} labels: pass (N, {n_labels}) 0/1 "
                         f"predictions, or class indices (integers in [0, {n_labels - 1}]) from argmax")
    return torch.nn.functional.one_hot(preds.reshape(-1).long(), n_labels).float()


def check_predictions(y_pred: Any, targets: Any, *, scores: Any = None, train_targets: Any = None) -> Report:
    """Check how 0/1 predictions ``y_pred`` (N, L) were made and would be scored against
    ``targets`` (N, L); ``scores`` are the values they were thresholded from (logits, sigmoid or
    softmax outputs), when known; ``train_targets`` the training split's (M, L) targets, to check
    that the label columns are in the same order (LABEL_COLUMNS_MISALIGNED). Returns a
    :class:`Report`; see the package docstring's codes."""
    preds = _as_2d(y_pred, "y_pred")
    y = _as_2d(targets, "targets")
    facts: dict[str, Any] = {"n_rows": int(y.shape[0]), "n_labels": int(y.shape[1])}
    found: list[Finding] = []
    if not _finite_or_finding(y, "targets", found):
        return Report(found, facts, title="check_predictions")
    if preds.shape != y.shape:
        if preds.shape[1] == 1 and y.shape[1] > 1 and preds.shape[0] == y.shape[0]:
            if not _finite_or_finding(preds, "y_pred", found):
                return Report(found, facts, title="check_predictions")
            preds = _class_indices(preds, y_pred, y.shape[1])
            facts["y_pred_read_as"] = "class indices (one label per row)"
        else:
            raise ValueError(f"y_pred {tuple(preds.shape)} and targets {tuple(y.shape)} must have the same shape")
    s = None if scores is None else _as_2d(scores, "scores")
    if s is not None and s.shape != y.shape:
        raise ValueError(f"scores {tuple(s.shape)} and targets {tuple(y.shape)} must have the same shape")
    tt = None
    if train_targets is not None:
        tt = _as_2d(train_targets, "train_targets")
        if tt.shape[1] != y.shape[1]:
            raise ValueError(f"train_targets have {tt.shape[1]} label columns but targets have {y.shape[1]}: pass the "
                             f"training split's targets with the same labels")
        if not _finite_or_finding(tt, "train_targets", found):
            tt = None
    ok_preds = _finite_or_finding(preds, "y_pred", found)
    ok_scores = s is None or _finite_or_finding(s, "scores", found)
    if not ok_preds:
        return Report(sort_findings(found), facts, title="check_predictions")
    if not ok_scores:
        s = None
    y = (y > 0.5).float()
    if not bool(((preds == 0) | (preds == 1)).all()):
        raise ValueError("y_pred must hold 0/1 predictions (thresholded); pass the raw values as scores=")
    for check in (argmax_as_multilabel, threshold_on_logits, softmax_threshold, accuracy_paradox):
        check(preds, y, s, found)
    if tt is not None:
        label_columns_misaligned(preds, y, s, tt, found)
    facts.update({"true_positive_rate": y.mean().item(), "pred_positive_rate": preds.mean().item(),
                  "scores_range": None if s is None else [s.min().item(), s.max().item()]})
    return Report(sort_findings(found), facts, title="check_predictions")
