"""Rules on ``pos_weight``: device, dtype, shape, finite and positive values, and values larger
than the training set's own negatives / positives justify."""

from __future__ import annotations

import math

import torch
from scipy.stats import spearmanr

from helpers.diagnose.context import Context, fmt, labels, shape
from helpers.diagnose.registry import rule

POS_WEIGHT_MAX = 100.0  # a finite pos_weight above this (and above the training set's neg/pos) is a warning
POS_WEIGHT_SLACK = 1.1  # ... "above" meaning more than this factor over neg/pos


def _move(ctx: Context) -> bool:
    try:
        ctx.pw_owner.to(ctx.device)
        return ctx.pw_owner.pos_weight.device == ctx.device
    except Exception:  # noqa: BLE001 -- e.g. a meta tensor cannot be moved
        return False


@rule("POS_WEIGHT_INVALID", "error/warning",
      "criterion.pos_weight not broadcastable to (L,), non-floating, non-finite, <= 0, or on another device "
      f"(error); finite but > {POS_WEIGHT_MAX:g} and larger than the training set's neg/pos, or > "
      f"{POS_WEIGHT_MAX:g} without train_targets to compare with (warning). The book's neg/pos computed over the "
      "training set is never flagged.", "pos_weight = (n - pos) / pos over the whole training set")
def pos_weight_invalid(ctx: Context) -> None:
    pw = getattr(ctx.pw_owner, "pos_weight", None)
    if not isinstance(pw, torch.Tensor):
        return
    n_labels = ctx.facts.get("n_labels", ctx.y.shape[-1] if ctx.y.ndim >= 2 else 1)
    fix = "pos_weight = ((len(Y) - Y.sum(0)) / Y.sum(0).clamp(min=1)).to(device)  # over the training set"
    if pw.device != ctx.device:
        where = pw.device
        moved = _move(ctx)
        ctx.add("POS_WEIGHT_INVALID", "error",
                f"criterion.pos_weight is on {where} but the outputs are on {ctx.device}: the loss raises 'Expected "
                f"all tensors to be on the same device'." + (" The other checks ran with it moved." if moved else ""),
                "criterion = criterion.to(device)  # or build pos_weight on the model's device")
        if not moved:
            return
        ctx.repairs.append(f"criterion.to({ctx.device})")
        pw = ctx.pw_owner.pos_weight
    if not pw.is_floating_point():
        ctx.add("POS_WEIGHT_INVALID", "error",
                f"criterion.pos_weight is {pw.dtype}: weights like neg/pos are fractional, build it as floats.",
                "pos_weight = pos_weight.float()")
    try:
        bshape = torch.broadcast_shapes(tuple(pw.shape), (n_labels,))
    except RuntimeError:
        bshape = None
    if bshape != (n_labels,):
        ctx.add("POS_WEIGHT_INVALID", "error",
                f"criterion.pos_weight has shape {shape(pw)} but there are {n_labels} labels: it must have one "
                f"weight per label, shape ({n_labels},) (or a single value).", fix)
        return
    p = pw.detach().float().reshape(-1).expand(n_labels).tolist()
    bad_nf = [j for j, v in enumerate(p) if not math.isfinite(v)]
    bad_np = [j for j, v in enumerate(p) if math.isfinite(v) and v <= 0]
    if bad_nf:
        ctx.add("POS_WEIGHT_INVALID", "error",
                f"criterion.pos_weight is not finite for label {labels(bad_nf)} (values "
                f"{', '.join(fmt(p[j]) for j in bad_nf[:4])}): typically max(count)/count or neg/pos computed on a "
                f"batch (or a split) where the label has no positive. The loss of every positive of that label "
                f"becomes inf and its gradient NaN.", fix)
    if bad_np:
        ctx.add("POS_WEIGHT_INVALID", "error",
                f"criterion.pos_weight is <= 0 for label {labels(bad_np)} (values "
                f"{', '.join(fmt(p[j]) for j in bad_np[:4])}): positives of those labels are then ignored or pushed "
                f"towards 0 (a label present in every row gives neg/pos = 0).", fix)
    if bad_nf:
        return
    big = [j for j, v in enumerate(p) if v > POS_WEIGHT_MAX]
    counts = ctx.facts.get("train_label_counts")
    n = ctx.tt.shape[0] if ctx.tt is not None else 0
    if counts is not None and len(counts) == n_labels:
        # weights the training set itself justifies (neg/pos over all its rows) are the book's recipe
        big = [j for j in big if counts[j] == 0 or p[j] > POS_WEIGHT_SLACK * (n - counts[j]) / counts[j]]
        ref = ", ".join(f"{fmt(p[j])} vs {fmt((n - counts[j]) / max(counts[j], 1))}" for j in big[:4])
        why = (f" (pos_weight vs the training set's neg/pos: {ref}), more than the training set justifies: were "
               f"they computed on a batch or a subset?")
    else:
        why = " (no train_targets given to compare with the training set's neg/pos)"
    if big:
        ctx.add("POS_WEIGHT_INVALID", "warning",
                f"criterion.pos_weight exceeds {fmt(POS_WEIGHT_MAX)} for label {labels(big)}{why}: one positive of "
                f"such a label weighs as much as {fmt(max(p[j] for j in big))} negatives, so a handful of examples "
                f"dominate its gradient.", fix)


INVERTED_RHO = 0.8  # POS_WEIGHT_INVERTED: Spearman correlation of the weights with the label frequencies above this


@rule("POS_WEIGHT_INVERTED", "warning",
      f"pos_weight rises with the labels' frequency (Spearman correlation > {INVERTED_RHO:g} over 3+ labels) or is "
      "below 1 on labels present in under half of the rows: positives / negatives instead of negatives / positives, "
      "which weights the rarest labels' positives least.",
      "pos_weight = (len(Y) - Y.sum(0)) / Y.sum(0)  # negatives over positives")
def pos_weight_inverted(ctx: Context) -> None:
    pw = getattr(ctx.pw_owner, "pos_weight", None)
    if not isinstance(pw, torch.Tensor) or ctx.has("POS_WEIGHT_INVALID", severity="error"):
        return
    n_labels = ctx.facts.get("n_labels", ctx.y.shape[-1] if ctx.y.ndim >= 2 else 1)
    try:
        w = pw.detach().float().cpu().reshape(-1).expand(n_labels).tolist()
    except RuntimeError:
        return
    if ctx.tt is not None and ctx.facts.get("train_label_counts") is not None:
        counts, n, src = ctx.facts["train_label_counts"], ctx.tt.shape[0], "train_targets"
    elif ctx.y.ndim == 2 and ctx.y.shape[1] == n_labels:
        counts, n, src = (ctx.y.float() > 0.5).sum(0).cpu().tolist(), ctx.y.shape[0], "this batch"
    else:
        return
    idx = [j for j in range(n_labels) if 0 < counts[j] < n]
    if not idx:
        return
    rate = {j: counts[j] / n for j in idx}
    below = [j for j in idx if rate[j] < 0.5 and w[j] < 1]
    rho = None
    if len(idx) >= 3 and len({w[j] for j in idx}) > 1 and len({counts[j] for j in idx}) > 1:
        rho = float(spearmanr([w[j] for j in idx], [rate[j] for j in idx]).statistic)
    if not below and not (rho is not None and rho > INVERTED_RHO):
        return
    rarest = min(idx, key=lambda j: rate[j])
    common = max(idx, key=lambda j: rate[j])
    expected = (n - counts[rarest]) / counts[rarest]
    trend = f"the weights rise with the labels' frequency (Spearman correlation {fmt(rho)}); " if rho is not None \
        and rho > INVERTED_RHO else ""
    low = (f"{len(below)} label{'s' * (len(below) > 1)} present in under half of the rows get a weight below 1 "
           f"(label {labels(below)}); " if below else "")
    ctx.add("POS_WEIGHT_INVERTED", "warning",
            f"criterion.pos_weight is inverted against the label frequencies of {src}: {trend}{low}the rarest label "
            f"({rarest}, {fmt(100 * rate[rarest])}% positive) gets {fmt(w[rarest])} where negatives / positives is "
            f"{fmt(expected)}, and the most frequent ({common}, {fmt(100 * rate[common])}%) gets {fmt(w[common])}. "
            f"Positives / negatives down-weights the rare labels' positives, which is worse than no weight.",
            "pos_weight = (len(Y_train) - Y_train.sum(0)) / Y_train.sum(0)  # negatives over positives")
