"""A linter for multi-label training setups: :func:`check_setup` looks at a model, a loss and one
batch, and reports the mistakes that make a multi-label classifier not train.

Usage::

    from helpers.diagnose import check_setup

    report = check_setup(model, nn.BCEWithLogitsLoss(), xb, yb, optimizer=opt, train_targets=y_train)
    report          # an HTML table in a notebook; print(report) gives a plain-text table
    report.ok       # False when any finding is an error
    report.codes    # ['DOUBLE_SIGMOID', 'NO_TRAIN_TARGETS', ...]

It works on any ``nn.Module`` and any loss (a ``torch.nn`` loss, a subclass, or a plain function:
known losses are recognized by class, then by name, then by the torch functions a lambda calls;
loss-specific checks are skipped for the rest). It never touches the caller's objects: it works
on ``copy.deepcopy`` of the model and the criterion and on copies of the tensors, builds a fresh
optimizer of the caller's class and hyperparameters over the copy's parameters, runs on the
device the model is on, and restores torch's random number generator state afterwards
(``torch.random.fork_rng``); on CPU, a small model (up to ``SMALL_MODEL_PARAMS``) is checked with one
torch thread, restored afterwards. The copy is put in train mode (what the first training step sees);
the static checks evaluate it once without gradient, then a short probe overfits the one batch
for ``probe_steps`` steps and watches the loss, the gradients and the predictions. For a small
CNN or MLP and a batch of a few hundred rows it takes well under a second on a CPU.

Where a mistake would stop the checks (integer targets, float64 inputs, ``pos_weight`` on another
device), the remaining checks run on a repaired copy (``targets.float()``...) and the finding
says so, so one report shows every problem at once.

Every code the checker can report is listed once, in ``CODE_TABLE`` below (appended to this
docstring); ``CODES`` (code -> meaning) and the allowed severities are parsed from it, so the
table is the single source of truth. Thresholds are module constants (``RARE_MIN_COUNT``...).
"""

from __future__ import annotations

import contextlib
import copy
import html
import math
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from helpers.results import jsonable

CODE_TABLE = r"""
Codes
=====

Severity: ``error`` -- training is broken or raises; ``warning`` -- it runs but will train badly
or report misleading metrics; ``info`` -- worth knowing, often intended. ``L`` is the number of
labels, ``N`` the batch size.

======================  =============  ============================================  ====================================
code                    severity       triggered when                                fix
======================  =============  ============================================  ====================================
MODEL_ERROR             error          ``model(inputs)`` raises, or returns          fix the model or the inputs; the
                                       something that holds no tensor; the           message quotes torch's error
                                       exception text is reported and output checks
                                       are skipped.
LOSS_ERROR              error          ``criterion(outputs, targets)`` raises; the   see the finding it names (often
                                       exception text is reported.                   TARGET_DTYPE or SHAPE_MISMATCH)
INPUT_DTYPE             error          floating inputs of another dtype than the     ``inputs = inputs.float()``
                                       model's parameters (float64 from numpy).
TARGET_DTYPE            error/warning  integer/bool targets for BCEWithLogitsLoss,   ``targets = targets.float()``
                                       BCELoss (error) or MSE/L1 (warning, works by
                                       promotion); float64 targets for BCELoss;
                                       long (N, L) one-hot for CrossEntropyLoss
                                       (the ``.long()`` mistake); float targets for
                                       NLLLoss.
TARGET_NOT_BINARY       error/warning  target values other than 0 and 1: outside     ``targets = (targets > 0).float()``
                                       [0, 1] (error: -1/1, counts, indices) or
                                       soft values inside (warning: label
                                       smoothing?).
SHAPE_MISMATCH          error/warning  inputs and targets differ in batch size, or   make ``outputs.shape ==
                                       outputs and targets differ in shape (warning  targets.shape`` (view/squeeze)
                                       for unrecognized losses), or train_targets
                                       have another number of labels.
SOFTMAX_ON_MULTILABEL   error          CrossEntropyLoss/NLLLoss, a final Softmax/    ``nn.BCEWithLogitsLoss()`` on logits
                                       LogSoftmax, or output rows summing to 1 /
                                       logsumexp 0, while some target rows have 2+
                                       positive labels.
DOUBLE_SIGMOID          error          BCEWithLogitsLoss on outputs that are         remove the final ``nn.Sigmoid``
                                       already probabilities (final
                                       Sigmoid/Softmax, or all N*L >= 16 values in
                                       [0, 1] and < 5% exactly 0): trained
                                       probabilities live in (0.5, 0.731).
LOGITS_NONNEGATIVE      error          BCEWithLogitsLoss on outputs that cannot be   remove the activation after the last
                                       negative (final ReLU/ReLU6/Softplus, or all   ``nn.Linear``
                                       values >= 0): sigmoid >= 0.5 for every
                                       label.
PROBS_EXPECTED          error          BCELoss on values outside [0, 1] (logits).    ``nn.BCEWithLogitsLoss()``
POS_WEIGHT_INVALID      error/warning  ``criterion.pos_weight`` not broadcastable    ``pos_weight = (n - pos) / pos``
                                       to (L,), non-floating, non-finite, <= 0, or   over the whole training set
                                       on another device (error); finite but > 100
                                       (warning: a few examples dominate).
NON_FINITE              error          NaN/inf in inputs, targets, outputs, the      find the NaN source (data,
                                       loss, the gradients, or the loss during the   pos_weight, lr)
                                       probe.
NO_LEARNING             error/warning  the probe does not lower the loss: no         the sub-cause's fix (message)
                                       parameters / all frozen, outputs or loss
                                       detached (no grad_fn), no gradient reaches
                                       the parameters, all gradients 0, lr 0,
                                       optimizer over other parameters, loss went
                                       up (error); loss fell by < 0.2% (warning: lr
                                       too small?).
LOSS_AT_INIT            warning        first loss > 3x the loss of a neutral         ``x = (x - mean) / std``; default
                                       predictor (zero logits: log 2 per element     init
                                       for BCE, log L per positive for CE) and of
                                       the prior predictor (each label's base
                                       rate), or logits' std > 10.
COLLAPSED_PREDICTIONS   warning/info   at threshold 0.5 the predicted positive rate  check pos_weight / the loss; tune
                                       is < 2% or > 98% (at init or after the        thresholds per label
                                       probe; the message says which) while the
                                       true rate is in [5%, 95%]: warning when it
                                       collapses onto the side the base rate does
                                       not favour (all present though rate < 50%),
                                       info when onto the majority side (normal
                                       while learning base rates). Not checked
                                       under SOFTMAX_ON_MULTILABEL.
CONSTANT_OUTPUT         warning        every row of the batch gets the same output:  default init; check inputs differ
                                       the model ignores its inputs (zero init,
                                       dead units, identical inputs).
SIGMOID_THEN_BCELOSS    warning        final Sigmoid (or probabilities) + BCELoss:   logits + ``nn.BCEWithLogitsLoss()``
                                       works, but log(p) saturates (clamped at
                                       -100).
MSE_FOR_CLASSIFICATION  warning        MSELoss/L1Loss/SmoothL1Loss/HuberLoss on      ``nn.BCEWithLogitsLoss()``
                                       binary targets: weak gradients when wrong.
EMPTY_LABEL             warning        a label of train_targets has no positive (or  ``Y = Y[:, keep]`` (drop them)
                                       no negative): pos_weight inf (or 0), AP/AUC
                                       undefined, macro averages distorted.
RARE_LABEL              warning        a label of train_targets has < 5 positives    ``pos_weight.clamp(max=50)``
                                       or a rate < 0.5%: huge pos_weight, noisy
                                       per-label AP and macro metrics.
OPTIMIZER_PARAMS        warning        trainable parameters of the model that the    ``optim.Adam(model.parameters())``
                                       optimizer does not hold: they never update.
LEARNING_RATE           warning        lr > 0.1 for an adaptive optimizer (Adam,     ``lr=1e-3`` (Adam)
                                       RMSprop, Adagrad...) or > 1 for SGD.
BIAS_INIT               info           BCE on sparse labels: the loss at zero        ``bias = torch.logit(base_rate)``
                                       logits is > 2x the prior predictor's; init
                                       the final bias to the base rates.
BATCH_TOO_SMALL         info           some labels have no positive in this batch:   pos_weight from the whole train set
                                       per-batch pos_weight is inf, batch metrics
                                       undefined.
LOSS_REDUCTION          info           reduction='none' (check_setup took the mean)  ``nn.BCEWithLogitsLoss()`` (mean)
                                       or 'sum' (loss and gradients scale with
                                       N*L).
MODEL_IN_EVAL           info           ``model.training`` is False.                  ``model.train()``
NO_TRAIN_TARGETS        info           train_targets not given: label counts         ``check_setup(...,
                                       unchecked.                                    train_targets=Y)``
LOSS_UNKNOWN            info           the criterion is not recognized;              use a torch.nn loss, or ignore
                                       loss-specific checks are skipped.
OUTPUT_NOT_TENSOR       info           the model returns a tuple/dict/object;        pass ``out.logits`` to the loss
                                       checks used the tensor named in the message.
SINGLE_LABEL_TARGETS    info           CrossEntropyLoss/NLLLoss with 1-D             (N, L) multi-hot float targets
                                       class-index targets, or (N, L) one-hot
                                       targets with exactly one positive per row: a
                                       single-label setup; multi-label checks
                                       skipped.
======================  =============  ============================================  ===================================="""

__doc__ = (__doc__ or "") + CODE_TABLE

# --- thresholds (documented in CODE_TABLE) ---------------------------------------------------
RARE_MIN_COUNT = 5  # a label with fewer positives than this in train_targets is RARE_LABEL
RARE_MIN_RATE = 0.005  # ... or with a positive rate below this
POS_WEIGHT_MAX = 100.0  # a finite pos_weight above this is a POS_WEIGHT_INVALID warning
INIT_LOSS_RATIO = 3.0  # LOSS_AT_INIT: first loss > this x max(neutral loss, prior loss)
LOGIT_STD_MAX = 10.0  # LOSS_AT_INIT: std of the logits above this
BIAS_INIT_RATIO = 2.0  # BIAS_INIT: neutral loss > this x prior loss
COLLAPSE_LOW, COLLAPSE_HIGH = 0.02, 0.98  # COLLAPSED_PREDICTIONS: predicted positive rate outside
COLLAPSE_TRUE_RANGE = (0.05, 0.95)  # ... while the true rate is inside this range
PROBE_MIN_DECREASE = 0.002  # NO_LEARNING warning: relative loss decrease below this
PROBE_LR = 1e-3  # the probe's Adam lr when no optimizer is given
LR_MAX_ADAPTIVE, LR_MAX_SGD = 0.1, 1.0  # LEARNING_RATE
PROBE_SEED = 0  # the probe's seed (dropout masks), inside a forked RNG
SMALL_MODEL_PARAMS = 5_000_000  # on CPU, models up to this size are checked with one torch thread

SEVERITIES = ("error", "warning", "info")
_ADAPTIVE = ("Adam", "AdamW", "NAdam", "RAdam", "Adamax", "SparseAdam", "RMSprop", "Adagrad", "Adafactor")


def _parse_code_table(table: str) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Read ``CODE_TABLE`` (an RST simple table) into code -> meaning and code -> severities."""
    lines = table.splitlines()
    borders = [i for i, ln in enumerate(lines) if ln.startswith("====") and "  " in ln]
    spans, pos = [], 0
    for part in lines[borders[0]].split(" "):
        if part:
            spans.append((pos, pos + len(part)))
        pos += len(part) + 1
    rows: list[list[str]] = []
    starts = [a for a, _ in spans] + [None]
    for ln in lines[borders[1] + 1: borders[2]]:
        cells = [ln[a: starts[k + 1]].strip() for k, a in enumerate(starts[:-1])]
        if cells[0]:
            rows.append(cells)
        elif rows:
            rows[-1] = [f"{old} {new}".strip() for old, new in zip(rows[-1], cells, strict=True)]
    meaning = {r[0]: r[2].replace("``", "") for r in rows}
    severities = {r[0]: tuple(r[1].split("/")) for r in rows}
    return meaning, severities


CODES, CODE_SEVERITIES = _parse_code_table(CODE_TABLE)


# --- the report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One problem: its ``code`` (a key of :data:`CODES`), ``severity`` ("error", "warning" or
    "info"), a ``message`` naming what was seen (shapes, dtypes, ranges, numbers) and a ``fix``
    (a short code line)."""

    code: str
    severity: str
    message: str
    fix: str = ""

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r}; known codes: {sorted(CODES)}")
        if self.severity not in CODE_SEVERITIES[self.code]:
            raise ValueError(f"{self.code} findings are {'/'.join(CODE_SEVERITIES[self.code])}, "
                             f"not {self.severity!r}")

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message, "fix": self.fix}


_ORDER = {s: i for i, s in enumerate(SEVERITIES)}
_COLOURS = {"error": "#b00020", "warning": "#a15c00", "info": "#3465a4"}


@dataclass
class Report:
    """What :func:`check_setup` found: ``findings`` (errors first) and ``facts`` (what it measured:
    loss type, shapes, first loss, probe losses, timing). Iterate it for the findings."""

    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no finding is an error."""
        return not any(f.severity == "error" for f in self.findings)

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def by_severity(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if f.severity == severity]

    def get(self, code: str) -> Finding | None:
        """The first finding with ``code``, or None."""
        return next((f for f in self.findings if f.code == code), None)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __contains__(self, item: object) -> bool:
        return item in self.codes if isinstance(item, str) else item in self.findings

    def counts(self) -> dict[str, int]:
        return {s: len(self.by_severity(s)) for s in SEVERITIES}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (non-finite floats become None)."""
        return {"ok": self.ok, "counts": self.counts(), "findings": [f.to_dict() for f in self.findings],
                "facts": jsonable(self.facts, fallback=str)}

    def _headline(self) -> str:
        c = self.counts()
        parts = [f"{c['error']} error{'s' * (c['error'] != 1)}", f"{c['warning']} warning{'s' * (c['warning'] != 1)}",
                 f"{c['info']} info"]
        f = self.facts
        ctx = ", ".join(str(v) for v in (
            f.get("loss"),
            f"batch {f['batch_size']} x {f['n_labels']} labels" if "batch_size" in f and "n_labels" in f else None,
            f.get("device"),
            f"{f['elapsed_s']:.2f} s" if "elapsed_s" in f else None,
        ) if v)
        return f"check_setup: {', '.join(parts)}" + (f" ({ctx})" if ctx else "")

    def to_text(self, width: int = 120) -> str:
        """The findings as a plain-text table ``width`` characters wide (what ``print`` shows)."""
        lines = [self._headline()]
        if not self.findings:
            lines.append("No findings: the setup looks sound.")
            return "\n".join(lines)
        code_w = max(len(c) for c in self.codes)
        rest = max(width - 8 - code_w - 6, 40)
        widths = (8, code_w, rest * 3 // 5, rest - rest * 3 // 5)
        header = ("severity", "code", "message", "fix")
        lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        for f in self.findings:
            cols = [[f.severity], [f.code], textwrap.wrap(f.message, widths[2]) or [""],
                    textwrap.wrap(f.fix, widths[3], break_long_words=False, break_on_hyphens=False) or [""]]
            for k in range(max(map(len, cols))):
                cells = [(c[k] if k < len(c) else "") for c in cols]
                lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython's plain-text display (a terminal, or a notebook's text/plain): the table print() gives,
        not the dataclass repr."""
        p.text(self.to_text())

    def _repr_html_(self) -> str:
        esc = html.escape
        head = f"<p><b>{esc(self._headline())}</b></p>"
        if not self.findings:
            return head + "<p>No findings: the setup looks sound.</p>"
        cell = 'style="text-align:left;vertical-align:top;padding:2px 8px"'
        rows = [f"<tr><th {cell}>severity</th><th {cell}>code</th><th {cell}>message</th><th {cell}>fix</th></tr>"]
        for f in self.findings:
            colour = _COLOURS[f.severity]
            rows.append(
                f'<tr><td {cell}><span style="color:{colour};font-weight:bold">{esc(f.severity)}</span></td>'
                f"<td {cell}><code>{esc(f.code)}</code></td><td {cell}>{esc(f.message)}</td>"
                f"<td {cell}><code>{esc(f.fix)}</code></td></tr>"
            )
        return head + "<table>" + "".join(rows) + "</table>"


# --- small helpers ---------------------------------------------------------------------------------


def _fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v:.4g}" if math.isfinite(v) else str(v)


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _shape(t: torch.Tensor) -> str:
    return str(tuple(t.shape))


def _labels(idx: list[int], counts: list[int] | None = None, k: int = 8) -> str:
    items = [f"{i} ({c})" if counts is not None else str(i) for i, c in zip(idx, counts or idx, strict=True)]
    more = f" (+{len(items) - k} more)" if len(items) > k else ""
    return ", ".join(items[:k]) + more


def _name(obj: Any) -> str:
    if isinstance(obj, nn.Module) or not hasattr(obj, "__name__"):
        func = getattr(obj, "func", None)  # functools.partial
        return f"partial({func.__name__})" if callable(func) and hasattr(func, "__name__") else type(obj).__name__
    return obj.__name__


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.as_tensor(value)
    raise TypeError(f"{what} must be a torch.Tensor or a numpy array, got {type(value).__name__}")


_KIND_LABEL = {"bce_logits": "BCEWithLogitsLoss", "bce": "BCELoss", "ce": "CrossEntropyLoss", "nll": "NLLLoss",
               "regression": "MSELoss", "other": None}
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


def _kind_from_name(name: str) -> str | None:
    n = name.lower().replace("_", "")
    return next((kind for frag, kind in _KIND_NAMES if frag in n), None)


def _loss_kind(criterion: Any) -> tuple[str, str]:
    """(kind, how it was recognized). kind: bce_logits, bce, ce, nll, regression or other."""
    for classes, kind in _KIND_CLASSES:
        if isinstance(criterion, classes):
            return kind, "class"
    name = _name(criterion)
    kind = _kind_from_name(name.removeprefix("partial(").rstrip(")"))
    if kind:
        return kind, f"name {name!r}"
    code = getattr(getattr(criterion, "func", criterion), "__code__", None)
    if code is None:
        code = getattr(getattr(criterion, "forward", None), "__code__", None)
    if code is not None:
        kinds = {k for n in code.co_names if (k := _kind_from_name(n))}
        called = [n for n in code.co_names if _kind_from_name(n)]
        if len(kinds) == 1:
            return kinds.pop(), f"it calls {called[0]}"
    return "other", "unrecognized"


def _validate_criterion(criterion: Any) -> None:
    if isinstance(criterion, type):
        raise TypeError(f"criterion is the class {criterion.__name__}, not an instance: "
                        f"pass {criterion.__name__}() (with parentheses)")
    if not callable(criterion):
        raise TypeError(f"criterion must be a loss, a callable taking (outputs, targets); "
                        f"got {type(criterion).__name__}")
    mod = type(criterion).__module__
    if isinstance(criterion, nn.Module) and mod.startswith("torch.nn") and not isinstance(
            criterion, nn.modules.loss._Loss):
        raise TypeError(f"criterion is a {type(criterion).__name__}, a layer, not a loss: "
                        f"pass a loss such as nn.BCEWithLogitsLoss()")


def _validate_model(model: Any) -> None:
    if isinstance(model, nn.modules.loss._Loss):
        raise TypeError(f"model is a {type(model).__name__} (a loss): did you swap model and criterion? "
                        "check_setup(model, criterion, inputs, targets)")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def _unwrap(raw: Any) -> tuple[torch.Tensor | None, str | None]:
    """The logits tensor in what the model returned, and a note saying where it was found."""
    if isinstance(raw, torch.Tensor):
        return raw, None
    if isinstance(raw, Mapping):
        for key in ("logits", "out", "output", "outputs"):
            if isinstance(raw.get(key), torch.Tensor):
                return raw[key], f"the model returns a {type(raw).__name__}; checks used its {key!r} entry"
        tensors = [k for k, v in raw.items() if isinstance(v, torch.Tensor)]
        if tensors:
            return raw[tensors[0]], (f"the model returns a {type(raw).__name__}; checks used its first tensor "
                                     f"entry {tensors[0]!r}")
        return None, None
    if isinstance(getattr(raw, "logits", None), torch.Tensor):
        return raw.logits, f"the model returns a {type(raw).__name__}; checks used its .logits"
    if isinstance(raw, (tuple, list)) and raw and isinstance(raw[0], torch.Tensor):
        return raw[0], (f"the model returns a {type(raw).__name__} of {len(raw)}; checks used element 0, "
                        f"shape {_shape(raw[0])}")
    return None, None


def _model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return fallback


def _fork_rng(device: torch.device):
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
def _cpu_threads(device: torch.device, model: nn.Module) -> Iterator[int]:
    """One intra-op thread for a small model on CPU, restored afterwards: for tensors this small,
    threads cost more than they give, and under a busy CPU (notebooks run in parallel) extra
    threads spin and can make the probe 5-10x slower."""
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


def _seed(device: torch.device) -> None:
    torch.default_generator.manual_seed(PROBE_SEED)
    if device.type == "cuda":
        with torch.cuda.device(device):
            torch.cuda.manual_seed(PROBE_SEED)


class _ProbeAdam:
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


_NONNEG = (nn.ReLU, nn.ReLU6, nn.Softplus)


def _output_form(out: torch.Tensor, final: nn.Module | None) -> tuple[str, str]:
    """What the outputs look like: logits, sigmoid (probabilities), softmax, log_softmax or nonneg;
    with the evidence."""
    if isinstance(final, (nn.Softmax, nn.Softmin)):
        return "softmax", f"the model ends in nn.{type(final).__name__}"
    if isinstance(final, nn.LogSoftmax):
        return "log_softmax", "the model ends in nn.LogSoftmax"
    if isinstance(final, (nn.Sigmoid, nn.Hardsigmoid)):
        return "sigmoid", f"the model ends in nn.{type(final).__name__}"
    if isinstance(final, _NONNEG):
        return "nonneg", f"the model ends in nn.{type(final).__name__}"
    o = out.detach().float()
    if o.numel() < 2 or not bool(torch.isfinite(o).all()):
        return "logits", ""
    lo, hi = o.min().item(), o.max().item()
    if o.ndim >= 2 and o.shape[-1] >= 2:
        if lo >= 0 and (o.sum(-1) - 1).abs().max().item() < 1e-3:
            return "softmax", "every row of the outputs sums to 1"
        if hi <= 0 and o.logsumexp(-1).abs().max().item() < 1e-3:
            return "log_softmax", "every row of the outputs has logsumexp 0"
    if o.numel() >= 16 and lo >= 0:
        zero_frac = (o == 0).float().mean().item()
        if hi <= 1 and zero_frac < 0.05:
            return "sigmoid", f"all {o.numel()} outputs lie in [0, 1]"
        return "nonneg", f"all {o.numel()} outputs are >= 0 ({_pct(zero_frac)} exactly 0)"
    return "logits", ""


# --- the checker -------------------------------------------------------------------------------------


class _Checker:
    def __init__(self, model, model_copy, criterion, x, y, optimizer, train_targets, probe_steps, device):
        self.orig_model = model
        self.orig_optimizer = optimizer
        self.model = model_copy
        self.crit = criterion
        self.x, self.y, self.tt = x, y, train_targets
        self.probe_steps = probe_steps
        self.device = device
        self.findings: list[Finding] = []
        self.facts: dict[str, Any] = {}
        self.repairs: list[str] = []
        self.kind, self.kind_how = _loss_kind(criterion)
        self.loss_name = _name(criterion)
        self.single_label = False
        self.one_hot = False
        self.out: torch.Tensor | None = None
        self.form, self.form_why = "logits", ""
        self.loss0: float | None = None
        self.loss_ok = self.shapes_ok = False
        self.base_rate = 0.0
        self.final: nn.Module | None = None
        self.out_after: torch.Tensor | None = None

    def add(self, code: str, severity: str, message: str, fix: str = "") -> None:
        self.findings.append(Finding(code, severity, message, fix))

    def has(self, *codes: str, severity: str | None = None) -> bool:
        return any(f.code in codes and (severity is None or f.severity == severity) for f in self.findings)

    @property
    def loss_label(self) -> str:
        known = _KIND_LABEL.get(self.kind)
        if self.kind_how == "class" or known is None:
            return self.loss_name
        return f"{self.loss_name} (treated as {known})"

    # -- entry ------------------------------------------------------------------------------------

    def run(self) -> None:
        f = self.facts
        f.update(loss=self.loss_label, loss_kind=self.kind, device=str(self.device),
                 inputs_shape=list(self.x.shape), inputs_dtype=str(self.x.dtype),
                 targets_shape=list(self.y.shape), targets_dtype=str(self.y.dtype), batch_size=int(self.y.shape[0]))
        self.model.train()
        try:
            self.crit = copy.deepcopy(self.crit)
        except Exception:  # an uncopyable callable: losses are (nearly always) stateless
            pass
        self.x = self.x.detach().to(self.device, copy=True)
        self.y = self.y.detach().to(self.device, copy=True)
        self.check_static()
        self.check_train_targets()
        if not self.forward():
            return
        self.check_outputs()
        self.check_loss()
        if self.probe_steps > 0 and self.loss_ok:
            self.probe()
        self.check_collapse()

    # -- before running the model --------------------------------------------------------------------

    def check_static(self) -> None:
        x, y = self.x, self.y
        if not self.orig_model.training:
            self.add("MODEL_IN_EVAL", "info",
                     "model.training is False (model.eval() was called): dropout is off and BatchNorm uses its "
                     "running statistics. Call model.train() before the training loop (check_setup probed a "
                     "copy in train mode).", "model.train()")
        if self.kind == "other":
            self.add("LOSS_UNKNOWN", "info",
                     f"criterion {self.loss_name} is not a loss check_setup recognizes (by class, name or the "
                     f"torch functions it calls): loss-specific checks (TARGET_DTYPE, DOUBLE_SIGMOID, "
                     f"PROBS_EXPECTED, POS_WEIGHT_INVALID, LOSS_AT_INIT) were skipped.",
                     "use nn.BCEWithLogitsLoss() or a subclass of it")
        # dtype of the inputs vs the model's parameters
        pdt = next((p.dtype for p in self.model.parameters() if p.is_floating_point()), None)
        if pdt is not None and x.is_floating_point() and x.dtype != pdt:
            self.add("INPUT_DTYPE", "error",
                     f"inputs are {x.dtype} but the model's parameters are {pdt}: the first layer raises a dtype "
                     f"error ('mat1 and mat2 must have the same dtype' for nn.Linear; numpy arrays are float64). "
                     f"The other checks ran on inputs.to({pdt}).", "inputs = inputs.float()" if pdt == torch.float32
                     else f"inputs = inputs.to({pdt})")
            self.x = x = x.to(pdt)
            self.repairs.append(f"inputs.to({pdt})")
        self.batch_ok = x.shape[0] == y.shape[0]
        if not self.batch_ok:
            self.add("SHAPE_MISMATCH", "error",
                     f"inputs have {x.shape[0]} rows {_shape(x)} but targets have {y.shape[0]} {_shape(y)}: "
                     f"each input row needs its target row. The loss checks and the probe were skipped.",
                     "assert len(inputs) == len(targets)")
        for what, t in (("inputs", x), ("targets", y)):
            if t.is_floating_point():
                n_nan, n_inf = int(torch.isnan(t).sum()), int(torch.isinf(t).sum())
                if n_nan or n_inf:
                    self.add("NON_FINITE", "error",
                             f"{what} {_shape(t)} contain {n_nan} NaN and {n_inf} inf values"
                             + (" (missing labels encoded as NaN? mask them out of the loss)" if what == "targets"
                                else "") + ": every loss and gradient they touch becomes NaN.",
                             f"assert torch.isfinite({what}).all()")
        self.check_targets()

    def check_targets(self) -> None:
        y, kind = self.y, self.kind
        is_float = y.is_floating_point()
        if kind in ("ce", "nll") and not is_float and y.ndim == 1:
            self.single_label = True
            self.add("SINGLE_LABEL_TARGETS", "info",
                     f"targets {_shape(y)} {y.dtype} are class indices for {self.loss_name}: one label per "
                     f"sample, a single-label (multi-class) setup. Multi-label checks were skipped; a "
                     f"multi-label task needs (N, L) multi-hot float targets and BCEWithLogitsLoss.",
                     "criterion = nn.BCEWithLogitsLoss(); targets = multi_hot.float()")
            return
        # dtype
        if kind in ("bce_logits", "bce") and not is_float:
            raised = ("'result type Float can't be cast to the desired output type Long'" if kind == "bce_logits"
                      else "'Found dtype Long but expected Float'")
            self.add("TARGET_DTYPE", "error",
                     f"targets are {y.dtype} but {self.loss_name} needs floating targets (torch raises {raised} "
                     f"or similar). The other checks ran on targets.float().", "targets = targets.float()")
            self._repair_targets()
        elif kind == "bce" and is_float and y.dtype != torch.float32 and self._param_dtype() == torch.float32:
            self.add("TARGET_DTYPE", "error",
                     f"targets are {y.dtype} but the outputs are float32: BCELoss raises 'Found dtype Double "
                     f"but expected Float'. The other checks ran on targets.float().", "targets = targets.float()")
            self._repair_targets()
        elif kind == "regression" and not is_float:
            self.add("TARGET_DTYPE", "warning",
                     f"targets are {y.dtype} for {self.loss_name}: it runs by type promotion, but targets for a "
                     f"loss on predictions should be floats like the outputs.", "targets = targets.float()")
            self._repair_targets()
        elif kind == "ce" and not is_float and y.ndim == 2:
            self.add("TARGET_DTYPE", "error",
                     f"{self.loss_name} got {y.dtype} targets of shape {_shape(y)}: with integer targets it wants "
                     f"class indices of shape (N,), and with (N, L) targets it wants float class probabilities, "
                     f"so one-hot `.long()` targets raise 'Expected floating point type for target with class "
                     f"probabilities, got Long'. For multi-label data the answer is not .float() but "
                     f"BCEWithLogitsLoss (see SOFTMAX_ON_MULTILABEL). The other checks ran on targets.float().",
                     "criterion = nn.BCEWithLogitsLoss(); targets = targets.float()")
            self._repair_targets()
        elif kind == "nll" and (is_float or y.ndim == 2):
            self.add("TARGET_DTYPE", "error",
                     f"NLLLoss got {y.dtype} targets of shape {_shape(y)}: it only takes (N,) long class indices "
                     f"('0D or 1D target tensor expected, multi-target not supported').",
                     "criterion = nn.BCEWithLogitsLoss()  # logits out, float multi-hot targets")
        if kind in ("ce", "nll") and y.ndim == 2 and y.shape[1] > 1 and bool(((y.float() > 0.5).sum(1) == 1).all()):
            self.one_hot = True
            self.add("SINGLE_LABEL_TARGETS", "info",
                     f"every row of the targets {_shape(y)} has exactly one positive label (one-hot): this batch is "
                     f"single-label, which {self.loss_name} handles. If other samples can have several labels, "
                     f"use BCEWithLogitsLoss; the 0.5-threshold check (COLLAPSED_PREDICTIONS) was skipped.",
                     "preds = outputs.argmax(1)  # single-label")
        # values
        yf = self.y.float()
        if bool(torch.isfinite(yf).all()):
            vals = torch.unique(yf)
            if not bool(((vals == 0) | (vals == 1)).all()):
                shown = ", ".join(_fmt(v) for v in vals[:6].tolist()) + (", ..." if len(vals) > 6 else "")
                outside = bool(((vals < 0) | (vals > 1)).any())
                if outside:
                    hint = (" (a -1/+1 encoding: use (targets + 1) / 2)" if set(vals.tolist()) <= {-1.0, 0.0, 1.0}
                            else " (counts, class indices or unscaled values?)")
                    self.add("TARGET_NOT_BINARY", "error",
                             f"targets take {len(vals)} distinct values [{shown}]{hint}; a multi-label target is "
                             f"0 (absent) or 1 (present) per label, and values outside [0, 1] make BCE's loss "
                             f"unbounded below.", "targets = (targets > 0).float()")
                else:
                    self.add("TARGET_NOT_BINARY", "warning",
                             f"targets take {len(vals)} distinct values in [0, 1]: [{shown}]. Soft targets are "
                             f"fine if intended (label smoothing); otherwise binarize them. Checks that count "
                             f"positives use targets > 0.5.", "targets = (targets > 0.5).float()")

    def _param_dtype(self) -> torch.dtype | None:
        return next((p.dtype for p in self.model.parameters() if p.is_floating_point()), None)

    def _repair_targets(self) -> None:
        dt = self._param_dtype() or torch.float32
        self.y = self.y.to(dt)
        self.repairs.append(f"targets.to({dt})")

    def _bin_targets(self) -> torch.Tensor:
        """(N, L) bool positives of the batch targets."""
        return (self.y.float() > 0.5).reshape(self.y.shape[0], -1)

    def check_train_targets(self) -> None:
        tt = self.tt
        if tt is None:
            self.add("NO_TRAIN_TARGETS", "info",
                     "train_targets was not given, so label counts over the training set (EMPTY_LABEL, "
                     "RARE_LABEL) were not checked.", "check_setup(..., train_targets=Y_train)")
            return
        if self.single_label:
            return
        n, n_labels = tt.shape
        batch_labels = self._bin_targets().shape[1]
        if n_labels != batch_labels:
            self.add("SHAPE_MISMATCH", "error",
                     f"train_targets {_shape(tt)} have {n_labels} labels but the batch targets {_shape(self.y)} "
                     f"have {batch_labels}.", "use the same label columns in both")
            return
        pos = (tt.float() > 0.5).sum(0).cpu()
        counts = pos.tolist()
        empty = [j for j, c in enumerate(counts) if c == 0]
        full = [j for j, c in enumerate(counts) if c == n]
        if empty or full:
            parts = []
            if empty:
                parts.append(f"label{'s' * (len(empty) > 1)} {_labels(empty)} never positive")
            if full:
                parts.append(f"label{'s' * (len(full) > 1)} {_labels(full)} always positive")
            self.add("EMPTY_LABEL", "warning",
                     f"in train_targets ({n} rows): {'; '.join(parts)}. Such a label teaches nothing; pos_weight = "
                     f"neg/pos is inf for a never-positive label (inf * 0 makes the loss NaN) and 0 for an "
                     f"always-positive one (its positives are ignored); its AP/ROC-AUC is undefined (sklearn warns "
                     f"and returns 0 or nan), which distorts macro averages.", "keep = (Y.sum(0) > 0) & (Y.sum(0) < len(Y)); Y = Y[:, keep]")
        rare = [j for j, c in enumerate(counts) if 0 < c < n and (c < RARE_MIN_COUNT or c / n < RARE_MIN_RATE)]
        if rare:
            pw = [(n - counts[j]) / counts[j] for j in rare]
            self.add("RARE_LABEL", "warning",
                     f"in train_targets ({n} rows), {len(rare)} label{'s have' if len(rare) > 1 else ' has'} fewer than "
                     f"{RARE_MIN_COUNT} positives or a rate below {_pct(RARE_MIN_RATE)}: label (positives) "
                     f"{_labels(rare, [counts[j] for j in rare])}. pos_weight = neg/pos would be up to "
                     f"{_fmt(max(pw))} for them (a handful of examples dominate the gradient), and their "
                     f"per-label AP rests on a few examples, so macro metrics swing with them.",
                     "pos_weight = ((len(Y) - Y.sum(0)) / Y.sum(0).clamp(min=1)).clamp(max=50)")
        self.facts["train_label_counts"] = counts

    # -- the model's outputs -------------------------------------------------------------------------

    def forward(self) -> bool:
        """Run the copy once without gradient (train mode, seeded); False when it failed."""
        last: dict[str, Any] = {}

        def hook(mod, _inp, out):
            last["mod"], last["out"] = mod, out

        leaves = [m for m in self.model.modules() if not any(True for _ in m.children())]
        handles = [m.register_forward_hook(hook) for m in leaves]
        try:
            _seed(self.device)
            with torch.no_grad():
                raw = self.model(self.x)
        except Exception as e:  # report, don't crash: the exception is the finding
            self.add("MODEL_ERROR", "error",
                     f"model(inputs) with inputs {_shape(self.x)} {self.x.dtype} raises {type(e).__name__}: "
                     f"{str(e)[:400]}", self._model_error_fix(e))
            return False
        finally:
            for h in handles:
                h.remove()
        out, note = _unwrap(raw)
        if out is None:
            self.add("MODEL_ERROR", "error",
                     f"model(inputs) returned a {type(raw).__name__}, which holds no tensor of outputs.",
                     "return the logits tensor from forward()")
            return False
        if note:
            self.add("OUTPUT_NOT_TENSOR", "info", note + "; pass that same tensor to the loss in training.",
                     "loss = criterion(out.logits, targets)" if "logits" in note else "loss = criterion(out[0], y)")
        self.out = out.detach()
        final = last.get("mod") if last.get("out") is out else None
        self.final = final
        self.form, self.form_why = _output_form(self.out, final)
        o = self.out.float()
        self.facts.update(outputs_shape=list(o.shape), outputs_dtype=str(out.dtype), output_form=self.form,
                          final_module=type(final).__name__ if final is not None else None)
        if bool(torch.isfinite(o).all()) and o.numel():
            self.facts.update(outputs_min=o.min().item(), outputs_max=o.max().item(),
                              outputs_std=o.std().item() if o.numel() > 1 else 0.0)
        return True

    def _model_error_fix(self, e: Exception) -> str:
        text = str(e)
        if not self.x.is_floating_point() and self._param_dtype() is not None and "type" in text:
            return "inputs = inputs.float() / 255" if self.x.dtype == torch.uint8 else "inputs = inputs.float()"
        if "shapes cannot be multiplied" in text or "size mismatch" in text:
            return f"match the first layer's in_features to inputs.shape[1:] = {tuple(self.x.shape[1:])}"
        if "Expected more than 1 value per channel" in text:
            return "use batches of 2+ rows (drop_last=True) with BatchNorm"
        return "run model(inputs[:2]) to see the traceback"

    def check_outputs(self) -> None:
        out, y, kind = self.out, self.y, self.kind
        o = out.float()
        finite = bool(torch.isfinite(o).all())
        if not finite and not self.has("NON_FINITE"):  # NaN inputs were reported already
            self.add("NON_FINITE", "error",
                     f"outputs {_shape(o)} contain {int(torch.isnan(o).sum())} NaN and {int(torch.isinf(o).sum())} "
                     f"inf values at initialization, though the inputs are finite: an op in forward() overflows "
                     f"(exp, log, division) or the weights hold NaN.", "assert torch.isfinite(model(x)).all()")
        self.facts["n_labels"] = int(o.shape[-1]) if o.ndim >= 2 else 1
        # shapes
        self.shapes_ok = True
        if not self.batch_ok:
            self.shapes_ok = False  # reported by check_static
        elif not self.single_label and tuple(o.shape) != tuple(y.shape):
            self.shapes_ok = False
            sev = "warning" if kind == "other" else "error"
            hint = ""
            if o.ndim == y.ndim + 1 and o.shape[-1] == 1:
                hint = (" A (N, 1) output against (N,) targets broadcasts to (N, N) in MSELoss and raises in "
                        "BCEWithLogitsLoss.")
            self.add("SHAPE_MISMATCH", sev,
                     f"outputs have shape {_shape(o)} but targets {_shape(y)}: {self.loss_name} compares them "
                     f"element by element.{hint} Does the last layer have out_features = number of labels "
                     f"({y.shape[1] if y.ndim >= 2 else 1})?",
                     "outputs = outputs.squeeze(-1)" if hint else "nn.Linear(hidden, n_labels)  # last layer")
        if self.single_label or not finite:
            return
        n_labels = self.facts["n_labels"]
        lo, hi = o.min().item(), o.max().item()
        rng = f"[{_fmt(lo)}, {_fmt(hi)}]"
        form, why = self.form, self.form_why
        yb = self._bin_targets()
        per_row = yb.sum(1)
        multi = int((per_row >= 2).sum())
        # softmax on multi-label targets
        softmaxy = kind in ("ce", "nll") or form in ("softmax", "log_softmax")
        if softmaxy and multi:
            reason = (f"{self.loss_name} applies a softmax over the {n_labels} outputs" if kind in ("ce", "nll")
                      else f"the outputs are a softmax ({why})")
            empty_rows = int((per_row == 0).sum())
            self.add("SOFTMAX_ON_MULTILABEL", "error",
                     f"{reason}, but {multi} of {len(per_row)} target rows have 2 or more positive labels (up to "
                     f"{int(per_row.max())} per row): softmax makes labels compete for one unit of probability, "
                     f"so a row with k positives gets at best 1/k each and at most one label can pass 0.5."
                     + (f" {empty_rows} rows have no positive label at all, which a softmax cannot express."
                        if empty_rows else ""),
                     "criterion = nn.BCEWithLogitsLoss()  # no final softmax; float multi-hot targets")
        if kind == "bce_logits" and form in ("sigmoid", "softmax"):
            self.add("DOUBLE_SIGMOID", "error",
                     f"the outputs are already probabilities ({why}; range {rng}) and {self.loss_name} applies a "
                     f"sigmoid again: the probabilities it trains are sigmoid(p) in (0.5, 0.731), so every label "
                     f"looks positive at threshold 0.5, a negative's loss cannot go below 0.693 nor a positive's "
                     f"below 0.313, and the probabilities you would compute as torch.sigmoid(outputs) are squeezed "
                     f"into (0.5, 0.731).",
                     f"remove the final {'nn.Sigmoid()' if form == 'sigmoid' else 'nn.Softmax()'}; keep "
                     f"nn.BCEWithLogitsLoss()")
        if kind == "bce_logits" and form == "nonneg":
            self.add("LOGITS_NONNEGATIVE", "error",
                     f"{why} (range {rng}), so as logits sigmoid(outputs) >= 0.5 for every label: no label can be "
                     f"predicted absent at threshold 0.5, and units stuck at 0 get no gradient through the ReLU.",
                     "remove the activation after the last nn.Linear")
        if kind == "bce":
            if lo < 0 or hi > 1:
                self.add("PROBS_EXPECTED", "error",
                         f"BCELoss expects probabilities in [0, 1] but the outputs range over {rng} (raw logits): "
                         f"torch raises 'all elements of input should be between 0 and 1'.",
                         "criterion = nn.BCEWithLogitsLoss()  # takes logits")
            elif form == "sigmoid":
                self.add("SIGMOID_THEN_BCELOSS", "warning",
                         f"the model outputs probabilities ({why}; range {rng}) for BCELoss: it works, but when the "
                         f"sigmoid saturates p rounds to exactly 0 or 1 in float32, BCELoss clamps log(p) at -100 "
                         f"and the gradient vanishes; BCEWithLogitsLoss fuses sigmoid and log stably.",
                         "drop the final nn.Sigmoid(); criterion = nn.BCEWithLogitsLoss()")
        if kind == "regression":
            self.add("MSE_FOR_CLASSIFICATION", "warning",
                     f"{self.loss_name} on binary targets (outputs range {rng}): through a sigmoid its gradient "
                     f"(p - y) p (1 - p) vanishes exactly when a prediction is confidently wrong, and on raw "
                     f"outputs it penalizes confident correct logits; it trains slowly and calibrates badly.",
                     "criterion = nn.BCEWithLogitsLoss()  # on logits")
        # constant outputs
        if o.shape[0] >= 2 and (o - o[:1]).abs().max().item() <= 1e-6 * (1 + o.abs().max().item()):
            self.add("CONSTANT_OUTPUT", "warning",
                     f"all {o.shape[0]} rows of the batch get the same outputs (range {rng}): the model ignores "
                     f"its inputs, so it can only learn the label base rates (weights initialized to zero or "
                     f"a constant, dead units, or identical input rows).",
                     "keep PyTorch's default init (no nn.init.zeros_ on weights)")
        # per-batch label coverage
        n_pos = yb.sum(0).tolist()
        missing = [j for j, c in enumerate(n_pos) if c == 0]
        if missing and yb.shape[1] > 1:
            self.add("BATCH_TOO_SMALL", "info",
                     f"{len(missing)} of {yb.shape[1]} labels have no positive in this batch of {yb.shape[0]} rows "
                     f"(label {_labels(missing)}): a pos_weight computed per batch (max(count)/count or neg/pos) is "
                     f"inf for them, and per-label batch metrics are undefined. Compute pos_weight once from the "
                     f"training set.", "pos_weight = (len(Y_train) - Y_train.sum(0)) / Y_train.sum(0)")
        self.check_pos_weight(n_labels)

    def check_pos_weight(self, n_labels: int) -> None:
        pw = getattr(self.crit, "pos_weight", None)
        if not isinstance(pw, torch.Tensor):
            return
        fix = "pos_weight = ((len(Y) - Y.sum(0)) / Y.sum(0).clamp(min=1)).to(device)  # over the training set"
        if pw.device != self.device:
            where = pw.device
            try:
                self.crit.to(self.device)
                moved = self.crit.pos_weight.device == self.device
            except Exception:
                moved = False
            self.add("POS_WEIGHT_INVALID", "error",
                     f"criterion.pos_weight is on {where} but the outputs are on {self.device}: the loss raises "
                     f"'Expected all tensors to be on the same device'."
                     + (" The other checks ran with it moved." if moved else ""),
                     "criterion = criterion.to(device)  # or build pos_weight on the model's device")
            if not moved:
                return
            self.repairs.append(f"criterion.to({self.device})")
            pw = self.crit.pos_weight
        if not pw.is_floating_point():
            self.add("POS_WEIGHT_INVALID", "error",
                     f"criterion.pos_weight is {pw.dtype}: weights like neg/pos are fractional, build it as floats.",
                     "pos_weight = pos_weight.float()")
        try:
            bshape = torch.broadcast_shapes(tuple(pw.shape), (n_labels,))
        except RuntimeError:
            bshape = None
        if bshape != (n_labels,):
            self.add("POS_WEIGHT_INVALID", "error",
                     f"criterion.pos_weight has shape {_shape(pw)} but there are {n_labels} labels: it must have "
                     f"one weight per label, shape ({n_labels},) (or a single value).", fix)
            return
        p = pw.detach().float().reshape(-1)
        bad_nf = [j for j, v in enumerate(p.tolist()) if not math.isfinite(v)]
        bad_np = [j for j, v in enumerate(p.tolist()) if math.isfinite(v) and v <= 0]
        if bad_nf:
            self.add("POS_WEIGHT_INVALID", "error",
                     f"criterion.pos_weight is not finite for label {_labels(bad_nf)} "
                     f"(values {', '.join(_fmt(p[j].item()) for j in bad_nf[:4])}): typically max(count)/count or "
                     f"neg/pos computed on a batch (or a split) where the label has no positive. The loss of "
                     f"every positive of that label becomes inf and its gradient NaN.", fix)
        if bad_np:
            self.add("POS_WEIGHT_INVALID", "error",
                     f"criterion.pos_weight is <= 0 for label {_labels(bad_np)} (values "
                     f"{', '.join(_fmt(p[j].item()) for j in bad_np[:4])}): positives of those labels are then "
                     f"ignored or pushed towards 0 (a label present in every row gives neg/pos = 0).", fix)
        big = [j for j, v in enumerate(p.tolist()) if math.isfinite(v) and v > POS_WEIGHT_MAX]
        if big and not bad_nf:
            self.add("POS_WEIGHT_INVALID", "warning",
                     f"criterion.pos_weight exceeds {_fmt(POS_WEIGHT_MAX)} for label {_labels(big)} (max "
                     f"{_fmt(p.max().item())}): a few positives dominate the gradient and the model over-predicts "
                     f"those labels.", "pos_weight = pos_weight.clamp(max=50)")

    # -- the loss at initialization ------------------------------------------------------------------

    def _loss(self, out: torch.Tensor) -> torch.Tensor:
        loss = self.crit(out, self.y)
        if not isinstance(loss, torch.Tensor):
            loss = torch.as_tensor(float(loss))
        return loss.mean() if loss.ndim else loss

    def check_loss(self) -> None:
        self.loss_ok = False
        if not self.batch_ok or not (self.shapes_ok or self.single_label or self.kind == "other"):
            return
        if self.has("PROBS_EXPECTED", severity="error") and self.out.is_cuda:
            # On CUDA, BCELoss on values outside [0, 1] is a device-side assert that poisons the whole
            # CUDA context (every later CUDA call fails); the finding already says what would happen.
            return
        try:
            with torch.no_grad():
                raw = self.crit(self.out, self.y)
        except Exception as e:
            related = [c for c in ("TARGET_DTYPE", "SHAPE_MISMATCH", "PROBS_EXPECTED", "POS_WEIGHT_INVALID")
                       if self.has(c, severity="error")]
            self.add("LOSS_ERROR", "error",
                     f"criterion(outputs {_shape(self.out)} {self.out.dtype}, targets {_shape(self.y)} "
                     f"{self.y.dtype}) raises {type(e).__name__}: {str(e)[:300]}"
                     + (f" (explained by {', '.join(related)})" if related else ""),
                     f"see {related[0]}" if related else "call the criterion on one batch to see the traceback")
            return
        if not isinstance(raw, torch.Tensor):
            self.add("NO_LEARNING", "error",
                     f"criterion returned a {type(raw).__name__} ({raw!r:.40}), not a tensor: backward() cannot "
                     f"reach the model.", "return a tensor loss; don't call .item() inside the loss")
            return
        red = getattr(self.crit, "reduction", None)
        n_el = self.out.numel()
        if raw.ndim > 0:
            self.add("LOSS_REDUCTION", "info",
                     f"the criterion returns a loss of shape {_shape(raw)} (reduction={red!r}), not a scalar: "
                     f"check_setup took its mean; reduce it in training before backward().",
                     "loss = criterion(outputs, targets).mean()")
        elif red == "sum":
            self.add("LOSS_REDUCTION", "info",
                     f"reduction='sum' adds up {n_el} elements (N*L = {self.out.shape[0]}*{n_el // self.out.shape[0]}): "
                     f"the loss ({_fmt(raw.item())}) and its gradients scale with batch size and label count, so "
                     f"an lr tuned for 'mean' is {n_el}x too large here.",
                     "nn.BCEWithLogitsLoss()  # reduction='mean'")
        loss0 = raw.float().mean().item()
        self.loss0 = loss0
        self.facts["loss_init"] = loss0
        if not math.isfinite(loss0):
            if self.has("NON_FINITE"):
                return
            cause = [c for c in ("POS_WEIGHT_INVALID", "TARGET_NOT_BINARY") if self.has(c)]
            self.add("NON_FINITE", "error",
                     f"the loss at initialization is {loss0}" + (f" (likely cause: {cause[0]})" if cause else "")
                     + ": every gradient will be NaN.", "assert torch.isfinite(loss)")
            return
        self.loss_ok = True
        self.check_loss_scale()

    def _reference_losses(self) -> tuple[float | None, float | None]:
        """Loss of a neutral predictor (zero logits / 0.5 / uniform) and of the prior predictor."""
        kind, y, out = self.kind, self.y, self.out
        if kind == "other" or self.has("TARGET_NOT_BINARY", severity="error"):
            return None, None
        if y.ndim == 1 and kind in ("ce", "nll"):
            c = out.shape[-1]
            freq = torch.bincount(y.long().clamp(0, c - 1), minlength=c).float() / y.shape[0]
            prior_logp = torch.log(freq.clamp(min=1e-6)).expand_as(out).to(out.dtype)
            neutral = torch.zeros_like(out) if kind == "ce" else torch.full_like(out, -math.log(c))
            return self._safe_loss(neutral), self._safe_loss(prior_logp)
        # base rates: from train_targets when given (a better estimate), else from the batch
        src = self.tt if self.tt is not None and self.tt.shape[1:] == y.shape[1:] else y
        rates = src.detach().float().clamp(0, 1).mean(0, keepdim=True).to(out.device)
        self.base_rate = rates.mean().item()
        p = rates.clamp(1e-3, 1 - 1e-3).to(out.dtype).expand_as(out)
        if kind == "bce_logits":
            return self._safe_loss(torch.zeros_like(out)), self._safe_loss(torch.logit(p))
        if kind == "bce":
            return self._safe_loss(torch.full_like(out, 0.5)), self._safe_loss(p)
        if kind in ("ce", "nll"):
            q = p / p.sum(-1, keepdim=True)
            neutral = (torch.zeros_like(out) if kind == "ce"
                       else torch.full_like(out, -math.log(out.shape[-1])))
            return self._safe_loss(neutral), self._safe_loss(torch.log(q))
        # regression: the better of predicting 0 and predicting 0.5 is the neutral value
        zero, half = self._safe_loss(torch.zeros_like(out)), self._safe_loss(torch.full_like(out, 0.5))
        vals = [v for v in (zero, half) if v is not None]
        return (min(vals) if vals else None), self._safe_loss(p)

    def _safe_loss(self, out: torch.Tensor) -> float | None:
        try:
            with torch.no_grad():
                v = self._loss(out).item()
        except Exception:
            return None
        return v if math.isfinite(v) else None

    def check_loss_scale(self) -> None:
        neutral, prior = self._reference_losses()
        self.facts.update(loss_neutral=neutral, loss_prior=prior)
        loss0 = self.loss0
        logits_like = self.form == "logits" and self.kind in ("bce_logits", "ce", "other")
        std = self.facts.get("outputs_std", 0.0)
        refs = [v for v in (neutral, prior) if v is not None]
        ref = max(refs) if refs else None
        too_high = ref is not None and ref > 0 and loss0 > INIT_LOSS_RATIO * ref
        too_wide = logits_like and std > LOGIT_STD_MAX
        if too_high or too_wide:
            msg = [f"the first loss is {_fmt(loss0)}"]
            if ref:
                what = {"bce_logits": "all-zero logits", "bce": "predicting 0.5", "ce": "uniform logits",
                        "nll": "uniform log-probabilities"}.get(self.kind, "a neutral prediction")
                msg.append(f", {_fmt(loss0 / ref)}x what this setup should give at initialization ({_fmt(neutral)} "
                           f"for {what}, {_fmt(prior)} predicting each label's base rate)")
            msg.append(f"; the outputs have std {_fmt(std)} (range [{_fmt(self.facts.get('outputs_min'))}, "
                       f"{_fmt(self.facts.get('outputs_max'))}]).")
            x = self.x
            unnormalized = False
            if x.is_floating_point() and bool(torch.isfinite(x).all()):
                xf = x.float()
                xm, xs, xlo, xhi = xf.mean().item(), xf.std().item(), xf.min().item(), xf.max().item()
                unnormalized = xs > 10 or abs(xm) > 10 or xhi - xlo > 100
                msg.append(f" Inputs: mean {_fmt(xm)}, std {_fmt(xs)}, range [{_fmt(xlo)}, {_fmt(xhi)}]"
                           + (" -- not normalized." if unnormalized else "."))
            msg.append(" A network this confident before training saturates its sigmoids: it starts with large, "
                       "wrong gradients and spends its first epochs undoing the initialization (badly scaled init, "
                       "or unnormalized inputs).")
            self.add("LOSS_AT_INIT", "warning", "".join(msg),
                     "x = (x - x_train.mean(0)) / x_train.std(0)" if unnormalized
                     else "keep PyTorch's default init; zero the last layer's bias")
        elif (self.kind in ("bce_logits", "bce") and neutral and prior
              and neutral > BIAS_INIT_RATIO * prior and 0 < self.base_rate < 1):
            rate = self.base_rate
            self.add("BIAS_INIT", "info",
                     f"labels are imbalanced (mean base rate {_pct(rate)}): predicting each label's base rate gives "
                     f"loss {_fmt(prior)} against {_fmt(neutral)} at zero logits ({_fmt(neutral / prior)}x), so the "
                     f"first steps mostly learn 'predict fewer {'positives' if rate < 0.5 else 'negatives'}'. "
                     f"Initializing the final bias to the base rates skips that phase.",
                     "last.bias.data = torch.logit(Y_train.float().mean(0).clamp(1e-3, 1 - 1e-3))")

    # -- the probe ------------------------------------------------------------------------------------

    def _build_optimizer(self, trainable: list[nn.Parameter]):
        user = self.orig_optimizer
        if user is None:
            return _ProbeAdam(trainable), f"Adam(lr={PROBE_LR:g}) (no optimizer given)"
        mapping = {id(po): pc for po, pc in zip(self.orig_model.parameters(), self.model.parameters(), strict=True)}
        groups = []
        for g in user.param_groups:
            ps = [mapping[id(p)] for p in g["params"] if id(p) in mapping]
            if ps:
                groups.append({"params": ps, **{k: copy.deepcopy(v) for k, v in g.items() if k != "params"}})
        held = {id(p) for g in user.param_groups for p in g["params"]}
        named = dict(self.orig_model.named_parameters())
        missing = [n for n, p in named.items() if p.requires_grad and id(p) not in held]
        if not groups:
            return None, f"{type(user).__name__} holds none of the model's {len(named)} parameter tensors"
        if missing:
            self.add("OPTIMIZER_PARAMS", "warning",
                     f"{len(missing)} of {sum(p.requires_grad for p in named.values())} trainable parameter tensors "
                     f"are not in the optimizer ({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): "
                     f"they receive gradients but never change (was a layer added after the optimizer was built?).",
                     f"optimizer = torch.optim.{type(user).__name__}(model.parameters(), ...)")
        cls = type(user)
        for kwargs in (dict(user.defaults), {}):
            try:
                return cls(groups, **kwargs), self._opt_desc(user)
            except Exception:
                continue
        return _ProbeAdam(trainable), f"Adam(lr={PROBE_LR:g}) (could not rebuild {cls.__name__})"

    @staticmethod
    def _opt_desc(opt: torch.optim.Optimizer) -> str:
        lrs = sorted({float(g.get("lr", float("nan"))) for g in opt.param_groups})
        return f"{type(opt).__name__}(lr={', '.join(f'{v:g}' for v in lrs)})"

    def _check_lr(self) -> list[str]:
        """LEARNING_RATE warnings; returns the sub-causes for NO_LEARNING (lr 0)."""
        user = self.orig_optimizer
        if user is None:
            return []
        lrs = [float(g["lr"]) for g in user.param_groups if "lr" in g]
        name = type(user).__name__
        limit = LR_MAX_ADAPTIVE if name in _ADAPTIVE else LR_MAX_SGD if name in ("SGD", "ASGD") else None
        if limit is not None and lrs and max(lrs) > limit:
            self.add("LEARNING_RATE", "warning",
                     f"{name} has lr={_fmt(max(lrs))}, above the {_fmt(limit)} beyond which {name} usually diverges "
                     f"or oscillates (typical: {'1e-3' if name in _ADAPTIVE else '0.01-0.1'}).",
                     f"optimizer = torch.optim.{name}(model.parameters(), lr={'1e-3' if name in _ADAPTIVE else '0.05'})")
        causes = []
        if lrs and all(v == 0 for v in lrs):
            causes.append(f"the optimizer's lr is 0 ({name}(lr=0)): step() changes nothing")
        if any(g.get("maximize") for g in user.param_groups):
            causes.append(f"{name}(maximize=True) climbs the loss instead of descending it")
        return causes

    def _closure(self, opt: Any) -> torch.Tensor:
        opt.zero_grad()
        _seed(self.device)
        loss = self._loss(_unwrap(self.model(self.x))[0])
        loss.backward()
        return loss

    def probe(self) -> None:
        model, dev = self.model, self.device
        model.train()
        params = list(model.parameters())
        trainable = [p for p in params if p.requires_grad]
        fix_opt = "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)"
        if not params:
            self.add("NO_LEARNING", "error", "the model has no parameters: there is nothing to train.",
                     "register layers as attributes of the nn.Module (self.fc = nn.Linear(...))")
            return
        if not trainable:
            self.add("NO_LEARNING", "error",
                     f"none of the model's {len(params)} parameter tensors requires grad (all frozen): the loss "
                     f"cannot change.", "for p in model.parameters(): p.requires_grad_(True)")
            return
        causes = self._check_lr()
        opt, desc = self._build_optimizer(trainable)
        self.facts["probe_optimizer"] = desc
        if opt is None:
            self.add("NO_LEARNING", "error",
                     f"{desc}: it updates another model's parameters (was the optimizer built before the model "
                     f"was re-created, or for another instance?).", fix_opt)
            return
        before = after = None
        n_grad = n_nonzero = 0
        for step in range(self.probe_steps):
            opt.zero_grad(set_to_none=True)
            _seed(dev)
            try:
                out, _ = _unwrap(model(self.x))
                loss = self._loss(out)
            except Exception as e:
                self.add("NO_LEARNING", "error", f"the probe's step {step} raises {type(e).__name__}: {str(e)[:300]}",
                         "run one training step by hand to see the traceback")
                return
            if step == 0:
                before = loss.item()
                if not loss.requires_grad:
                    if not out.requires_grad:
                        why = ("the model's outputs do not require grad: forward() detaches them (.detach(), "
                               ".item(), .numpy() round trip, torch.no_grad() inside forward)")
                        fix = "return the tensor itself from forward(), no .detach()"
                    else:
                        why = ("the outputs require grad but the loss does not: the criterion breaks the graph "
                               "(.detach(), .item(), torch.tensor(...) of a result, round/argmax)")
                        fix = "compute the loss with torch ops on outputs, e.g. F.binary_cross_entropy_with_logits"
                    self.add("NO_LEARNING", "error",
                             f"the loss ({_fmt(before)}) has no grad_fn: {why}. backward() raises or trains "
                             f"nothing.", fix)
                    return
            if not math.isfinite(loss.item()):
                self.add("NON_FINITE", "error",
                         f"the loss became {loss.item()} at probe step {step} of {desc} (from {_fmt(before)}): the "
                         f"lr is too large or the loss is numerically unstable.", "lower the lr; use BCEWithLogitsLoss")
                return
            loss.backward()
            if step == 0:
                grads = [p.grad for p in trainable if p.grad is not None]
                n_grad = len(grads)
                n_nonzero = sum(bool(g.abs().sum() > 0) for g in grads)
                self.facts.update(params_trainable=len(trainable), params_with_grad=n_grad,
                                  params_nonzero_grad=n_nonzero)
                if any(not bool(torch.isfinite(g).all()) for g in grads):
                    self.add("NON_FINITE", "error",
                             f"some gradients are NaN/inf at the first step (loss {_fmt(before)}): training will "
                             f"turn the weights into NaN.", "torch.autograd.set_detect_anomaly(True)")
                    return
                if n_grad == 0:
                    self.add("NO_LEARNING", "error",
                             f"no parameter received a gradient (0 of {len(trainable)} trainable tensors): the loss "
                             f"({_fmt(before)}) requires grad but does not depend on the model's parameters (outputs "
                             f"detached then re-wrapped, or the loss built from another tensor).",
                             "loss = criterion(model(x), y)  # from the model's own outputs")
                    return
                if n_nonzero == 0:
                    self.add("NO_LEARNING", "error",
                             f"all gradients are exactly zero ({n_grad} of {len(trainable)} tensors got one): an op "
                             f"with zero gradient sits between the parameters and the loss (round, argmax, "
                             f"thresholding, sign), or every unit before the output is dead.",
                             "remove round()/argmax/(x > t) from forward(); threshold only at evaluation")
                    return
            try:
                if isinstance(opt, torch.optim.LBFGS):
                    opt.step(lambda: self._closure(opt))
                else:
                    opt.step()
            except Exception as e:
                self.add("NO_LEARNING", "error",
                         f"optimizer.step() of {desc} raises {type(e).__name__}: {str(e)[:300]}",
                         fix_opt)
                return
        _seed(dev)
        with torch.no_grad():
            out_after, _ = _unwrap(model(self.x))
            after = self._loss(out_after).item()
        self.out_after = out_after.detach()
        self.facts.update(probe_steps=self.probe_steps, probe_loss_before=before, probe_loss_after=after)
        if not math.isfinite(after):
            self.add("NON_FINITE", "error",
                     f"after {self.probe_steps} probe steps of {desc} the loss is {after} (from {_fmt(before)}): the "
                     f"lr is too large or the loss is numerically unstable.", "lower the lr")
            return
        rel = (before - after) / max(abs(before), 1e-12)
        grads_note = f"{n_nonzero} of {len(trainable)} trainable parameter tensors got a non-zero gradient"
        if rel <= 0:
            if after > before and not causes:
                causes.append(f"the loss went up: the lr of {desc} is too large")
            self.add("NO_LEARNING", "error",
                     f"overfitting this one batch for {self.probe_steps} steps of {desc} did not lower the loss "
                     f"({_fmt(before)} -> {_fmt(after)}); {grads_note}."
                     + (f" Cause: {'; '.join(causes)}." if causes else ""),
                     "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)")
        elif rel < PROBE_MIN_DECREASE:
            self.add("NO_LEARNING", "warning",
                     f"overfitting this one batch for {self.probe_steps} steps of {desc} barely moved the loss "
                     f"({_fmt(before)} -> {_fmt(after)}, -{_pct(rel)}; a healthy setup drops it by several percent); "
                     f"{grads_note}. Is the lr too small?", "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)")

    # -- collapse -------------------------------------------------------------------------------------

    def _pred_rate(self, out: torch.Tensor) -> float:
        o = out.float()
        if self.kind == "bce_logits":
            p = torch.sigmoid(o)
        elif self.kind == "ce":
            p = torch.softmax(o, dim=-1)
        elif self.kind == "nll":
            p = o.exp()
        elif self.kind in ("bce", "regression") or self.form in ("sigmoid", "softmax"):
            p = o
        else:
            p = torch.sigmoid(o)
        return (p > 0.5).float().mean().item()

    def check_collapse(self) -> None:
        if self.out is None or self.single_label or self.one_hot or not self.loss_ok:
            return
        if self.has("SOFTMAX_ON_MULTILABEL"):  # a softmax cannot put 2+ labels over 0.5: explained there
            return
        if not bool(torch.isfinite(self.out).all()):
            return
        true_rate = (self.y.float() > 0.5).float().mean().item()
        init = self._pred_rate(self.out)
        after_out = self.out_after
        after = self._pred_rate(after_out) if after_out is not None and bool(torch.isfinite(after_out).all()) else None
        self.facts.update(true_positive_rate=true_rate, pred_positive_rate_init=init, pred_positive_rate_after=after)
        if not COLLAPSE_TRUE_RANGE[0] <= true_rate <= COLLAPSE_TRUE_RANGE[1]:
            return

        def collapsed(r: float | None) -> bool:
            return r is not None and (r < COLLAPSE_LOW or r > COLLAPSE_HIGH)

        how = {"bce_logits": "sigmoid(outputs)", "ce": "softmax(outputs)", "nll": "exp(outputs)"}.get(
            self.kind, "outputs" if self.kind in ("bce", "regression") else "sigmoid(outputs)")
        n = self.out.numel()
        fix = "print(probs.mean(0), targets.float().mean(0))  # per label; tune thresholds on validation"

        def side(r: float) -> str:
            return "every label absent" if r < COLLAPSE_LOW else "every label present"

        def minority(r: float | None) -> bool:  # collapsed onto the side the base rate does not favour
            return collapsed(r) and (r > COLLAPSE_HIGH) != (true_rate > 0.5)

        when = (f"after the {self.probe_steps}-step probe ({_pct(init)} at init)" if after is not None
                else "at initialization (no probe ran)")
        final = after if after is not None else init
        if not (collapsed(init) or collapsed(after)):
            return
        stage = "after the probe" if collapsed(after) else "at initialization"
        r = after if collapsed(after) else init
        base = (f"on the given batch, {_pct(final)} of the {n} predictions ({how} > 0.5) are positive {when}, "
                f"while {_pct(true_rate)} of the targets are: {stage} the model predicts {side(r)}")
        if minority(init) or minority(after):
            self.add("COLLAPSED_PREDICTIONS", "warning",
                     base + ", the opposite of what the label base rates favour, so something pushes every output "
                     "one way (an extra sigmoid, a final ReLU, a softmax, a huge pos_weight, a bad bias init); "
                     "F1 at threshold 0.5 is near 0.", fix)
        else:
            self.add("COLLAPSED_PREDICTIONS", "info",
                     base + (", the majority value of every label: normal early in training while the model learns "
                             "the base rates" if collapsed(final) else "; training moves away from it")
                     + ". If it persists after training, F1 at threshold 0.5 is near 0: tune per-label thresholds "
                     "on validation data or weight the positives.", fix)


# --- the entry point ---------------------------------------------------------------------------------


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
    """Check a multi-label training setup on one batch, like a linter; see the module docstring
    for every code it can report.

    ``model`` is any ``nn.Module``; ``criterion`` any loss (a ``torch.nn`` loss or a callable
    ``(outputs, targets) -> loss``); ``inputs`` and ``targets`` one batch (tensors or numpy
    arrays, converted with ``torch.as_tensor``); ``optimizer`` the one training will use (its
    class and hyperparameters are copied, it is never stepped); ``train_targets`` the whole
    training set's (N, L) targets, for label counts; ``probe_steps`` the length of the
    overfit-one-batch probe (0 skips it).

    Nothing the caller passed is modified; torch's RNG state is restored. Raises ``TypeError`` or
    ``ValueError`` for arguments it cannot work with; a model that raises on the inputs is a
    ``MODEL_ERROR`` finding, not an exception.
    """
    t0 = time.perf_counter()
    _validate_model(model)
    _validate_criterion(criterion)
    x = _as_tensor(inputs, "inputs")
    y = _as_tensor(targets, "targets")
    tt = None if train_targets is None else _as_tensor(train_targets, "train_targets")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}")
    if isinstance(probe_steps, bool) or not isinstance(probe_steps, int) or probe_steps < 0:
        raise ValueError(f"probe_steps must be an int >= 0, got {probe_steps!r}")
    for what, t in (("inputs", x), ("targets", y)):
        if t.ndim == 0:
            raise ValueError(f"{what} is a scalar; pass a batch with the batch dimension first")
        if t.shape[0] == 0 or t.numel() == 0:
            raise ValueError(f"{what} is an empty batch (shape {tuple(t.shape)}); pass at least one row")
    if tt is not None and (tt.ndim != 2 or tt.shape[0] == 0):
        raise ValueError(f"train_targets must be a non-empty (N, L) multi-hot array, got shape {tuple(tt.shape)}")
    try:
        model_copy = copy.deepcopy(model)
    except Exception as e:
        raise TypeError(f"check_setup works on copy.deepcopy(model), which fails for this "
                        f"{type(model).__name__}: {e}") from e
    device = _model_device(model, x.device)
    checker = _Checker(model, model_copy, criterion, x, y, optimizer, tt, probe_steps, device)
    with _fork_rng(device), _cpu_threads(device, model) as threads, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's warnings (broadcasting...) repeat what the findings say
        checker.facts["torch_threads"] = threads
        checker.run()
    if checker.repairs:
        checker.facts["repairs"] = checker.repairs
    checker.facts["elapsed_s"] = time.perf_counter() - t0
    findings = sorted(checker.findings, key=lambda f: _ORDER[f.severity])
    return Report(findings, checker.facts)
