"""Rules on the optimizer: which parameters it holds, its learning rate and its weight decay; and
the copy of it the probe trains with (the caller's class and hyperparameters over the model copy)."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from helpers.diagnose.context import Context, fmt
from helpers.diagnose.registry import rule

PROBE_LR = 1e-3  # the probe's Adam lr when no optimizer is given
LR_MAX_ADAPTIVE, LR_MAX_SGD = 0.1, 1.0  # LEARNING_RATE
WD_MAX_COUPLED = 1e-2  # WEIGHT_DECAY: L2 added to the gradient (Adam, SGD, RMSprop...) above this
WD_MAX_SHRINK = 1e-3  # WEIGHT_DECAY: decoupled decay (AdamW) shrinking weights by more than lr*wd per step
ADAPTIVE = ("Adam", "AdamW", "NAdam", "RAdam", "Adamax", "SparseAdam", "RMSprop", "Adagrad", "Adafactor")


class ProbeAdam:
    """Plain Adam (torch.optim.Adam's update, no options) for the probe when no optimizer is given.
    The first ``torch.optim`` optimizer built in a process lazily imports ``torch._dynamo``
    (1-2 s), which would dominate a check of a small model; a caller who passes an optimizer has
    paid that already."""

    def __init__(self, params: list[nn.Parameter], lr: float = PROBE_LR, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps, self.t = list(params), lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        (b1, b2), t = self.betas, self.t
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            if p.grad is None:
                continue
            m.mul_(b1).add_(p.grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            denom = (v / (1 - b2**t)).sqrt_().add_(self.eps)
            p.addcdiv_(m, denom, value=-self.lr / (1 - b1**t))


def describe(opt: torch.optim.Optimizer) -> str:
    lrs = sorted({float(g.get("lr", float("nan"))) for g in opt.param_groups})
    return f"{type(opt).__name__}(lr={', '.join(f'{v:g}' for v in lrs)})"


@rule("OPTIMIZER_PARAMS", "warning", "trainable parameters of the model that the optimizer does not hold: they "
      "never update.", "optim.Adam(model.parameters())")
def optimizer_params(ctx: Context) -> list[str]:
    """Names of the trainable parameters the caller's optimizer misses (and the finding)."""
    user = ctx.orig_optimizer
    if user is None:
        return []
    held = {id(p) for g in user.param_groups for p in g["params"]}
    named = dict(ctx.orig_model.named_parameters())
    missing = [n for n, p in named.items() if p.requires_grad and id(p) not in held]
    if missing and len(missing) < sum(p.requires_grad for p in named.values()):
        ctx.add("OPTIMIZER_PARAMS", "warning",
                f"{len(missing)} of {sum(p.requires_grad for p in named.values())} trainable parameter tensors are "
                f"not in the optimizer ({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): they receive "
                f"gradients but never change (was a layer added after the optimizer was built?).",
                f"optimizer = torch.optim.{type(user).__name__}(model.parameters(), ...)")
    return missing


def build_optimizer(ctx: Context, trainable: list[nn.Parameter], model: nn.Module | None = None,
                    lr_scale: float = 1.0) -> tuple[Any, str]:
    """A fresh optimizer of the caller's class and hyperparameters over the copy's parameters (or
    ``model``'s), its lr times ``lr_scale``."""
    user = ctx.orig_optimizer
    model = ctx.model if model is None else model
    if user is None:
        return ProbeAdam(trainable, lr=PROBE_LR * lr_scale), f"Adam(lr={PROBE_LR * lr_scale:g}) (no optimizer given)"
    mapping = {id(po): pc for po, pc in zip(ctx.orig_model.parameters(), model.parameters(), strict=True)}
    groups = []
    for g in user.param_groups:
        ps = [mapping[id(p)] for p in g["params"] if id(p) in mapping]
        if ps:
            extra = {k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
            if lr_scale != 1.0 and isinstance(extra.get("lr"), (int, float)):
                extra["lr"] = extra["lr"] * lr_scale
            groups.append({"params": ps, **extra})
    if not groups:
        return None, f"{type(user).__name__} holds none of the model's {len(mapping)} parameter tensors"
    if lr_scale == 1.0:
        optimizer_params(ctx)
    cls = type(user)
    for kwargs in (dict(user.defaults), {}):
        try:
            opt = cls(groups, **kwargs)
            return opt, describe(opt if lr_scale != 1.0 else user)
        except Exception:  # noqa: BLE001 -- try without the defaults, then fall back to Adam
            continue
    return ProbeAdam(trainable), f"Adam(lr={PROBE_LR:g}) (could not rebuild {cls.__name__})"


@rule("LEARNING_RATE", "warning/info",
      f"lr > {LR_MAX_ADAPTIVE:g} for an adaptive optimizer (Adam, RMSprop, Adagrad...) or > {LR_MAX_SGD:g} for SGD "
      "(info when the probe at that lr lowered the loss by 10%+ without ever rising above its start).",
      "lr=1e-3 (Adam)")
def learning_rate(ctx: Context) -> list[str]:
    """The finding, and the sub-causes NO_LEARNING can name (lr 0, maximize)."""
    user = ctx.orig_optimizer
    if user is None:
        return []
    lrs = [float(g["lr"]) for g in user.param_groups if "lr" in g]
    name = type(user).__name__
    limit = LR_MAX_ADAPTIVE if name in ADAPTIVE else LR_MAX_SGD if name in ("SGD", "ASGD") else None
    if limit is not None and lrs and max(lrs) > limit:
        ctx.add("LEARNING_RATE", "warning",
                f"{name} has lr={fmt(max(lrs))}, above the {fmt(limit)} beyond which {name} usually diverges or "
                f"oscillates (typical: {'1e-3' if name in ADAPTIVE else '0.01-0.1'}).",
                f"optimizer = torch.optim.{name}(model.parameters(), lr={'1e-3' if name in ADAPTIVE else '0.05'})")
    causes = []
    if lrs and all(v == 0 for v in lrs):
        causes.append(f"the optimizer's lr is 0 ({name}(lr=0)): step() changes nothing")
    if any(g.get("maximize") for g in user.param_groups):
        causes.append(f"{name}(maximize=True) climbs the loss instead of descending it")
    return causes


def _decoupled(opt: torch.optim.Optimizer, group: dict) -> bool:
    return isinstance(opt, torch.optim.AdamW) or bool(group.get("decoupled_weight_decay"))


@rule("WEIGHT_DECAY", "warning",
      f"weight_decay far too large: > {WD_MAX_COUPLED:g} added to the gradient (Adam, SGD, RMSprop...), or a "
      f"decoupled decay (AdamW) with lr x weight_decay > {WD_MAX_SHRINK:g} per step; it pulls every weight to 0 "
      f"and most labels' predictions to the base rate.", "weight_decay=1e-4 (Adam) or AdamW(weight_decay=1e-2)")
def weight_decay(ctx: Context) -> list[str]:
    """The finding, and the sub-cause NO_LEARNING can name."""
    user = ctx.orig_optimizer
    if user is None:
        return []
    name = type(user).__name__
    for g in user.param_groups:
        wd, lr = float(g.get("weight_decay", 0.0) or 0.0), float(g.get("lr", 0.0) or 0.0)
        if _decoupled(user, g):
            bad = lr * wd > WD_MAX_SHRINK
            seen = (f"{name}(lr={fmt(lr)}, weight_decay={fmt(wd)}) shrinks every weight by lr x weight_decay = "
                    f"{fmt(lr * wd)} of itself per step (above {fmt(WD_MAX_SHRINK)})")
        else:
            bad = wd > WD_MAX_COUPLED
            seen = (f"{name}(weight_decay={fmt(wd)}) adds {fmt(wd)} x weight to every gradient (above "
                    f"{fmt(WD_MAX_COUPLED)}); in Adam this L2 term is rescaled like the gradient, so it can "
                    f"outweigh the loss's own gradient")
        if bad:
            ctx.add("WEIGHT_DECAY", "warning",
                    seen + ": weights are pulled to 0 faster than the loss can move them, which leaves most labels "
                    "predicted at their base rate (F1 near 0 for rare labels).",
                    f"torch.optim.{name}(model.parameters(), lr={fmt(lr)}, weight_decay="
                    f"{'1e-2' if _decoupled(user, g) else '1e-4'})")
            return [f"weight_decay={fmt(wd)} is far too large for {name}"]
    return []
