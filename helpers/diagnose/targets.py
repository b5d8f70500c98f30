"""Rules on the batch and the training labels, before the model runs: dtypes, finiteness, target
values and encoding, label counts over the training set, and labels missing from the batch."""

from __future__ import annotations

import math

import torch

from helpers.diagnose.context import Context, fmt, labels, pct, shape
from helpers.diagnose.registry import rule

RARE_MIN_COUNT = 5  # a label with fewer positives than this in train_targets is RARE_LABEL
RARE_MIN_RATE = 0.005  # ... or with a positive rate below this


@rule("INPUT_DTYPE", "error", "floating inputs of another dtype than the model's parameters (float64 from numpy).",
      "inputs = inputs.float()")
def input_dtype(ctx: Context) -> None:
    x, pdt = ctx.x, ctx.param_dtype()
    if pdt is not None and x.is_floating_point() and x.dtype != pdt:
        ctx.add("INPUT_DTYPE", "error",
                f"inputs are {x.dtype} but the model's parameters are {pdt}: the first layer raises a dtype error "
                f"('mat1 and mat2 must have the same dtype' for nn.Linear; numpy arrays are float64). The other "
                f"checks ran on inputs.to({pdt}).",
                "inputs = inputs.float()" if pdt == torch.float32 else f"inputs = inputs.to({pdt})")
        ctx.x = x.to(pdt)
        ctx.repairs.append(f"inputs.to({pdt})")


@rule("SHAPE_MISMATCH", "error/warning",
      "inputs and targets differ in batch size, or outputs and targets differ in shape (warning for "
      "unrecognized losses), or train_targets have another number of labels.",
      "make outputs.shape == targets.shape (view/squeeze)")
def batch_rows(ctx: Context) -> None:
    x, y = ctx.x, ctx.y
    ctx.batch_ok = x.shape[0] == y.shape[0]
    if not ctx.batch_ok:
        ctx.add("SHAPE_MISMATCH", "error",
                f"inputs have {x.shape[0]} rows {shape(x)} but targets have {y.shape[0]} {shape(y)}: each input "
                f"row needs its target row. The loss checks and the probe were skipped.",
                "assert len(inputs) == len(targets)")


@rule("NON_FINITE", "error",
      "NaN/inf in inputs, targets, outputs, the loss, the gradients, or the loss during the probe.",
      "find the NaN source (data, pos_weight, lr)")
def non_finite_batch(ctx: Context) -> None:
    for what, t in (("inputs", ctx.x), ("targets", ctx.y)):
        if t.is_floating_point():
            n_nan, n_inf = int(torch.isnan(t).sum()), int(torch.isinf(t).sum())
            if n_nan or n_inf:
                ctx.add("NON_FINITE", "error",
                        f"{what} {shape(t)} contain {n_nan} NaN and {n_inf} inf values"
                        + (" (missing labels encoded as NaN? mask them out of the loss)" if what == "targets"
                           else "") + ": every loss and gradient they touch becomes NaN.",
                        f"assert torch.isfinite({what}).all()")


def _kdim_indices(ctx: Context) -> bool:
    """CrossEntropyLoss/NLLLoss's K-dimensional case: integer targets (N, d1, ...) with outputs (N, C, d1, ...)."""
    y, o = ctx.y, ctx.out
    return (ctx.kind in ("ce", "nll") and not y.is_floating_point() and o is not None and y.ndim >= 2
            and o.ndim == y.ndim + 1 and o.shape[0] == y.shape[0] and tuple(o.shape[2:]) == tuple(y.shape[1:]))


@rule("SINGLE_LABEL_TARGETS", "info",
      "CrossEntropyLoss/NLLLoss with class-index targets, or targets with exactly one positive per row (per "
      "position) in the batch and the training labels: a single-label setup; multi-label checks skipped.",
      "(N, L) multi-hot float targets for multi-label data; nn.CrossEntropyLoss() for single-label data")
def single_label(ctx: Context) -> None:
    y, kind = ctx.y, ctx.kind
    finite = not y.is_floating_point() or bool(torch.isfinite(y).all())
    if _kdim_indices(ctx):
        c = ctx.out.shape[1]
        ctx.class_axis = 1
        if c == 2:
            ctx.two_way = True
            ctx.facts["formulation"] = "a two-way softmax per label"
            return  # (N, 2, L) logits, (N, L) 0/1 class indices: one two-way softmax per label, multi-label
        ctx.single_label = True
        ctx.add("SINGLE_LABEL_TARGETS", "info",
                f"targets {shape(y)} {y.dtype} are class indices per position for outputs {shape(ctx.out)} "
                f"({ctx.loss_name}'s K-dimensional case): one of {c} classes at each position, a single-label "
                f"setup per position; multi-label checks were skipped.", "preds = outputs.argmax(1)  # per position")
        return
    indices = y.ndim == 1 or (y.ndim == 2 and y.numel() > 0 and finite and int(y.max()) > 1)  # class indices
    if kind in ("ce", "nll") and not y.is_floating_point() and indices:
        ctx.single_label = True
        ctx.add("SINGLE_LABEL_TARGETS", "info",
                f"targets {shape(y)} {y.dtype} are class indices for {ctx.loss_name}: one label per sample, a "
                f"single-label (multi-class) setup. Multi-label checks were skipped; a multi-label task needs "
                f"(N, L) multi-hot float targets and BCEWithLogitsLoss.",
                "criterion = nn.BCEWithLogitsLoss(); targets = multi_hot.float()")
        return
    if kind in ("ce", "nll") and y.ndim >= 2 and y.shape[1] > 1 and finite:
        if y.ndim > 2:
            ctx.class_axis = 1
        per_pos = ctx.label_rows().sum(1)
        if bool((per_pos == 1).all()):
            ctx.one_hot = True
            where = "row" if y.ndim == 2 else "position"
            ctx.add("SINGLE_LABEL_TARGETS", "info",
                    f"every {where} of the targets {shape(y)} has exactly one positive label (one-hot): this batch "
                    f"is single-label, which {ctx.loss_name} handles. If other samples can have several labels, "
                    f"use BCEWithLogitsLoss; the 0.5-threshold check (COLLAPSED_PREDICTIONS) was skipped.",
                    "preds = outputs.argmax(1)  # single-label")
        return
    # a sigmoid loss on one-hot data: every row of the batch (and of train_targets) has exactly one positive
    tt = ctx.tt
    if kind in ("bce_logits", "bce") and y.ndim == 2 and y.shape[1] > 2 and y.shape[0] >= 8 and finite:
        one = bool(((y > 0.5).sum(1) == 1).all())
        if one and (tt is None or (tt.ndim == 2 and tt.shape[1] == y.shape[1]
                                   and bool(((tt > 0.5).sum(1) == 1).all()))):
            ctx.one_hot = True
            src = "and of train_targets " if tt is not None else ""
            ctx.add("SINGLE_LABEL_TARGETS", "info",
                    f"every row of the targets {shape(y)} {src}has exactly one positive label: the data is "
                    f"single-label (one class per sample). {ctx.loss_name} with one sigmoid per label trains, but "
                    f"nothing makes the scores pick one class; if exactly one label is always true, a softmax "
                    f"(CrossEntropyLoss on class indices) and argmax fit the task.",
                    "criterion = nn.CrossEntropyLoss(); targets = y.argmax(1); preds = logits.argmax(1)")


@rule("TARGET_DTYPE", "error/warning",
      "integer/bool targets for BCEWithLogitsLoss or BCELoss (error) or MSE/L1 (warning, works by promotion); "
      "float64 targets for BCELoss; long (N, L) one-hot for CrossEntropyLoss (the .long() mistake); float "
      "targets for NLLLoss.", "targets = targets.float()")
def target_dtype(ctx: Context) -> None:
    y, kind = ctx.y, ctx.kind
    is_float = y.is_floating_point()
    if ctx.single_label or ctx.two_way:
        return
    if kind in ("bce_logits", "bce") and not is_float:
        raised = ("'result type Float can't be cast to the desired output type Long'" if kind == "bce_logits"
                  else "'Found dtype Long but expected Float'")
        ctx.add("TARGET_DTYPE", "error",
                f"targets are {y.dtype} but {ctx.loss_label} needs floating targets (torch raises {raised} or "
                f"similar). The other checks ran on targets.float().", "targets = targets.float()")
        ctx.repair_targets()
    elif kind == "bce" and is_float and y.dtype != torch.float32 and ctx.param_dtype() == torch.float32:
        ctx.add("TARGET_DTYPE", "error",
                f"targets are {y.dtype} but the outputs are float32: BCELoss raises 'Found dtype Double but "
                f"expected Float'. The other checks ran on targets.float().", "targets = targets.float()")
        ctx.repair_targets()
    elif kind == "regression" and not is_float:
        ctx.add("TARGET_DTYPE", "warning",
                f"targets are {y.dtype} for {ctx.loss_name}: it runs by type promotion, but targets for a loss on "
                f"predictions should be floats like the outputs.", "targets = targets.float()")
        ctx.repair_targets()
    elif kind == "ce" and not is_float and y.ndim == 2:
        ctx.add("TARGET_DTYPE", "error",
                f"{ctx.loss_name} got {y.dtype} targets of shape {shape(y)}: with integer targets it wants class "
                f"indices of shape (N,), and with (N, L) targets it wants float class probabilities, so one-hot "
                f"`.long()` targets raise 'Expected floating point type for target with class probabilities, got "
                f"Long' (HuggingFace's problem_type inference picks this loss for integer labels: pass float labels "
                f"or problem_type='multi_label_classification'). For multi-label data the answer is not .float() but BCEWithLogitsLoss (see "
                f"SOFTMAX_ON_MULTILABEL). The other checks ran on targets.float().",
                "criterion = nn.BCEWithLogitsLoss(); targets = targets.float()")
        ctx.repair_targets()
    elif kind == "nll" and (is_float or y.ndim == 2):
        ctx.add("TARGET_DTYPE", "error",
                f"NLLLoss got {y.dtype} targets of shape {shape(y)}: it only takes (N,) long class indices ('0D "
                f"or 1D target tensor expected, multi-target not supported').",
                "criterion = nn.BCEWithLogitsLoss()  # logits out, float multi-hot targets")


@rule("TARGET_NOT_BINARY", "error/warning",
      "target values other than 0 and 1: outside [0, 1] (error: -1/1, counts, indices) or soft values inside "
      "(warning: label smoothing?).", "targets = (targets > 0).float()")
def target_values(ctx: Context) -> None:
    if ctx.single_label or ctx.two_way:
        return
    yf = ctx.y.float()
    if not bool(torch.isfinite(yf).all()):
        return
    vals = torch.unique(yf)
    if bool(((vals == 0) | (vals == 1)).all()):
        return
    if is_masked(vals):
        ctx.masked = True
        return  # MASKED_TARGETS
    shown = ", ".join(fmt(v) for v in vals[:6].tolist()) + (", ..." if len(vals) > 6 else "")
    if bool(((vals < 0) | (vals > 1)).any()):
        hint = (" (a -1/+1 encoding: use (targets + 1) / 2)" if set(vals.tolist()) <= {-1.0, 0.0, 1.0}
                else " (counts, class indices or unscaled values?)")
        ctx.add("TARGET_NOT_BINARY", "error",
                f"targets take {len(vals)} distinct values [{shown}]{hint}; a multi-label target is 0 (absent) or "
                f"1 (present) per label, and values outside [0, 1] make BCE's loss unbounded below.",
                "targets = (targets > 0).float()")
    else:
        ctx.add("TARGET_NOT_BINARY", "warning",
                f"targets take {len(vals)} distinct values in [0, 1]: [{shown}]. Soft targets are fine if "
                f"intended (label smoothing); otherwise binarize them. Checks that count positives use "
                f"targets > 0.5.", "targets = (targets > 0.5).float()")


def is_masked(vals: torch.Tensor) -> bool:
    """Targets in {0, 1, -1} with both -1 and 0 present: -1 marks an unknown entry ({-1, +1} alone is a
    -1/+1 encoding, an error)."""
    v = set(vals.tolist())
    return v <= {-1.0, 0.0, 1.0} and -1.0 in v and 0.0 in v


@rule("MASKED_TARGETS", "info",
      "targets in {0, 1, -1} with both 0 and -1 present: -1 is read as an unknown entry (partial labels), which "
      "the loss must ignore (MASK_NOT_IGNORED says when it does not).",
      "criterion = helpers.losses masked BCE (ignores entries == -1)")
def masked_targets(ctx: Context) -> None:
    if not ctx.masked:
        return
    n_unknown = int((ctx.y == -1).sum())
    ctx.add("MASKED_TARGETS", "info",
            f"{n_unknown} of {ctx.y.numel()} target entries are -1, read as unknown (partial labels); the checks "
            f"count positives as targets > 0.5 and judge the loss on whether it ignores the -1 entries "
            f"(MASK_NOT_IGNORED).", "loss = (bce * (y >= 0)).sum() / (y >= 0).sum()  # a masked loss")


def train_targets_values(ctx: Context) -> None:
    """NON_FINITE and TARGET_NOT_BINARY on train_targets, as on the batch's targets."""
    tt = ctx.tt
    if tt is None or ctx.single_label or ctx.two_way:
        return
    tf = tt if tt.is_floating_point() else tt.float()
    if tf.is_floating_point() and bool(((tf == 0) | (tf == 1)).all()):
        return  # the usual case, without sorting millions of values
    n_nan, n_inf = int(torch.isnan(tf).sum()), int(torch.isinf(tf).sum())
    if n_nan or n_inf:
        ctx.add("NON_FINITE", "error",
                f"train_targets {shape(tt)} contain {n_nan} NaN and {n_inf} inf values (missing labels encoded as "
                f"NaN? mark them -1 and use a masked loss): label counts and pos_weight computed from them are NaN.",
                "assert torch.isfinite(Y_train).all()")
        return
    vals = torch.unique(tf)
    if bool(((vals == 0) | (vals == 1)).all()) or is_masked(vals):
        return
    shown = ", ".join(fmt(v) for v in vals[:6].tolist()) + (", ..." if len(vals) > 6 else "")
    hint = (" (a -1/+1 encoding: use (Y + 1) / 2)" if set(vals.tolist()) <= {-1.0, 1.0}
            else " (soft labels, counts or class indices?)")
    ctx.add("TARGET_NOT_BINARY", "error" if bool(((vals < 0) | (vals > 1)).any()) else "warning",
            f"train_targets take {len(vals)} distinct values [{shown}]{hint}; label counts read them as > 0.5.",
            "Y_train = (Y_train > 0).float()")


@rule("NO_TRAIN_TARGETS", "info", "train_targets not given: label counts unchecked.",
      "check_setup(..., train_targets=Y)")
def no_train_targets(ctx: Context) -> None:
    if ctx.tt is None:
        ctx.add("NO_TRAIN_TARGETS", "info",
                "train_targets was not given, so label counts over the training set (EMPTY_LABEL, RARE_LABEL) "
                "were not checked.", "check_setup(..., train_targets=Y_train)")


def _train_counts(ctx: Context) -> list[int] | None:
    """Positives per label over train_targets, or None (not given, single-label, or wrong width)."""
    tt = ctx.tt
    if tt is None or ctx.single_label:
        return None
    batch_labels = ctx.y.shape[1] if ctx.y.ndim >= 2 else 1
    if tt.shape[1] != batch_labels:
        if not ctx.has("SHAPE_MISMATCH"):
            ctx.add("SHAPE_MISMATCH", "error",
                    f"train_targets {shape(tt)} have {tt.shape[1]} labels but the batch targets {shape(ctx.y)} "
                    f"have {batch_labels}.", "use the same label columns in both")
        return None
    counts = (tt.float() > 0.5).sum(0).cpu().tolist()
    ctx.facts["train_label_counts"] = counts
    return counts


@rule("EMPTY_LABEL", "warning",
      "a label of train_targets has no positive (or no negative): pos_weight inf (or 0), AP/AUC undefined, "
      "macro averages distorted.", "Y = Y[:, keep]  # drop them")
def empty_label(ctx: Context) -> None:
    counts = _train_counts(ctx)
    if counts is None:
        return
    n = ctx.tt.shape[0]
    empty = [j for j, c in enumerate(counts) if c == 0]
    full = [j for j, c in enumerate(counts) if c == n]
    if not (empty or full):
        return
    parts = []
    if empty:
        parts.append(f"label{'s' * (len(empty) > 1)} {labels(empty)} never positive")
    if full:
        parts.append(f"label{'s' * (len(full) > 1)} {labels(full)} always positive")
    ctx.add("EMPTY_LABEL", "warning",
            f"in train_targets ({n} rows): {'; '.join(parts)}. Such a label teaches nothing; pos_weight = neg/pos "
            f"is inf for a never-positive label (inf * 0 makes the loss NaN) and 0 for an always-positive one (its "
            f"positives are ignored); its AP/ROC-AUC is undefined (sklearn warns and returns 0 or nan), which "
            f"distorts macro averages.", "keep = (Y.sum(0) > 0) & (Y.sum(0) < len(Y)); Y = Y[:, keep]")


@rule("RARE_LABEL", "warning",
      f"a label of train_targets has < {RARE_MIN_COUNT} positives or a rate < {RARE_MIN_RATE:.1%}: huge "
      f"pos_weight, noisy per-label AP and macro metrics.", "pos_weight.clamp(max=50)")
def rare_label(ctx: Context) -> None:
    counts = ctx.facts.get("train_label_counts")
    if counts is None:
        return
    n = ctx.tt.shape[0]
    rare = [j for j, c in enumerate(counts) if 0 < c < n and (c < RARE_MIN_COUNT or c / n < RARE_MIN_RATE)]
    if rare:
        pw = [(n - counts[j]) / counts[j] for j in rare]
        ctx.add("RARE_LABEL", "warning",
                f"in train_targets ({n} rows), {len(rare)} label{'s have' if len(rare) > 1 else ' has'} fewer than "
                f"{RARE_MIN_COUNT} positives or a rate below {pct(RARE_MIN_RATE)}: label (positives) "
                f"{labels(rare, [counts[j] for j in rare])}. pos_weight = neg/pos would be up to {fmt(max(pw))} for "
                f"them (a handful of examples dominate the gradient), and their per-label AP rests on a few "
                f"examples, so macro metrics swing with them.",
                "pos_weight = ((len(Y) - Y.sum(0)) / Y.sum(0).clamp(min=1)).clamp(max=50)")


@rule("BATCH_TOO_SMALL", "info",
      "some labels have no positive in this batch: a pos_weight computed per batch would be inf and batch "
      "metrics are undefined (the message says whether the criterion's pos_weight is already finite).",
      "pos_weight from the whole train set; metrics on the whole validation split")
def batch_too_small(ctx: Context) -> None:
    if ctx.single_label:
        return
    yb = ctx.label_rows()
    missing = [j for j, c in enumerate(yb.sum(0).tolist()) if c == 0]
    if not missing or yb.shape[1] < 2:
        return
    head = (f"{len(missing)} of {yb.shape[1]} labels have no positive in this batch of {ctx.y.shape[0]} rows (label "
            f"{labels(missing)})")
    pw = getattr(ctx.pw_owner, "pos_weight", None)
    if isinstance(pw, torch.Tensor) and pw.numel() and pw.device.type != "meta" and all(
            math.isfinite(v) for v in pw.detach().float().reshape(-1).tolist()):
        ctx.add("BATCH_TOO_SMALL", "info",
                head + ": the criterion's pos_weight is finite for every label, so it was not computed on such a "
                "batch; nothing to change in the loss. Per-label metrics on one batch are undefined for those "
                "labels, so evaluate on the whole validation split.",
                "metrics.evaluate(Y_val, model_probs(X_val))  # whole split")
    else:
        ctx.add("BATCH_TOO_SMALL", "info",
                head + ": a pos_weight computed per batch (max(count)/count or neg/pos) would be inf for them, and "
                "per-label batch metrics are undefined. Compute pos_weight once from the training set.",
                "pos_weight = (len(Y_train) - Y_train.sum(0)) / Y_train.sum(0)")
