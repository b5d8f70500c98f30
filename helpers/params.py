"""Checks of a notebook's parameters, run in the cell right after the ``parameters`` cell.

papermill injects whatever a reader passes (``-p epochs 1.5``, ``-p device gpu``, ``-p data None``),
so every notebook validates its parameters up front and stops with one line that names the
parameter, what it got, and what to give instead, before any data is made or any file written::

    params.validate(PARAMS, seed=params.integer(min=0), epochs=params.integer(min=1),
                    lr=params.number(min=0, min_open=True), device=params.device(),
                    data=params.data_source(), on_failed_claim=params.on_failed_claim(),
                    output_dir=params.output_dir(), ...)
    params.require(n_val >= 10, "n_val", n_val, "at least 10 validation scenes are needed to tune thresholds")

A rule is a small function ``rule(name, value)`` that raises :class:`ParameterError`; the
factories below make the rules the notebooks need. :func:`validate` also refuses a parameter that
has no rule, so a parameter added later cannot go unchecked.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

Rule = Callable[[str, Any], None]


class ParameterError(ValueError):
    """A notebook parameter has a value the notebook cannot run with (one line: which, what, how to fix)."""


def _show(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def fail(name: str, value: Any, expected: str, example: str = "") -> None:
    """Raise the one-line error for parameter ``name``; ``example`` is how to pass a right value on papermill's
    command line (default ``-p NAME VALUE``; a list needs ``-y``, YAML, since ``-p`` passes a string)."""
    __tracebackhide__ = True  # IPython and pytest hide this frame: the reader sees the message
    raise ParameterError(f"parameter `{name}`: got {_show(value)}; {expected} "
                         f"(e.g. papermill {example or f'-p {name} VALUE'})")


def require(condition: bool, name: str, value: Any, expected: str) -> None:
    """Raise the one-line error for ``name`` unless ``condition`` holds (combinations of parameters)."""
    __tracebackhide__ = True
    if not condition:
        fail(name, value, expected)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _bounds(min: float | None, max: float | None, min_open: bool, max_open: bool) -> str:
    parts = []
    if min is not None:
        parts.append(f"{'>' if min_open else '>='} {min:g}")
    if max is not None:
        parts.append(f"{'<' if max_open else '<='} {max:g}")
    return " and ".join(parts)


def integer(min: int | None = None, max: int | None = None) -> Rule:
    """A whole number (``int`` or a NumPy integer, not ``bool``) within ``[min, max]``."""
    want = "give a whole number" + (f" {_bounds(min, max, False, False)}" if min is not None or max is not None else "")

    def rule(name: str, value: Any) -> None:
        __tracebackhide__ = True
        if not _is_int(value) or (min is not None and value < min) or (max is not None and value > max):
            fail(name, value, want)
    return rule


def number(min: float | None = None, max: float | None = None, min_open: bool = False,
           max_open: bool = False) -> Rule:
    """A finite real number (an ``int`` is accepted) within the bounds (open where asked)."""
    bounds = _bounds(min, max, min_open, max_open)
    want = "give a finite number" + (f" {bounds}" if bounds else "")

    def rule(name: str, value: Any) -> None:
        __tracebackhide__ = True
        ok = _is_number(value) and math.isfinite(float(value))
        if ok and min is not None:
            ok = value > min if min_open else value >= min
        if ok and max is not None:
            ok = value < max if max_open else value <= max
        if not ok:
            fail(name, value, want)
    return rule


def boolean() -> Rule:
    """``True`` or ``False`` (not 0/1, not the string "False")."""
    def rule(name: str, value: Any) -> None:
        __tracebackhide__ = True
        if not isinstance(value, bool):
            fail(name, value, "give True or False")
    return rule


def text() -> Rule:
    """A non-empty string."""
    def rule(name: str, value: Any) -> None:
        __tracebackhide__ = True
        if not isinstance(value, str) or not value.strip():
            fail(name, value, "give a non-empty string")
    return rule


def choice(*options: Any) -> Rule:
    """One of ``options``."""
    def rule(name: str, value: Any) -> None:
        __tracebackhide__ = True
        if isinstance(value, bool) != any(isinstance(o, bool) for o in options) or value not in options:
            fail(name, value, "give one of " + ", ".join(repr(o) for o in options))
    return rule


def subset(options: Iterable[str], min_len: int = 1) -> Rule:
    """A list of at least ``min_len`` distinct entries, each one of ``options``."""
    options = list(options)

    def rule(name: str, value: Any) -> None:
        __tracebackhide__ = True
        want = f"give a list of at least {min_len} distinct names from {options}"
        example = f"-y '{name}: [{', '.join(options[:max(min_len, 2)])}]'"
        if not isinstance(value, list | tuple) or len(value) < min_len or len(set(map(repr, value))) != len(value):
            fail(name, value, want, example)
        unknown = [v for v in value if v not in options]
        if unknown:
            fail(name, value, f"{unknown[0]!r} is not known; {want}", example)
    return rule


def device() -> Rule:
    """``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``; CUDA only where it is available."""
    def rule(name: str, value: Any) -> None:
        __tracebackhide__ = True
        want = "give 'auto' (CUDA when present, else the CPU), 'cpu', 'cuda' or 'cuda:N'"
        if not isinstance(value, str):
            fail(name, value, want)
        kind, _, index = value.partition(":")
        if kind not in ("auto", "cpu", "cuda", "mps") or (index and (kind != "cuda" or not index.isdigit())):
            fail(name, value, want)
        if kind == "cuda":
            import torch

            if not torch.cuda.is_available():
                fail(name, value, "CUDA is not available on this machine; give 'auto' or 'cpu'")
            if index and int(index) >= torch.cuda.device_count():
                fail(name, value, f"this machine has {torch.cuda.device_count()} CUDA device(s); give 'cuda' or 'auto'")
    return rule


def data_source(builtin: Iterable[str] = ("scenes",)) -> Rule:
    """A built-in data name (``"scenes"``) or the path of an existing ``.npz`` or ``.csv`` file."""
    builtin = tuple(builtin)

    def rule(name: str, value: Any) -> None:
        __tracebackhide__ = True
        want = f"give {' or '.join(repr(b) for b in builtin)} or the path of an existing .npz or .csv file"
        if not isinstance(value, str | os.PathLike) or not str(value).strip():
            fail(name, value, want)
        if str(value) in builtin:
            return
        from helpers import results

        p = Path(value).expanduser()
        p = p if p.is_absolute() else results.repo_root() / p
        if p.suffix.lower() not in (".npz", ".csv"):
            fail(name, value, want)
        if not p.is_file():
            fail(name, value, f"no file at {p}; {want}")
    return rule


def on_failed_claim() -> Rule:
    """What a failed claim does (``helpers.claims.Ledger``'s ``on_failure``): ``"stop"``, ``"end"``,
    ``"record"`` or ``"auto"`` (end on the book's own data, record on the reader's)."""
    from helpers import claims

    def rule(name: str, value: Any) -> None:
        __tracebackhide__ = True
        if not isinstance(value, str) or value not in claims.ON_FAILURE:
            fail(name, value, "give 'stop' (a failed claim stops the run), 'end' (the run goes on and fails at its "
                              "last cell), 'record' (it is shown and recorded, the run goes on and succeeds) or "
                              "'auto' (end on the book's data, record on yours)")
    return rule


def output_dir() -> Rule:
    """A folder path (relative paths are taken from the repository root) that is not an existing file."""
    def rule(name: str, value: Any) -> None:
        __tracebackhide__ = True
        if not isinstance(value, str | os.PathLike) or not str(value).strip():
            fail(name, value, "give a folder path such as 'outputs/my_run'")
        from helpers import results

        p = Path(value).expanduser()
        p = p if p.is_absolute() else results.repo_root() / p
        for part in (p, *p.parents):
            if part.exists() and not part.is_dir():
                fail(name, value, f"{part} is a file, not a folder; give another folder path")
    return rule


def validate(values: Mapping[str, Any], **rules: Rule) -> None:
    """Check every parameter in ``values`` with its rule; a parameter without a rule is a bug of the
    notebook (so a new parameter cannot go unchecked) and raises ``KeyError``."""
    __tracebackhide__ = True
    missing = sorted(set(values) - set(rules))
    if missing:
        raise KeyError(f"parameters without a validation rule: {missing}; add one to the notebook's validate() call")
    extra = sorted(set(rules) - set(values))
    if extra:
        raise KeyError(f"rules for parameters the notebook does not have: {extra}")
    for name, rule in rules.items():
        rule(name, values[name])
