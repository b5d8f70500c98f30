"""Rules on the loss: what kind of loss it is (by class, by behaviour on small known inputs, by
name, by the torch functions it calls), whether it runs and returns a scalar, and whether its
first value is sane for a model that has not trained yet."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from helpers.diagnose.context import Context, fmt, name_of, pct, rebuild, shape, tensor_entries, where
from helpers.diagnose.registry import rule

INIT_LOSS_RATIO = 3.0  # LOSS_AT_INIT: first loss > this x max(neutral loss, prior loss)
LOGIT_STD_MAX = 10.0  # LOSS_AT_INIT: std of the logits above this
BIAS_INIT_RATIO = 2.0  # BIAS_INIT: neutral loss > this x prior loss
_RAISED = object()  # loss_error's result when the criterion raised

_KIND_CLASSES: list[tuple[type | tuple[type, ...], str]] = [
    ((nn.BCEWithLogitsLoss, nn.MultiLabelSoftMarginLoss), "bce_logits"),
    (nn.BCELoss, "bce"),
    (nn.CrossEntropyLoss, "ce"),
    (nn.NLLLoss, "nll"),
    ((nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss), "regression"),
]
# name fragments (lower case, underscores removed), checked in this order
_KIND_NAMES = [("withlogits", "bce_logits"), ("multilabelsoftmargin", "bce_logits"),
               ("binarycrossentropy", "bce"), ("bceloss", "bce"), ("crossentropy", "ce"), ("nllloss", "nll"),
               ("mseloss", "regression"), ("l1loss", "regression"), ("huber", "regression")]


def kind_from_name(name: str) -> str | None:
    n = name.lower().replace("_", "")
    return next((kind for frag, kind in _KIND_NAMES if frag in n), None)


def _class_kind(obj: Any) -> str | None:
    for classes, kind in _KIND_CLASSES:
        if isinstance(obj, classes) and type(obj).__module__.startswith("torch.nn"):
            return kind
    return None


def inner_loss(criterion: Any) -> Any | None:
    """A torch loss held as an attribute of a wrapper object or module, or None."""
    if isinstance(criterion, nn.modules.loss._Loss) and type(criterion).__module__.startswith("torch.nn"):
        return None
    for value in getattr(criterion, "__dict__", {}).values():
        if isinstance(value, nn.modules.loss._Loss):
            return value
    if isinstance(criterion, nn.Module):
        return next((m for m in criterion.children() if isinstance(m, nn.modules.loss._Loss)), None)
    return None


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a.float(), b.float(), rtol=1e-4, atol=1e-5))


def _matches(raw: torch.Tensor, ref: torch.Tensor) -> bool:
    """``raw`` is ``ref`` reduced by none, mean or sum."""
    if raw.numel() == 1:
        return _close(raw.reshape(()), ref.mean()) or _close(raw.reshape(()), ref.sum())
    return _close(raw, ref)


def kind_by_behaviour(crit: Any, n_labels: int, device: torch.device, dtype: torch.dtype) -> tuple[str | None, str]:
    """Call the loss on small known inputs: does it take multi-hot floats, apply a softmax (its
    value ignores a constant added to every logit of a row), need probabilities, or equal BCE on
    logits or a regression loss? Returns (kind or None, what it did)."""
    n_labels = max(int(n_labels), 2)
    z = (torch.linspace(-2.5, 2.0, 4 * n_labels).reshape(4, n_labels).roll(1, 1)).to(device, dtype)
    y = torch.zeros(4, n_labels, device=device, dtype=dtype)
    for i in range(4):
        y[i, i % n_labels] = y[i, (i + 1) % n_labels] = 1.0

    def call(a, b):
        with torch.no_grad():
            out = crit(a, b)
        return out if isinstance(out, torch.Tensor) else None

    try:
        v = call(z, y)
    except Exception as e:  # noqa: BLE001 -- any failure is evidence about the loss
        if "between 0 and 1" in str(e):
            return "bce", "it refuses logits outside [0, 1] (it takes probabilities)"
        return None, f"it raises {type(e).__name__} on float multi-hot targets"
    if v is None or not bool(torch.isfinite(v).all()):
        return None, "it does not return a finite tensor on small known inputs"
    if not v.is_floating_point():
        return None, f"it returns a {v.dtype} tensor (not floating: no gradient)"
    try:
        if _close(v, call(z + 3.0, y)):
            return "ce", "its value ignores a constant added to every logit of a row (a softmax over labels)"
        y0 = torch.zeros_like(y)
        v0 = call(z, y0)
        refs = {"bce_logits": F.binary_cross_entropy_with_logits(z, y0, reduction="none"),
                "regression": (z - y0) ** 2}
        for kind, ref in refs.items():
            if v0 is not None and _matches(v0, ref):
                what = "binary cross-entropy on logits" if kind == "bce_logits" else "a squared error"
                return kind, f"on known inputs its value equals {what}"
        if _matches(v, (z - y).abs()):
            return "regression", "on known inputs its value equals an absolute error"
    except Exception:  # noqa: BLE001
        return None, "it raises on all-zero targets"
    return None, "its values match no loss check_setup knows"


def recognize(ctx: Context) -> None:
    """Set ``ctx.kind`` / ``ctx.kind_how`` (and ``ctx.pw_owner`` for a wrapper around a torch loss)."""
    crit = ctx.crit
    kind = _class_kind(crit)
    if kind:
        ctx.kind, ctx.kind_how = kind, "class"
        return
    inner = inner_loss(crit)
    if inner is not None and isinstance(getattr(inner, "pos_weight", None), torch.Tensor):
        ctx.pw_owner = inner
    n_labels = ctx.y.shape[1] if ctx.y.ndim >= 2 else 3
    kind, how = kind_by_behaviour(crit, n_labels, ctx.device, ctx.param_dtype() or torch.float32)
    ctx.facts["loss_behaviour"] = how
    if kind:
        ctx.kind, ctx.kind_how = kind, f"behaviour: {how}"
        return
    if inner is not None and _class_kind(inner):
        ctx.kind, ctx.kind_how = _class_kind(inner), f"it holds a {type(inner).__name__}"
        return
    name = name_of(crit)
    kind = kind_from_name(name.removeprefix("partial(").rstrip(")"))
    if kind:
        ctx.kind, ctx.kind_how = kind, f"name {name!r}"
        return
    code = getattr(getattr(crit, "func", crit), "__code__", None)
    if code is None:
        code = getattr(getattr(crit, "forward", None), "__code__", None)
    if code is not None:
        kinds = {k for n in code.co_names if (k := kind_from_name(n))}
        called = [n for n in code.co_names if kind_from_name(n)]
        if len(kinds) == 1:
            ctx.kind, ctx.kind_how = kinds.pop(), f"it calls {called[0]}"


def adopt_raw_criterion(ctx: Context, raw: Any) -> None:
    """When the model returns a dict/tuple/object and the criterion (not a torch loss) takes it
    whole, find the tensor it uses (the one its gradient reaches), judge that tensor, and feed
    the criterion the whole output rebuilt around it from here on."""
    if _class_kind(ctx.crit):
        return
    leaves = {k: v.detach().clone().requires_grad_() for k, v in tensor_entries(raw) if v.is_floating_point()}
    if not leaves:
        return
    rebuilt = raw
    for k, leaf in leaves.items():
        rebuilt = rebuild(rebuilt, k, leaf)
    used: list = []
    for y in (ctx.y, ctx.y.float()):
        try:
            with torch.enable_grad():
                loss = ctx.crit(rebuilt, y)
        except Exception:  # noqa: BLE001 -- it does not take the whole output
            continue
        if isinstance(loss, torch.Tensor) and loss.requires_grad and loss.is_floating_point():
            grads = torch.autograd.grad(loss.float().sum(), list(leaves.values()), allow_unused=True)
            used = [k for k, g in zip(leaves, grads, strict=True) if g is not None]
        break
    if not used:
        return
    shaped = [k for k in used if tuple(leaves[k].shape) == tuple(ctx.y.shape)]
    key, user = (shaped or used)[0], ctx.crit

    def on_raw(outputs: torch.Tensor, targets: torch.Tensor):
        return user(rebuild(raw, key, outputs), targets)

    ctx.crit, ctx.out_key, ctx.raw_crit = on_raw, key, True
    ctx.facts["criterion_uses"] = where(raw, key)
    if ctx.kind == "other":
        n_labels = ctx.y.shape[1] if ctx.y.ndim >= 2 else 3
        kind, how = kind_by_behaviour(on_raw, n_labels, ctx.device, ctx.param_dtype() or torch.float32)
        if kind:
            ctx.kind, ctx.kind_how = kind, f"behaviour on {where(raw, key)}: {how}"
            ctx.facts["loss_behaviour"] = how


@rule("LOSS_UNKNOWN", "info", "the criterion is not recognized (by class, behaviour, name or the torch functions "
      "it calls); loss-specific checks are skipped.", "use a torch.nn loss, or ignore")
def loss_unknown(ctx: Context) -> None:
    if ctx.kind == "other":
        ctx.add("LOSS_UNKNOWN", "info",
                f"criterion {ctx.loss_name} is not a loss check_setup recognizes (by class, behaviour on small "
                f"inputs ({ctx.facts.get('loss_behaviour', 'not probed')}), name or the torch functions it calls): "
                f"loss-specific checks (TARGET_DTYPE, DOUBLE_SIGMOID, PROBS_EXPECTED, POS_WEIGHT_INVALID, "
                f"LOSS_AT_INIT) were skipped.", "use nn.BCEWithLogitsLoss() or a subclass of it")


def loss_value(ctx: Context, out: torch.Tensor) -> torch.Tensor:
    loss = ctx.crit(out, ctx.y)
    if not isinstance(loss, torch.Tensor):
        loss = torch.as_tensor(float(loss))
    return loss.mean() if loss.ndim else loss


@rule("LOSS_ERROR", "error", "criterion(outputs, targets) raises; the exception text is reported.",
      "see the finding it names (often TARGET_DTYPE or SHAPE_MISMATCH)")
def loss_error(ctx: Context) -> Any:
    """Run the loss once on the outputs at initialization; the raw result, or _RAISED when it raised."""
    try:
        with torch.no_grad():
            return ctx.crit(ctx.out, ctx.y)
    except Exception as e:  # noqa: BLE001 -- the exception is the finding
        related = [c for c in ("TARGET_DTYPE", "SHAPE_MISMATCH", "PROBS_EXPECTED", "POS_WEIGHT_INVALID")
                   if ctx.has(c, severity="error")]
        ctx.add("LOSS_ERROR", "error",
                f"criterion(outputs {shape(ctx.out)} {ctx.out.dtype}, targets {shape(ctx.y)} {ctx.y.dtype}) raises "
                f"{type(e).__name__}: {str(e)[:300]}" + (f" (explained by {', '.join(related)})" if related else ""),
                f"see {related[0]}" if related else "call the criterion on one batch to see the traceback")
        return _RAISED


@rule("LOSS_REDUCTION", "error/info",
      "the loss is not a scalar (reduction='none': backward() raises; error), or reduction='sum' (loss and "
      "gradients scale with N*L; info).", "nn.BCEWithLogitsLoss()  # reduction='mean'")
def loss_reduction(ctx: Context, raw: torch.Tensor) -> None:
    red = getattr(ctx.crit, "reduction", None)
    n_el = ctx.out.numel()
    if raw.ndim > 0 and raw.numel() > 1:
        ctx.add("LOSS_REDUCTION", "error",
                f"the criterion returns a loss of shape {shape(raw)} (reduction={red!r}), not a scalar: "
                f"loss.backward() raises 'grad can be implicitly created only for scalar outputs'. check_setup "
                f"took its mean for the other checks.", "loss = criterion(outputs, targets).mean()")
    elif red == "sum":
        ctx.add("LOSS_REDUCTION", "info",
                f"reduction='sum' adds up {n_el} elements (N*L = {ctx.out.shape[0]}*{n_el // ctx.out.shape[0]}): "
                f"the loss ({fmt(raw.item())}) and its gradients scale with batch size and label count, so an lr "
                f"tuned for 'mean' is {n_el}x too large here.", "nn.BCEWithLogitsLoss()  # reduction='mean'")


def check_loss(ctx: Context) -> None:
    """LOSS_ERROR, LOSS_REDUCTION, a non-finite first loss, then the loss scale rules."""
    ctx.loss_ok = False
    if not ctx.batch_ok or not (ctx.shapes_ok or ctx.single_label or ctx.kind == "other"):
        return
    if ctx.has("PROBS_EXPECTED", severity="error") and ctx.out.is_cuda:
        # On CUDA, BCELoss on values outside [0, 1] is a device-side assert that poisons the whole
        # CUDA context (every later CUDA call fails); the finding already says what would happen.
        return
    raw = loss_error(ctx)
    if raw is _RAISED:
        return
    if raw is None or isinstance(raw, torch.Tensor) and not raw.is_floating_point():
        what = "None (a missing return statement?)" if raw is None else f"a {raw.dtype} tensor"
        ctx.add("LOSS_ERROR", "error",
                f"criterion(outputs, targets) returned {what}, not a floating-point tensor: loss.backward() "
                f"raises or no gradient reaches the model.",
                "return the loss tensor from the criterion (float; no .long(), .round() or argmax)")
        return
    if not isinstance(raw, torch.Tensor):
        ctx.add("NO_LEARNING", "error",
                f"criterion returned a {type(raw).__name__} ({raw!r:.40}), not a tensor: backward() cannot reach "
                f"the model.", "return a tensor loss; don't call .item() inside the loss")
        return
    loss_reduction(ctx, raw)
    loss0 = raw.float().mean().item()
    ctx.loss0 = ctx.facts["loss_init"] = loss0
    if not math.isfinite(loss0):
        if not ctx.has("NON_FINITE"):
            cause = [c for c in ("POS_WEIGHT_INVALID", "TARGET_NOT_BINARY") if ctx.has(c)]
            ctx.add("NON_FINITE", "error",
                    f"the loss at initialization is {loss0}" + (f" (likely cause: {cause[0]})" if cause else "")
                    + ": every gradient will be NaN.", "assert torch.isfinite(loss)")
        return
    ctx.loss_ok = True
    if ctx.masked:
        mask_not_ignored(ctx)
    neutral, prior = reference_losses(ctx)
    ctx.facts.update(loss_neutral=neutral, loss_prior=prior)
    if not loss_at_init(ctx, neutral, prior):
        bias_init(ctx, neutral, prior)


@rule("MASK_NOT_IGNORED", "error",
      "targets hold -1 (unknown) entries and the loss changes when the outputs at those entries change: the "
      "loss trains on them (as negatives, or pushes them below 0).", "a masked loss that ignores entries == -1")
def mask_not_ignored(ctx: Context) -> None:
    m = (ctx.y == -1).to(ctx.out.dtype)
    v1, v2 = _safe_loss(ctx, ctx.out), _safe_loss(ctx, ctx.out + 3.0 * m)
    if v1 is not None and v2 is not None and abs(v1 - v2) <= 1e-6 * (1 + abs(v1)):
        return
    ctx.add("MASK_NOT_IGNORED", "error",
            f"{int(m.sum())} target entries are -1 (unknown), but {ctx.loss_name}'s value changes when the outputs "
            f"at those entries change ({fmt(v1)} -> {fmt(v2)}): it trains on the unknown entries, reading -1 as a "
            f"target below 0 (BCE's loss is then unbounded below) instead of ignoring them.",
            "known = (y >= 0).float(); loss = (F.binary_cross_entropy_with_logits(out, y.clamp(min=0), "
            "reduction='none') * known).sum() / known.sum()")


def _safe_loss(ctx: Context, out: torch.Tensor) -> float | None:
    try:
        with torch.no_grad():
            v = loss_value(ctx, out).item()
    except Exception:  # noqa: BLE001
        return None
    return v if math.isfinite(v) else None


def reference_losses(ctx: Context) -> tuple[float | None, float | None]:
    """Loss of a neutral predictor (zero logits / 0.5 / uniform) and of the prior predictor."""
    kind, y, out = ctx.kind, ctx.y, ctx.out
    if kind == "other" or ctx.has("TARGET_NOT_BINARY", severity="error"):
        return None, None
    if kind in ("ce", "nll") and y.ndim == out.ndim - 1 and not y.is_floating_point():
        c = out.shape[1]
        freq = torch.bincount(y.long().reshape(-1).clamp(0, c - 1), minlength=c).float() / y.numel()
        shape_c = [1] * out.ndim
        shape_c[1] = c
        prior_logp = torch.log(freq.clamp(min=1e-6)).reshape(shape_c).expand_as(out).to(out.dtype)
        neutral = torch.zeros_like(out) if kind == "ce" else torch.full_like(out, -math.log(c))
        return _safe_loss(ctx, neutral), _safe_loss(ctx, prior_logp)
    src = ctx.tt if ctx.tt is not None and ctx.tt.shape[1:] == y.shape[1:] else y
    sf = src.detach().float()
    known = (sf >= 0).float()  # -1 entries (unknown) left out
    rates = ((sf.clamp(0, 1) * known).sum(0, keepdim=True) / known.sum(0, keepdim=True).clamp(min=1)).to(out.device)
    ctx.base_rate = rates.mean().item()
    p = rates.clamp(1e-3, 1 - 1e-3).to(out.dtype).expand_as(out)
    if kind == "bce_logits":
        return _safe_loss(ctx, torch.zeros_like(out)), _safe_loss(ctx, torch.logit(p))
    if kind == "bce":
        return _safe_loss(ctx, torch.full_like(out, 0.5)), _safe_loss(ctx, p)
    if kind in ("ce", "nll"):
        ax = 1 if out.ndim > 2 else -1
        q = p / p.sum(ax, keepdim=True)
        neutral = torch.zeros_like(out) if kind == "ce" else torch.full_like(out, -math.log(out.shape[ax]))
        return _safe_loss(ctx, neutral), _safe_loss(ctx, torch.log(q))
    zero, half = _safe_loss(ctx, torch.zeros_like(out)), _safe_loss(ctx, torch.full_like(out, 0.5))
    vals = [v for v in (zero, half) if v is not None]
    return (min(vals) if vals else None), _safe_loss(ctx, p)


@rule("LOSS_AT_INIT", "warning",
      f"first loss > {INIT_LOSS_RATIO:g}x the loss of a neutral predictor (zero logits: log 2 per element for BCE) "
      f"and of the prior predictor (each label's base rate), or logits' std > {LOGIT_STD_MAX:g}.",
      "x = (x - mean) / std; default init")
def loss_at_init(ctx: Context, neutral: float | None, prior: float | None) -> bool:
    loss0 = ctx.loss0
    logits_like = ctx.form == "logits" and ctx.kind in ("bce_logits", "ce", "other")
    std = ctx.facts.get("outputs_std", 0.0)
    refs = [v for v in (neutral, prior) if v is not None]
    ref = max(refs) if refs else None
    too_high = ref is not None and ref > 0 and loss0 > INIT_LOSS_RATIO * ref
    if not (too_high or (logits_like and std > LOGIT_STD_MAX)):
        return False
    msg = [f"the first loss is {fmt(loss0)}"]
    if ref:
        what = {"bce_logits": "all-zero logits", "bce": "predicting 0.5", "ce": "uniform logits",
                "nll": "uniform log-probabilities"}.get(ctx.kind, "a neutral prediction")
        msg.append(f", {fmt(loss0 / ref)}x what this setup should give at initialization ({fmt(neutral)} for "
                   f"{what}, {fmt(prior)} predicting each label's base rate)")
    msg.append(f"; the outputs have std {fmt(std)} (range [{fmt(ctx.facts.get('outputs_min'))}, "
               f"{fmt(ctx.facts.get('outputs_max'))}]).")
    x, unnormalized = ctx.x, False
    if x.is_floating_point() and bool(torch.isfinite(x).all()):
        xf = x.float()
        xm, xs, xlo, xhi = xf.mean().item(), xf.std().item(), xf.min().item(), xf.max().item()
        unnormalized = xs > 10 or abs(xm) > 10 or xhi - xlo > 100
        msg.append(f" Inputs: mean {fmt(xm)}, std {fmt(xs)}, range [{fmt(xlo)}, {fmt(xhi)}]"
                   + (" -- not normalized." if unnormalized else "."))
    msg.append(" A network this confident before training saturates its sigmoids: it starts with large, wrong "
               "gradients and spends its first epochs undoing the initialization (badly scaled init, or "
               "unnormalized inputs).")
    ctx.add("LOSS_AT_INIT", "warning", "".join(msg),
            "x = (x - x_train.mean(0)) / x_train.std(0)" if unnormalized
            else "keep PyTorch's default init; zero the last layer's bias")
    return True


@rule("BIAS_INIT", "info",
      f"BCE on sparse labels: the loss at zero logits is > {BIAS_INIT_RATIO:g}x the prior predictor's; init the "
      f"final bias to the base rates to start at the prior's loss (it shortens the all-zero phase, not skips it).", "bias = torch.logit(base_rate)")
def bias_init(ctx: Context, neutral: float | None, prior: float | None) -> None:
    if (ctx.kind in ("bce_logits", "bce") and neutral and prior and neutral > BIAS_INIT_RATIO * prior
            and 0 < ctx.base_rate < 1):
        rate = ctx.base_rate
        ctx.add("BIAS_INIT", "info",
                f"labels are imbalanced (mean base rate {pct(rate)}): predicting each label's base rate gives loss "
                f"{fmt(prior)} against {fmt(neutral)} at zero logits ({fmt(neutral / prior)}x), so the first steps "
                f"mostly learn 'predict fewer {'positives' if rate < 0.5 else 'negatives'}'. Initializing the final "
                f"bias to the base rates starts the model at that loss and shortens the way out of this phase; it "
                f"does not make it predict positives: a label present in under half of the rows is predicted absent "
                f"at 0.5 by its prior, by construction.",
                "last.bias.data = torch.logit(Y_train.float().mean(0).clamp(1e-3, 1 - 1e-3))")
