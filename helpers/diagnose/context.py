"""What every rule of :func:`check_setup` reads: the :class:`Context` (copies of the caller's
model, loss and batch, and what earlier rules measured) and small shared helpers (formatting,
finding the logits in what a model returns, the form of the outputs, devices and RNG)."""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from helpers.diagnose.report import Finding

PROBE_SEED = 0  # the probe's seed (dropout masks), inside a forked RNG
SMALL_MODEL_PARAMS = 5_000_000  # on CPU, models up to this size are checked with one torch thread

KIND_LABEL = {"bce_logits": "BCEWithLogitsLoss", "bce": "BCELoss", "ce": "CrossEntropyLoss", "nll": "NLLLoss",
              "regression": "MSELoss", "other": None}


# --- formatting ------------------------------------------------------------------------------------


def fmt(v: float | None) -> str:
    """A measured value in a finding's message: 4 significant digits, trailing zeros kept (``0.3540``, not
    ``0.354``), so that its width does not depend on its last digits. A message is wrapped into a table
    column; were the widths to differ, the same finding would wrap differently on CPUs whose kernels differ in
    the last bits, and the book's regression run would see another text. Whole numbers (counts, epochs) stay
    whole."""
    if v is None:
        return "n/a"
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}" if float(v).is_integer() else f"{v:#.4g}"


def pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def shape(t: torch.Tensor) -> str:
    return str(tuple(t.shape))


def labels(idx: list[int], counts: list[int] | None = None, k: int = 8) -> str:
    items = [f"{i} ({c})" if counts is not None else str(i) for i, c in zip(idx, counts or idx, strict=True)]
    more = f" (+{len(items) - k} more)" if len(items) > k else ""
    return ", ".join(items[:k]) + more


def name_of(obj: Any) -> str:
    if isinstance(obj, nn.Module) or not hasattr(obj, "__name__"):
        func = getattr(obj, "func", None)  # functools.partial
        return f"partial({func.__name__})" if callable(func) and hasattr(func, "__name__") else type(obj).__name__
    return obj.__name__


def as_tensor(value: Any, what: str) -> torch.Tensor:
    """``value`` as a tensor, or a TypeError naming the argument (strings and objects refused)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "USOV":
            raise TypeError(f"{what} is a numpy array of dtype {value.dtype} (strings or objects), not numbers: "
                            f"encode it first, e.g. {what} = np.asarray({what}, dtype=np.float32)")
        return torch.as_tensor(value)
    raise TypeError(f"{what} must be a torch.Tensor or a numpy array, got {type(value).__name__}")


# --- the model's outputs ----------------------------------------------------------------------------


def tensor_entries(raw: Any) -> list[tuple[Any, torch.Tensor]]:
    """The tensors in what a model returned, with their keys: dict keys, tuple indices or attribute names."""
    if isinstance(raw, Mapping):
        return [(k, v) for k, v in raw.items() if isinstance(v, torch.Tensor)]
    if isinstance(raw, (tuple, list)):
        return [(i, v) for i, v in enumerate(raw) if isinstance(v, torch.Tensor)]
    attrs = getattr(raw, "__dict__", None)
    if isinstance(attrs, dict):
        return [(k, v) for k, v in attrs.items() if isinstance(v, torch.Tensor)]
    return []


def rebuild(raw: Any, key: Any, value: torch.Tensor) -> Any:
    """A shallow copy of ``raw`` (dict, tuple, namedtuple, list or object) with entry ``key`` replaced."""
    if isinstance(raw, Mapping):
        new = copy.copy(raw)
        try:
            new[key] = value
        except TypeError:  # a read-only mapping
            new = {**raw, key: value}
        if type(new) is not dict and isinstance(key, str) and hasattr(new, key):  # a ModelOutput-like mapping
            with contextlib.suppress(Exception):
                object.__setattr__(new, key, value)
        return new
    if isinstance(raw, tuple):
        items = list(raw)
        items[key] = value
        return type(raw)(*items) if hasattr(raw, "_fields") else tuple(items)
    if isinstance(raw, list):
        items = list(raw)
        items[key] = value
        return items
    new = copy.copy(raw)
    object.__setattr__(new, key, value)
    return new


def where(raw: Any, key: Any) -> str:
    """How entry ``key`` of ``raw`` is written in code: out['probs'], out[1], out.logits."""
    if isinstance(raw, Mapping):
        return f"out[{key!r}]"
    if isinstance(raw, (tuple, list)):
        return f"out[{key}]"
    return f"out.{key}"


def unwrap(raw: Any, like: tuple[int, ...] | None = None, key: Any = None) -> tuple[torch.Tensor | None, str | None]:
    """The logits tensor in what the model returned, and a note saying where it was found. ``key``
    (the entry the loss was seen to use) wins; else in a dict the ``logits`` entry; in a tuple,
    a dict without ``logits`` or an object, the entry shaped like the targets (``like``), else the
    first tensor."""
    if isinstance(raw, torch.Tensor):
        return raw, None
    entries = tensor_entries(raw)
    kind = type(raw).__name__
    if key is not None:
        for k, v in entries:
            if k == key:
                return v, (f"the model returns a {kind}; the criterion takes it whole and uses {where(raw, k)} "
                           f"(shape {shape(v)}), so the checks judged that tensor")
    if isinstance(raw, Mapping):
        for name in ("logits", "out", "output", "outputs"):
            if isinstance(raw.get(name), torch.Tensor):
                return raw[name], f"the model returns a {kind}; checks used its {name!r} entry"
    elif isinstance(getattr(raw, "logits", None), torch.Tensor):
        return raw.logits, f"the model returns a {kind}; checks used its .logits"
    if not entries:
        return None, None
    shaped = [(k, v) for k, v in entries if like is not None and tuple(v.shape) == tuple(like)]
    k, v = shaped[0] if shaped else entries[0]
    why = (f"the one shaped like the targets {tuple(like)}" if shaped
           else "the first tensor" + (f" (none is shaped like the targets {tuple(like)})" if like else ""))
    return v, (f"the model returns a {kind} of {len(entries)} tensors; checks used {where(raw, k)}, shape "
               f"{shape(v)}, {why}")


_NONNEG = (nn.ReLU, nn.ReLU6, nn.Softplus)
# layers whose outputs are raw scores whatever their range: values in [0, 1] out of one of them are
# logits that happen to be small (a ResNet head at init), not probabilities
_AFFINE = (nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
           nn.ConvTranspose3d)


def softmax_axis(o: torch.Tensor) -> int | None:
    """The axis (>= 1) along which every slice of ``o`` sums to 1 (a softmax), else None."""
    if o.ndim < 2 or o.min().item() < 0:
        return None
    for ax in [o.ndim - 1, *range(1, o.ndim - 1)]:
        if o.shape[ax] >= 2 and (o.sum(ax) - 1).abs().max().item() < 1e-3:
            return ax
    return None


def output_form(out: torch.Tensor, final: nn.Module | None) -> tuple[str, str]:
    """What the outputs look like: logits, sigmoid (probabilities), softmax, log_softmax or nonneg;
    with the evidence. The final module decides when it is an activation (or an affine layer: logits);
    the range of the values only when the last op is unknown (a functional torch.sigmoid in forward)."""
    if isinstance(final, (nn.Softmax, nn.Softmin)):
        return "softmax", f"the model ends in nn.{type(final).__name__}"
    if isinstance(final, nn.LogSoftmax):
        return "log_softmax", "the model ends in nn.LogSoftmax"
    if isinstance(final, (nn.Sigmoid, nn.Hardsigmoid)):
        return "sigmoid", f"the model ends in nn.{type(final).__name__}"
    if isinstance(final, _NONNEG):
        return "nonneg", f"the model ends in nn.{type(final).__name__}"
    if isinstance(final, _AFFINE):
        return "logits", ""
    o = out.detach().float()
    if o.numel() < 2 or not bool(torch.isfinite(o).all()):
        return "logits", ""
    lo, hi = o.min().item(), o.max().item()
    ax = softmax_axis(o)
    if ax is not None:
        return "softmax", f"every slice of the outputs along dim {ax} sums to 1"
    if o.ndim >= 2 and o.shape[-1] >= 2 and hi <= 0 and o.logsumexp(-1).abs().max().item() < 1e-3:
        return "log_softmax", "every row of the outputs has logsumexp 0"
    if o.numel() >= 16 and lo >= 0:
        zero_frac = (o == 0).float().mean().item()
        if hi <= 1 and zero_frac < 0.05:
            return "sigmoid", f"all {o.numel()} outputs lie in [0, 1]"
        return "nonneg", f"all {o.numel()} outputs are >= 0 ({pct(zero_frac)} exactly 0)"
    return "logits", ""


# --- devices and RNG -------------------------------------------------------------------------------


def model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return fallback


def fork_rng(device: torch.device):
    if device.type == "cpu":
        return torch.random.fork_rng(devices=[])
    index = device.index
    if index is None and device.type == "cuda":
        index = torch.cuda.current_device()
    try:
        return torch.random.fork_rng(devices=[index or 0], device_type=device.type)
    except Exception:  # an accelerator fork_rng does not know: fork the CPU generator only
        return torch.random.fork_rng(devices=[])


@contextlib.contextmanager
def cpu_threads(device: torch.device, model: nn.Module) -> Iterator[int]:
    """One intra-op thread for a small model on CPU, restored afterwards: for tensors this small,
    threads cost more than they give, and under a busy CPU extra threads spin and can make the
    probe 5-10x slower."""
    before = torch.get_num_threads()
    small = sum(p.numel() for p in model.parameters()) <= SMALL_MODEL_PARAMS
    if device.type != "cpu" or not small or before == 1:
        yield before
        return
    torch.set_num_threads(1)
    try:
        yield 1
    finally:
        torch.set_num_threads(before)


def seed(device: torch.device) -> None:
    torch.default_generator.manual_seed(PROBE_SEED)
    if device.type == "cuda":
        with torch.cuda.device(device):
            torch.cuda.manual_seed(PROBE_SEED)


# --- the context -----------------------------------------------------------------------------------


class Context:
    """The state one :func:`check_setup` run shares between its rules: copies of the caller's
    objects (``model``, ``crit``, ``x``, ``y``, ``tt``), the originals for read-only comparisons,
    and what earlier rules found (``kind``, ``out``, ``form``, ``loss0``...)."""

    def __init__(self, model, model_copy, criterion, x, y, optimizer, train_targets, probe_steps, device):
        self.orig_model, self.orig_optimizer = model, optimizer
        self.model, self.crit = model_copy, criterion
        self.x, self.y, self.tt = x, y, train_targets
        self.probe_steps, self.device = probe_steps, device
        self.findings: list[Finding] = []
        self.facts: dict[str, Any] = {}
        self.repairs: list[str] = []
        self.kind, self.kind_how = "other", "unrecognized"
        self.loss_name = name_of(criterion)
        self.pw_owner: Any = criterion  # the object holding pos_weight (the loss, or a torch loss inside it)
        self.single_label = self.one_hot = False
        self.batch_ok = self.loss_ok = self.shapes_ok = False
        self.out: torch.Tensor | None = None
        self.out_after: torch.Tensor | None = None
        self.form, self.form_why = "logits", ""
        self.final: nn.Module | None = None
        self.pre_final: torch.Tensor | None = None  # the input of a final nn.Sigmoid (pre-sigmoid values)
        self.loss0: float | None = None
        self.base_rate = 0.0
        self.class_axis = -1  # the axis a softmax (or CrossEntropyLoss) runs over
        self.out_key: Any = None  # the entry of a tuple/dict/object output the criterion uses (raw_crit)
        self.raw_crit = False  # the criterion takes the model's whole output (a dict, tuple or object)
        self.two_way = False  # (N, 2, L) logits with (N, L) class-index targets: a two-way softmax per label
        self.masked = False  # targets in {0, 1, -1}: -1 is unknown

    def pick(self, raw: Any) -> torch.Tensor | None:
        """The tensor the checks judge in what the model returned (the one the criterion uses)."""
        return unwrap(raw, tuple(self.y.shape), self.out_key)[0]

    def add(self, code: str, severity: str, message: str, fix: str = "") -> None:
        self.findings.append(Finding(code, severity, message, fix))

    def has(self, *codes: str, severity: str | None = None) -> bool:
        return any(f.code in codes and (severity is None or f.severity == severity) for f in self.findings)

    @property
    def loss_label(self) -> str:
        known = KIND_LABEL.get(self.kind)
        if self.kind_how == "class" or known is None:
            return self.loss_name
        return f"{self.loss_name} (treated as {known})"

    def param_dtype(self) -> torch.dtype | None:
        return next((p.dtype for p in self.model.parameters() if p.is_floating_point()), None)

    def repair_targets(self) -> None:
        dt = self.param_dtype() or torch.float32
        self.y = self.y.to(dt)
        self.repairs.append(f"targets.to({dt})")

    def label_rows(self, y: torch.Tensor | None = None) -> torch.Tensor:
        """Boolean positives as (positions, labels): (N, L) for (N, L) targets; for (N, C, ...)
        targets the class axis moved last and every other position a row, so a softmax over C is
        judged per position."""
        y = self.y if y is None else y
        yb = y.float() > 0.5
        if yb.ndim <= 1:
            return yb.reshape(-1, 1)
        if yb.ndim == 2:
            return yb
        return yb.movedim(self.class_axis, -1).reshape(-1, yb.shape[self.class_axis])
