"""The entry point :func:`check_setup`: validate the arguments, copy the caller's objects, and run
the rules of each family in order on the copies."""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from helpers.diagnose import loss as loss_rules
from helpers.diagnose import outputs, pos_weight, probe, targets
from helpers.diagnose.context import Context, as_tensor, cpu_threads, fork_rng, model_device
from helpers.diagnose.report import Report, sort_findings

PROBE_STEPS_MAX = 1000  # check_setup refuses a longer probe (it would run for minutes with no progress shown)


def _validate_criterion(criterion) -> None:
    if isinstance(criterion, type):
        raise TypeError(f"criterion is the class {criterion.__name__}, not an instance: "
                        f"pass {criterion.__name__}() (with parentheses)")
    if not callable(criterion):
        raise TypeError(f"criterion must be a loss, a callable taking (outputs, targets); got {type(criterion).__name__}")
    mod = type(criterion).__module__
    if isinstance(criterion, nn.Module) and mod.startswith("torch.nn") and not isinstance(
            criterion, nn.modules.loss._Loss):
        raise TypeError(f"criterion is a {type(criterion).__name__}, a layer, not a loss: "
                        f"pass a loss such as nn.BCEWithLogitsLoss()")


def _validate_model(model) -> None:
    if isinstance(model, nn.modules.loss._Loss):
        raise TypeError(f"model is a {type(model).__name__} (a loss): did you swap model and criterion? "
                        "check_setup(model, criterion, inputs, targets)")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    meta = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.device.type == "meta"]
    if meta:
        raise ValueError(f"the model's {len(meta)} parameter/buffer tensors ({', '.join(meta[:3])}"
                         f"{', ...' if len(meta) > 3 else ''}) are on the meta device: they have shapes but no values, "
                         f"so nothing can run. Materialize them first: model.to_empty(device='cpu') and load the "
                         f"weights (or build the model outside torch.device('meta')).")


def _validate_tensors(x: torch.Tensor, y: torch.Tensor, tt: torch.Tensor | None) -> None:
    for what, t in (("inputs", x), ("targets", y), ("train_targets", tt)):
        if t is not None and t.device.type == "meta":
            raise ValueError(f"{what} are on the meta device (shape {tuple(t.shape)}): a meta tensor has a shape "
                             f"but no values; pass the real batch on 'cpu' or 'cuda'")
    for what, t in (("inputs", x), ("targets", y)):
        if t.ndim == 0:
            raise ValueError(f"{what} is a scalar; pass a batch with the batch dimension first")
        if t.shape[0] == 0 or t.numel() == 0:
            raise ValueError(f"{what} is an empty batch (shape {tuple(t.shape)}); pass at least one row")
    if tt is not None and (tt.ndim != 2 or tt.shape[0] == 0):
        raise ValueError(f"train_targets must be a non-empty (N, L) multi-hot array, got shape {tuple(tt.shape)}")


def _run(ctx: Context) -> None:
    f = ctx.facts
    ctx.model.train()
    try:
        ctx.crit = copy.deepcopy(ctx.crit)
    except Exception:  # noqa: BLE001 -- an uncopyable callable: losses are (nearly always) stateless
        pass
    ctx.pw_owner = ctx.crit
    ctx.x = ctx.x.detach().to(ctx.device, copy=True)
    ctx.y = ctx.y.detach().to(ctx.device, copy=True)
    if ctx.tt is not None:
        ctx.tt = ctx.tt.detach().to("cpu", copy=True)
    loss_rules.recognize(ctx)
    f.update(loss=ctx.loss_label, loss_kind=ctx.kind, device=str(ctx.device),
             inputs_shape=list(ctx.x.shape), inputs_dtype=str(ctx.x.dtype),
             targets_shape=list(ctx.y.shape), targets_dtype=str(ctx.y.dtype), batch_size=int(ctx.y.shape[0]))
    probe.model_in_eval(ctx)
    for rule in (targets.input_dtype, targets.batch_rows, targets.non_finite_batch):
        rule(ctx)
    ran = outputs.forward(ctx)  # first: the tensor the loss uses, and the outputs' shape, decide the target rules
    f.update(loss=ctx.loss_label, loss_kind=ctx.kind)
    loss_rules.loss_unknown(ctx)
    for rule in (targets.single_label, targets.target_dtype, targets.target_values, targets.masked_targets,
                 targets.no_train_targets, targets.train_targets_values, targets.empty_label, targets.rare_label):
        rule(ctx)
    if not ran:
        return
    outputs.check_outputs(ctx)
    if not ctx.single_label and bool(torch.isfinite(ctx.out).all()):
        targets.batch_too_small(ctx)
        pos_weight.pos_weight_invalid(ctx)
        pos_weight.pos_weight_inverted(ctx)
    loss_rules.check_loss(ctx)
    if ctx.probe_steps > 0 and ctx.loss_ok:
        probe.probe(ctx)
    probe.collapsed_predictions(ctx)


def check_setup(
    model: nn.Module,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    inputs: torch.Tensor | np.ndarray,
    targets: torch.Tensor | np.ndarray,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    train_targets: torch.Tensor | np.ndarray | None = None,
    probe_steps: int = 20,
) -> Report:
    """Check a multi-label training setup on one batch, like a linter; see the package docstring
    for every code it can report.

    ``model`` is any ``nn.Module``; ``criterion`` any loss (a ``torch.nn`` loss or a callable
    ``(outputs, targets) -> loss``); ``inputs`` and ``targets`` one batch (tensors or numpy
    arrays, converted with ``torch.as_tensor``); ``optimizer`` the one training will use (its
    class and hyperparameters are copied, it is never stepped); ``train_targets`` the whole
    training set's (N, L) targets, for label counts; ``probe_steps`` the length of the
    overfit-one-batch probe (0 skips it).

    Nothing the caller passed is modified; torch's RNG state is restored. Raises ``TypeError`` or
    ``ValueError`` for arguments it cannot work with (strings, the meta device...); a model that
    raises on the inputs is a ``MODEL_ERROR`` finding, not an exception.
    """
    t0 = time.perf_counter()
    _validate_model(model)
    _validate_criterion(criterion)
    x = as_tensor(inputs, "inputs")
    y = as_tensor(targets, "targets")
    tt = None if train_targets is None else as_tensor(train_targets, "train_targets")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}")
    if isinstance(probe_steps, (bool, np.bool_)) or not isinstance(probe_steps, (int, np.integer)) or probe_steps < 0:
        raise ValueError(f"probe_steps must be an int >= 0, got {probe_steps!r}")
    if probe_steps > PROBE_STEPS_MAX:
        raise ValueError(f"probe_steps={probe_steps} is above the cap of {PROBE_STEPS_MAX}: the probe overfits one "
                         f"batch, and 20-200 steps tell whether the loss falls; pass probe_steps=200 or less")
    probe_steps = int(probe_steps)
    _validate_tensors(x, y, tt)
    try:
        model_copy = copy.deepcopy(model)
    except Exception as e:
        raise TypeError(f"check_setup works on copy.deepcopy(model), which fails for this "
                        f"{type(model).__name__}: {e}") from e
    device = model_device(model, x.device)
    ctx = Context(model, model_copy, criterion, x, y, optimizer, tt, probe_steps, device)
    with fork_rng(device), cpu_threads(device, model) as threads, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's warnings (broadcasting...) repeat what the findings say
        ctx.facts["torch_threads"] = threads
        _run(ctx)
    if ctx.repairs:
        ctx.facts["repairs"] = ctx.repairs
    ctx.facts["elapsed_s"] = time.perf_counter() - t0
    return Report(sort_findings(ctx.findings), ctx.facts)
