"""The public peer benchmark: setups ported from public buggy training programs, scored the way
the field scores its tools.

Each case is a module of ``tests/peer_cases/`` (one per thread) with its provenance, the bug in one
sentence, the codes that name the fault, the thread's fix and two functions, ``buggy()`` and
``clean()``, each returning a :class:`Setup` (model, loss, one batch, optimizer where the thread
has one; small, seeded, random data with a learnable structure). This module runs the checkers on
both and scores them with the three levels of DeepFD and DeepDiagnosis (ICSE 2022):

* **detected**: any error or warning on the buggy setup;
* **diagnosed**: one of the case's ``EXPECTED`` codes among the findings (any severity);
* **fix named**: the fix text of such a finding contains one of the case's ``FIX_KEYWORDS``
  (case-insensitive), the words of the thread's own fix;

and counts **false alarms**: errors or warnings on the clean twin (and on a "buggy" setup that is
not wrong in PyTorch terms, ``ALARM = False``: a single-label head the thread swapped for another
valid one). Every setup goes through :func:`check_setup`; a setup with ``predict`` also through
:func:`check_predictions`, one with ``train`` also through a :class:`Monitor` fed by the thread's
loop. A case whose setup or checker raises is scored as not detected and reported with the
exception, never stopping the table.

Run ``python -m helpers.diagnose.benchmark`` (about half a minute on one CPU core); ``--update
docs/benchmark.md`` also rewrites the table in that document, which a test compares with a fresh run.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from helpers.diagnose.monitor import Monitor
from helpers.diagnose.predictions import check_predictions
from helpers.diagnose.report import Finding

CASES_PACKAGE = "tests.peer_cases"
SCOPES = ("multi-label", "binary", "single-label")
_CASE_ATTRS = ("SOURCE", "PATH", "POST", "SCOPE", "BUG", "FIX", "EXPECTED", "FIX_KEYWORDS", "ALARM", "PORT",
               "buggy", "clean")


@dataclass
class Setup:
    """What a thread's program hands the checker: ``model``, ``criterion``, one batch
    (``inputs``, ``targets``), the ``optimizer`` where the thread has one and the training split's
    targets where it has them. ``predict(model, inputs) -> (y_pred, scores)`` is how the thread
    turns outputs into 0/1 predictions (checked by ``check_predictions``); ``train() -> Monitor``
    runs the thread's loop for a few steps with a monitor fed each step."""

    model: nn.Module
    criterion: Callable
    inputs: torch.Tensor
    targets: torch.Tensor
    optimizer: torch.optim.Optimizer | None = None
    train_targets: torch.Tensor | None = None
    predict: Callable[[nn.Module, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]] | None = None
    train: Callable[[], Monitor] | None = None


@dataclass
class Run:
    """The findings on one setup (``crash``: the exception text when something raised)."""

    findings: list[Finding] = field(default_factory=list)
    crash: str | None = None

    @property
    def alarms(self) -> list[Finding]:
        return [f for f in self.findings if f.severity in ("error", "warning")]

    def codes(self, severities: Sequence[str] = ("error", "warning", "info")) -> list[str]:
        return list(dict.fromkeys(f.code for f in self.findings if f.severity in severities))


@dataclass
class Score:
    """One case's row of the table."""

    name: str
    scope: str
    expected: tuple[str, ...]
    alarm: bool
    buggy: Run
    clean: Run
    detected: bool
    diagnosed: bool
    fix_named: bool

    @property
    def clean_alarms(self) -> list[str]:
        return self.clean.codes(("error", "warning"))

    @property
    def misfires(self) -> list[str]:
        """Alarms on a "buggy" setup that is not wrong in PyTorch terms (ALARM False)."""
        return [] if self.alarm else self.buggy.codes(("error", "warning"))


def _fn_line(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
    return f"{type(exc).__name__}: {str(exc)[:160]}{where}"


def run_setup(make: Callable[[], Setup]) -> Run:
    """Build a setup and run every checker that applies; exceptions become ``Run.crash``."""
    from helpers.diagnose.check import check_setup

    run = Run()
    try:
        torch.manual_seed(0)
        s = make()
        report = check_setup(s.model, s.criterion, s.inputs, s.targets, optimizer=s.optimizer,
                             train_targets=s.train_targets)
        run.findings += list(report)
        if s.predict is not None:
            with torch.no_grad():
                y_pred, scores = s.predict(s.model, s.inputs)
            targets = s.targets if s.targets.ndim == 2 else s.targets.reshape(len(s.targets), -1)
            run.findings += list(check_predictions(y_pred, targets, scores=scores))
        if s.train is not None:
            torch.manual_seed(0)
            run.findings += list(s.train().report())
    except Exception as e:  # noqa: BLE001 -- a crash is scored (not detected) and reported, not raised
        run.crash = _fn_line(e)
    return run


def _matches_fix(f: Finding, keywords: Sequence[str]) -> bool:
    text = f.fix.lower()
    return any(k.lower() in text for k in keywords)


def score_case(name: str, case: ModuleType) -> Score:
    buggy, clean = run_setup(case.buggy), run_setup(case.clean)
    expected = tuple(case.EXPECTED)
    hits = [f for f in buggy.findings if f.code in expected]
    return Score(name=name, scope=case.SCOPE, expected=expected, alarm=bool(case.ALARM), buggy=buggy, clean=clean,
                 detected=bool(buggy.alarms) and buggy.crash is None,
                 diagnosed=bool(hits) and buggy.crash is None,
                 fix_named=buggy.crash is None and any(_matches_fix(f, case.FIX_KEYWORDS) for f in hits))


def load_cases(package: str = CASES_PACKAGE) -> dict[str, ModuleType]:
    """Every case module of ``package`` (name -> module), checked for the attributes a case needs."""
    pkg = importlib.import_module(package)
    cases = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{package}.{info.name}")
        missing = [a for a in _CASE_ATTRS if not hasattr(mod, a)]
        if missing:
            raise ValueError(f"peer case {info.name} lacks {', '.join(missing)}")
        if mod.SCOPE not in SCOPES:
            raise ValueError(f"peer case {info.name}: SCOPE {mod.SCOPE!r} is not one of {SCOPES}")
        cases[info.name] = mod
    return cases


def run_benchmark(cases: dict[str, ModuleType] | None = None) -> list[Score]:
    cases = load_cases() if cases is None else cases
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return [score_case(name, mod) for name, mod in cases.items()]
    finally:
        torch.set_num_threads(before)


def _mark(v: bool | None) -> str:
    return "n/a" if v is None else ("yes" if v else "NO")


def totals(scores: Sequence[Score]) -> dict[str, Any]:
    bugs = [s for s in scores if s.alarm]
    ml = [s for s in bugs if s.scope in ("multi-label", "binary")]
    return {
        "cases": len(scores), "bugs": len(bugs),
        "detected": sum(s.detected for s in bugs), "diagnosed": sum(s.diagnosed for s in bugs),
        "fix_named": sum(s.fix_named for s in bugs),
        "ml_binary": len(ml), "ml_binary_detected": sum(s.detected for s in ml),
        "ml_binary_diagnosed": sum(s.diagnosed for s in ml),
        "clean_twins_with_alarms": sum(bool(s.clean_alarms) for s in scores),
        "not_bugs": len(scores) - len(bugs), "not_bugs_with_alarms": sum(bool(s.misfires) for s in scores),
        "crashes": sum((s.buggy.crash is not None) + (s.clean.crash is not None) for s in scores),
    }


def table(scores: Sequence[Score]) -> str:
    """The scores as a Markdown table, with totals and the crashes listed under it."""
    head = ("case", "scope", "expected", "detected", "diagnosed", "fix named", "found on buggy (errors, warnings)",
            "alarms on clean twin")
    rows = []
    for s in scores:
        found = ", ".join(s.buggy.codes(("error", "warning"))) or "-"
        if s.buggy.crash:
            found = "crash"
        rows.append((s.name, s.scope, ", ".join(s.expected) or "(none names it)",
                     _mark(s.detected) if s.alarm else ("quiet" if not s.misfires else "MISFIRE"),
                     _mark(s.diagnosed) if (s.alarm or s.expected) else "n/a",
                     _mark(s.fix_named) if s.alarm else "n/a", found,
                     "crash" if s.clean.crash else (", ".join(s.clean_alarms) or "none")))
    t = totals(scores)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines.append(
        f"| **total** | {t['cases']} cases | | {t['detected']} of {t['bugs']} bugs | {t['diagnosed']} of {t['bugs']} "
        f"| {t['fix_named']} of {t['bugs']} | multi-label/binary bugs: {t['ml_binary_detected']} detected, "
        f"{t['ml_binary_diagnosed']} diagnosed of {t['ml_binary']} | {t['clean_twins_with_alarms']} of {t['cases']} "
        f"clean twins alarmed; {t['not_bugs_with_alarms']} of {t['not_bugs']} not-a-bug setups alarmed |")
    crashes = [(s.name, w, r.crash) for s in scores for w, r in (("buggy", s.buggy), ("clean", s.clean)) if r.crash]
    if crashes:
        lines.append("")
        lines += [f"- crash in {name} ({which}): {why}" for name, which, why in crashes]
    return "\n".join(lines)


def _codes(codes: Sequence[str]) -> str:
    return "{" + ", ".join(f'"{c}"' for c in sorted(codes)) + "}" if codes else "set()"


def score_lines(scores: Sequence[Score]) -> str:
    """The scores as the lines of the ``SCORES`` dict in tests/test_peer_benchmark.py (to re-pin after a
    change of the checker): (detected, diagnosed, fix named, clean-twin alarms, not-a-bug alarms)."""
    return "\n".join(f'    "{s.name}": ({s.detected}, {s.diagnosed}, {s.fix_named}, {_codes(s.clean_alarms)}, '
                     f"{_codes(s.misfires)})," for s in scores)


TABLE_START, TABLE_END = "<!-- peer-table: generated by python -m helpers.diagnose.benchmark --update -->", \
    "<!-- /peer-table -->"


def table_in(markdown: str) -> str | None:
    """The generated table between the markers of a Markdown document, or None."""
    if TABLE_START not in markdown or TABLE_END not in markdown:
        return None
    return markdown.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()


def update_markdown(path: Path, text: str) -> None:
    """Replace the block between the markers in ``path`` with ``text`` (the markers must be there)."""
    doc = path.read_text(encoding="utf-8")
    if table_in(doc) is None:
        raise SystemExit(f"benchmark: {path} has no {TABLE_START} ... {TABLE_END} block to update")
    head, rest = doc.split(TABLE_START, 1)
    path.write_text(f"{head}{TABLE_START}\n{text}\n{TABLE_END}{rest.split(TABLE_END, 1)[1]}", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.diagnose.benchmark", description=__doc__.split("\n")[0])
    parser.add_argument("--update", type=Path, metavar="MARKDOWN",
                        help="also write the table into this document's generated block (docs/benchmark.md)")
    parser.add_argument("--scores", action="store_true",
                        help="print the scores as the SCORES lines of tests/test_peer_benchmark.py instead of the table")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    scores = run_benchmark()
    text = table(scores)
    print(score_lines(scores) if args.scores else text)
    if args.update is not None:
        update_markdown(args.update, text)
    print(f"\n({len(scores)} cases, {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
