"""The probe: overfit the one batch for a few steps on the copies, and the rules that read it
(does the loss fall, do gradients reach the parameters, do the predictions collapse), plus the
training mode of the caller's model."""

from __future__ import annotations

import copy
import math

import torch

from helpers.diagnose.context import Context, fmt, labels, pct, seed
from helpers.diagnose.loss import loss_value
from helpers.diagnose.optimizer import build_optimizer, learning_rate, weight_decay
from helpers.diagnose.registry import rule

PROBE_MIN_DECREASE = 0.002  # NO_LEARNING warning: relative loss decrease below this
COLLAPSE_LOW, COLLAPSE_HIGH = 0.02, 0.98  # COLLAPSED_PREDICTIONS: predicted positive rate outside
COLLAPSE_TRUE_RANGE = (0.05, 0.95)  # ... while the true rate is inside this range
NEAR_BOUNDARY_LOGIT = 1.0  # COLLAPSED_PREDICTIONS is a warning only when the median |logit| reaches this (p 0.27/0.73)
LR_PROBE_DROP = 0.1  # LEARNING_RATE is info when the probe at the caller's lr lowers the loss by this, monotonically
PROBE_LR_SCALES = (10.0, 100.0)  # NO_LEARNING: a probe that barely moves is re-run at these multiples of the lr


def fix_opt(ctx: Context) -> str:
    """The fix line for an optimizer problem, keeping the caller's optimizer class."""
    user = ctx.orig_optimizer
    if user is None:
        return "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)  # built after the model"
    return f"optimizer = torch.optim.{type(user).__name__}(model.parameters(), ...)  # rebuild your optimizer after the model"


@rule("MODEL_IN_EVAL", "info", "model.training is False.", "model.train()")
def model_in_eval(ctx: Context) -> None:
    if not ctx.orig_model.training:
        ctx.add("MODEL_IN_EVAL", "info",
                "model.training is False (model.eval() was called): dropout is off and BatchNorm uses its running "
                "statistics. Call model.train() before the training loop (check_setup probed a copy in train mode).",
                "model.train()")


def _cause(ctx: Context, default: str) -> str:
    """The likely cause of a non-finite probe: half-precision parameters, else ``default``."""
    dt = ctx.param_dtype()
    if dt in (torch.float16, torch.bfloat16):
        return (f"the model's parameters are {dt} (on {ctx.device.type}): in half precision the loss and its "
                f"gradients overflow or underflow, and an optimizer's eps (1e-8) rounds to 0, so a step divides by "
                f"0. Keep the parameters float32 (model.float()) and use torch.autocast for mixed precision")
    return default


def _closure(ctx: Context, opt) -> torch.Tensor:
    opt.zero_grad()
    seed(ctx.device)
    loss = loss_value(ctx, ctx.pick(ctx.model(ctx.x)))
    loss.backward()
    return loss


def _first_step(ctx: Context, loss: torch.Tensor, out: torch.Tensor, trainable: list) -> bool:
    """Checks of the first step's loss and gradients (after backward); False stops the probe."""
    before = loss.item()
    grads = [p.grad for p in trainable if p.grad is not None]
    n_nonzero = sum(bool(g.abs().sum() > 0) for g in grads)
    ctx.facts.update(params_trainable=len(trainable), params_with_grad=len(grads), params_nonzero_grad=n_nonzero)
    if any(not bool(torch.isfinite(g).all()) for g in grads):
        ctx.add("NON_FINITE", "error", f"some gradients are NaN/inf at the first step (loss {fmt(before)}): training "
                "will turn the weights into NaN. " + _cause(ctx, "Find the op with torch.autograd.set_detect_anomaly") + ".",
                "torch.autograd.set_detect_anomaly(True)")
        return False
    if not grads:
        ctx.add("NO_LEARNING", "error",
                f"no parameter received a gradient (0 of {len(trainable)} trainable tensors): the loss ({fmt(before)}) "
                f"requires grad but does not depend on the model's parameters (outputs detached then re-wrapped, or "
                f"the loss built from another tensor).", "loss = criterion(model(x), y)  # from the model's own outputs")
        return False
    if n_nonzero == 0:
        ctx.add("NO_LEARNING", "error",
                f"all gradients are exactly zero ({len(grads)} of {len(trainable)} tensors got one): an op with zero "
                f"gradient sits between the parameters and the loss (round, argmax, thresholding, sign), or every "
                f"unit before the output is dead.", "remove round()/argmax/(x > t) from forward(); threshold only at evaluation")
        return False
    return True


def _detached(ctx: Context, loss: torch.Tensor, out: torch.Tensor) -> None:
    if not out.requires_grad:
        why = ("the model's outputs do not require grad: forward() detaches them (.detach(), .item(), .numpy() round "
               "trip, torch.no_grad() inside forward)")
        fix = "return the tensor itself from forward(), no .detach()"
    else:
        why = ("the outputs require grad but the loss does not: the criterion breaks the graph (.detach(), .item(), "
               "torch.tensor(...) of a result, round/argmax)")
        fix = "compute the loss with torch ops on outputs, e.g. F.binary_cross_entropy_with_logits"
    ctx.add("NO_LEARNING", "error", f"the loss ({fmt(loss.item())}) has no grad_fn: {why}. backward() raises or trains "
            f"nothing.", fix)


@rule("NO_LEARNING", "error/warning/info",
      "the probe does not lower the loss: no parameters / all frozen, outputs or loss detached, no gradient "
      "reaches the parameters, all gradients 0, lr 0, optimizer over other parameters, loss went up (error); "
      f"loss fell by < {PROBE_MIN_DECREASE:.1%} (warning; the message names the suspect: weight decay, frozen "
      "parameters or the lr); info when the loss moved too little to tell at a small lr but falls at 10-100x it.",
      "the sub-cause's fix (message)")
def probe(ctx: Context) -> None:
    model, dev = ctx.model, ctx.device
    model.train()
    params = list(model.parameters())
    trainable = [p for p in params if p.requires_grad]
    if not params:
        ctx.add("NO_LEARNING", "error", "the model has no parameters: there is nothing to train.",
                "register layers as attributes of the nn.Module (self.fc = nn.Linear(...))")
        return
    if not trainable:
        ctx.add("NO_LEARNING", "error", f"none of the model's {len(params)} parameter tensors requires grad (all "
                f"frozen): the loss cannot change.", "for p in model.parameters(): p.requires_grad_(True)")
        return
    causes = learning_rate(ctx) + weight_decay(ctx)
    opt, desc = build_optimizer(ctx, trainable)
    ctx.facts["probe_optimizer"] = desc
    if opt is None:
        ctx.add("NO_LEARNING", "error", f"{desc}: it updates another model's parameters (was the optimizer built "
                f"before the model was re-created, or for another instance?).", fix_opt(ctx))
        return
    before = None
    losses: list[float] = []
    for step in range(ctx.probe_steps):
        opt.zero_grad(set_to_none=True)
        seed(dev)
        try:
            out = ctx.pick(model(ctx.x))
            loss = loss_value(ctx, out)
        except Exception as e:  # noqa: BLE001
            ctx.add("NO_LEARNING", "error", f"the probe's step {step} raises {type(e).__name__}: {str(e)[:300]}",
                    "run one training step by hand to see the traceback")
            return
        losses.append(loss.item())
        if step == 0:
            before = loss.item()
            if not loss.requires_grad:
                _detached(ctx, loss, out)
                return
        if not math.isfinite(loss.item()):
            ctx.add("NON_FINITE", "error", f"the loss became {loss.item()} at probe step {step} of {desc} (from "
                    f"{fmt(before)}): " + _cause(ctx, "the lr is too large or the loss is numerically unstable") + ".",
                    "model.float()" if ctx.param_dtype() in (torch.float16, torch.bfloat16)
                    else "lower the lr; use BCEWithLogitsLoss")
            return
        loss.backward()
        if step == 0 and not _first_step(ctx, loss, out, trainable):
            return
        try:
            if isinstance(opt, torch.optim.LBFGS):
                opt.step(lambda: _closure(ctx, opt))
            else:
                opt.step()
        except Exception as e:  # noqa: BLE001
            ctx.add("NO_LEARNING", "error", f"optimizer.step() of {desc} raises {type(e).__name__}: {str(e)[:300]}",
                    fix_opt(ctx))
            return
    seed(dev)
    with torch.no_grad():
        out_after = ctx.pick(model(ctx.x))
        after = loss_value(ctx, out_after).item()
    ctx.out_after = out_after.detach()
    ctx.facts.update(probe_steps=ctx.probe_steps, probe_loss_before=before, probe_loss_after=after)
    if not math.isfinite(after):
        ctx.add("NON_FINITE", "error", f"after {ctx.probe_steps} probe steps of {desc} the loss is {after} (from "
                f"{fmt(before)}): " + _cause(ctx, "the lr is too large or the loss is numerically unstable") + ".",
                "model.float()" if ctx.param_dtype() in (torch.float16, torch.bfloat16) else "lower the lr")
        return
    _judge_decrease(ctx, before, after, desc, causes, trainable, params)
    _lr_borne_out(ctx, [*losses, after], desc)


def _lr_borne_out(ctx: Context, losses: list[float], desc: str) -> None:
    """Turn a LEARNING_RATE warning into info when the probe ran the caller's own optimizer at that lr
    and the loss fell steadily: it never rose above its start and ended LR_PROBE_DROP lower. The
    warning's reason (divergence, oscillation) is then contradicted on this setup."""
    f = next((f for f in ctx.findings if f.code == "LEARNING_RATE" and f.severity == "warning"), None)
    if f is None or ctx.probe_steps < 2 or "could not rebuild" in desc or "no optimizer" in desc:
        return
    before, after = losses[0], losses[-1]
    if not all(math.isfinite(v) for v in losses) or max(losses) > before or after > (1 - LR_PROBE_DROP) * before:
        return
    ctx.findings.remove(f)
    ctx.add("LEARNING_RATE", "info",
            f"{f.message.split(' Next: notebook')[0]} Here the {ctx.probe_steps}-step probe at that lr ({desc}) lowered the loss steadily "
            f"({fmt(before)} -> {fmt(after)}, never above its start), so it does not diverge on this batch; watch "
            f"the loss over whole epochs (07 §1's range test).", f.fix)


def _judge_decrease(ctx: Context, before: float, after: float, desc: str, causes: list[str], trainable: list,
                    params: list) -> None:
    rel = (before - after) / max(abs(before), 1e-12)
    n_nonzero = ctx.facts.get("params_nonzero_grad", 0)
    grads_note = f"{n_nonzero} of {len(trainable)} trainable parameter tensors got a non-zero gradient"
    frozen = len(params) - len(trainable)
    if frozen:
        causes = [*causes, f"{frozen} of {len(params)} parameter tensors are frozen (requires_grad=False)"]
    if rel <= 0:
        if after > before and not causes:
            causes.append(f"the loss went up: the lr of {desc} is too large")
        ctx.add("NO_LEARNING", "error",
                f"overfitting this one batch for {ctx.probe_steps} steps of {desc} did not lower the loss "
                f"({fmt(before)} -> {fmt(after)}); {grads_note}." + (f" Cause: {'; '.join(causes)}." if causes else ""),
                fix_opt(ctx))
    elif rel < PROBE_MIN_DECREASE and not causes and (scaled := _scaled_probe(ctx, before)) is not None:
        scale, rel_scaled, desc_scaled = scaled
        ctx.add("NO_LEARNING", "info",
                f"could not tell at your lr: {ctx.probe_steps} probe steps of {desc} moved the loss by -{pct(rel)} "
                f"({fmt(before)} -> {fmt(after)}), too little to judge; at {scale:g}x the lr ({desc_scaled}) the same "
                f"probe lowered it by {pct(rel_scaled)}, so gradients reach the parameters and the setup learns. "
                f"Your lr is small: expect slow progress, not a bug.",
                "keep your optimizer; if training is too slow, raise its lr (07's range test)")
    elif rel < PROBE_MIN_DECREASE:
        suspect = f" Suspect: {'; '.join(causes)}." if causes else " Is the lr too small?"
        ctx.add("NO_LEARNING", "warning",
                f"overfitting this one batch for {ctx.probe_steps} steps of {desc} barely moved the loss "
                f"({fmt(before)} -> {fmt(after)}, -{pct(rel)}; a healthy setup drops it by several percent); "
                f"{grads_note}.{suspect}", fix_opt(ctx))


def _scaled_probe(ctx: Context, before: float) -> tuple[float, float, str] | None:
    """Re-run the probe on a fresh copy at larger multiples of the lr; (scale, relative decrease, optimizer)
    at the first scale where the loss falls by PROBE_MIN_DECREASE, or None."""
    for scale in PROBE_LR_SCALES:
        try:
            model = copy.deepcopy(ctx.orig_model).to(ctx.device).train()
        except Exception:  # noqa: BLE001
            return None
        trainable = [p for p in model.parameters() if p.requires_grad]
        opt, desc = build_optimizer(ctx, trainable, model=model, lr_scale=scale)
        if opt is None:
            return None
        try:
            for _ in range(ctx.probe_steps):
                opt.zero_grad(set_to_none=True)
                seed(ctx.device)
                loss_value(ctx, ctx.pick(model(ctx.x))).backward()
                opt.step()
            seed(ctx.device)
            with torch.no_grad():
                after = loss_value(ctx, ctx.pick(model(ctx.x))).item()
        except Exception:  # noqa: BLE001 -- LBFGS and the like: no verdict
            return None
        rel = (before - after) / max(abs(before), 1e-12)
        if math.isfinite(after) and rel >= PROBE_MIN_DECREASE:
            return scale, rel, desc
    return None


def _rows(ctx: Context, p: torch.Tensor) -> torch.Tensor:
    """``p`` laid out as (positions, labels), like :meth:`Context.label_rows` but not thresholded."""
    if p.ndim <= 1:
        return p.reshape(-1, 1)
    if p.ndim == 2:
        return p
    return p.movedim(ctx.class_axis, -1).reshape(-1, p.shape[ctx.class_axis])


def pred_prob(ctx: Context, out: torch.Tensor) -> torch.Tensor:
    """(positions, labels) probabilities of a positive, read as this loss's user would."""
    o = out.float()
    if ctx.two_way:
        return _rows(ctx, torch.softmax(o, dim=1)[:, 1])
    if ctx.kind == "ce":
        p = torch.softmax(o, dim=ctx.class_axis)
    elif ctx.kind == "nll":
        p = o.exp()
    elif ctx.kind in ("bce", "regression") or ctx.form in ("sigmoid", "softmax"):
        p = o
    else:
        p = torch.sigmoid(o)
    return _rows(ctx, p)


def pred_rate(ctx: Context, out: torch.Tensor) -> torch.Tensor:
    """(positions, labels) boolean predictions at 0.5, read as this loss's user would."""
    return pred_prob(ctx, out) > 0.5


def margin(ctx: Context, out: torch.Tensor) -> float:
    """The median |logit| of the predictions (log-odds of the probabilities): how far from the 0.5
    boundary the outputs sit; an untrained head's small logits sit within ~0.5 of it."""
    p = pred_prob(ctx, out).float().clamp(1e-7, 1 - 1e-7)
    return torch.logit(p).abs().median().item()


@rule("COLLAPSED_PREDICTIONS", "warning/info",
      f"at threshold 0.5 the predicted positive rate is < {COLLAPSE_LOW:.0%} or > {COLLAPSE_HIGH:.0%} (at init or "
      f"after the probe) while the true rate is in [{COLLAPSE_TRUE_RANGE[0]:.0%}, {COLLAPSE_TRUE_RANGE[1]:.0%}] "
      "(warning when onto the side the base rate does not favour with median |logit| >= 1, info near the 0.5 "
      "boundary or onto the majority side), or no positive "
      "predicted at all on sparse labels (info, with the labels involved).",
      "check pos_weight / the loss; tune thresholds per label")
def collapsed_predictions(ctx: Context) -> None:
    if ctx.out is None or ctx.single_label or ctx.one_hot or not ctx.loss_ok or ctx.has("SOFTMAX_ON_MULTILABEL"):
        return
    if not bool(torch.isfinite(ctx.out).all()):
        return
    yb = ctx.label_rows()
    true_rate = yb.float().mean().item()
    pi = pred_rate(ctx, ctx.out)
    pa = pred_rate(ctx, ctx.out_after) if ctx.out_after is not None and bool(torch.isfinite(ctx.out_after).all()) \
        else None
    init = pi.float().mean().item()
    after = pa.float().mean().item() if pa is not None else None
    ctx.facts.update(true_positive_rate=true_rate, pred_positive_rate_init=init, pred_positive_rate_after=after)
    how = {"ce": "softmax(outputs)", "nll": "exp(outputs)"}.get(
        ctx.kind, "outputs" if ctx.kind in ("bce", "regression") or ctx.form in ("sigmoid", "softmax")
        else "sigmoid(outputs)")
    fix = "print(probs.mean(0), targets.float().mean(0))  # per label; tune thresholds on validation"
    final, final_pred = (after, pa) if after is not None else (init, pi)
    when = (f"after the {ctx.probe_steps}-step probe ({pct(init)} at init)" if after is not None
            else "at initialization (no probe ran)")
    if not COLLAPSE_TRUE_RANGE[0] <= true_rate <= COLLAPSE_TRUE_RANGE[1]:
        positive = [j for j, c in enumerate(yb.sum(0).tolist()) if c > 0]
        if 0 < true_rate < COLLAPSE_TRUE_RANGE[0] and final == 0 and positive:
            ctx.add("COLLAPSED_PREDICTIONS", "info",
                    f"no prediction is positive ({how} > 0.5) {when}, while {pct(true_rate)} of the targets are: "
                    f"label{'s' * (len(positive) > 1)} {labels(positive)} have positives in this batch and none is "
                    f"predicted, so their recall and F1 at 0.5 are 0. On labels this sparse the all-zero answer is "
                    f"the cheapest loss; if it persists after training, weight the positives (pos_weight) or tune "
                    f"per-label thresholds.", fix)
        return

    def collapsed(r: float | None) -> bool:
        return r is not None and (r < COLLAPSE_LOW or r > COLLAPSE_HIGH)

    if not (collapsed(init) or collapsed(after)):
        return
    stage = "after the probe" if collapsed(after) else "at initialization"
    r = after if collapsed(after) else init
    side = "every label absent" if r < COLLAPSE_LOW else "every label present"
    f1_all = 2 * true_rate / (1 + true_rate)
    f1_note = (f"all-positive predictions give F1 = 2*rate/(1+rate) = {fmt(f1_all)} here (precision = the base rate)"
               if r > COLLAPSE_HIGH else "all-negative predictions give recall and F1 of 0")
    base = (f"on the given batch, {pct(final)} of the {final_pred.numel()} predictions ({how} > 0.5) are positive "
            f"{when}, while {pct(true_rate)} of the targets are: {stage} the model predicts {side}")
    pushed = [(v, o) for v, o in ((init, ctx.out), (after, ctx.out_after))
              if collapsed(v) and (v > COLLAPSE_HIGH) != (true_rate > 0.5)]
    m = max((margin(ctx, o) for _, o in pushed), default=0.0)
    ctx.facts["pred_margin"] = m
    if pushed and m < NEAR_BOUNDARY_LOGIT:
        ctx.add("COLLAPSED_PREDICTIONS", "info",
                base + f", but the outputs sit near the 0.5 boundary (median |logit| {fmt(m)} < "
                f"{NEAR_BOUNDARY_LOGIT:g}): an untrained head's small logits fall on one side by the draw of the "
                f"init, which is not a push; check again after some training.", fix)
    elif pushed:
        ctx.add("COLLAPSED_PREDICTIONS", "warning",
                base + ", the opposite of what the label base rates favour, so something pushes every output one way "
                f"(an extra sigmoid, a final ReLU, a softmax, a huge pos_weight, a bad bias init); {f1_note}.", fix)
    else:
        broken = [c for c in ("DOUBLE_SIGMOID", "LOGITS_NONNEGATIVE", "PROBS_EXPECTED", "WEIGHT_DECAY", "LOSS_AT_INIT")
                  if ctx.has(c)]
        phase = (f", the majority value of every label, caused by {broken[0]} above (not a phase of training)"
                 if broken else ", the majority value of every label: the base rates, which a model learns first")
        ctx.add("COLLAPSED_PREDICTIONS", "info",
                base + (phase if collapsed(final) else "; training moves away from it")
                + f". If it persists after training, {f1_note}: tune per-label thresholds on validation data or "
                "weight the positives.", fix)
