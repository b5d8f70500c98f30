"""Claims as data: every sentence the book asserts about a run, recorded with the numbers it was judged on.

A notebook makes a :class:`Ledger` for its output folder and states each claim through it::

    ledger = helpers.claims.Ledger(out, notebook="02_wrong_loss_failure")
    ledger.claim(
        "ce_multihot_f1_collapses",
        "CrossEntropyLoss on float multi-hot targets ranks well but its micro-F1 collapses",
        holds=ce["micro_f1"] < bce["micro_f1"] - 0.2,
        evidence={"ce_micro_f1": ce["micro_f1"], "bce_micro_f1": bce["micro_f1"]},
    )
    ...
    results.write_record(out, ..., claims=ledger.records)

Each claim gets one of three statuses:

``held``
    its test was evaluated and is true;
``failed``
    its test was evaluated and is false: the claim is recorded first; then, in the ledger's
    ``"stop"`` mode (the default), an ``AssertionError`` naming the claim and its evidence is
    raised, so papermill, nbval and the sweep runner see a failed run; in its ``"end"`` and
    ``"record"`` modes the failure is printed in a line of its own and the run goes on (below);
``not applicable``
    its preconditions do not hold under the current parameters (other data, fewer setups, too few
    batches): ``applies=False`` with ``why_not`` saying why. It is never counted as held, and its
    ``holds`` argument is not evaluated (pass a callable to defer work that would fail then).

The ledger rewrites ``claims.json`` in the output folder after every claim (atomically), so a run
that stops at a failing claim still leaves the claims it made, the failing one included; the
sweep's claims table and the tests read that file or the ``claims`` list of ``metrics.json``.

What a failed claim does (``on_failure``, each notebook's ``on_failed_claim`` parameter):

``"stop"``
    raise :class:`ClaimFailed` at the failing claim (the book's regression runs: a claim that no
    longer holds on the book's own data must fail the run);
``"end"``
    record and print it, go on to the notebook's last cell, and fail there (:meth:`Ledger.finish`
    raises :class:`ClaimFailed` naming every failed claim): the run fails, as a regression run
    must, but only after every section has run and every claim has been judged, so a reader who
    changed a parameter sees the whole notebook and each claim's result in that regime;
``"record"``
    record and print it, and go on, and end without failing, so that a run on a reader's own data
    reaches every section and succeeds (a claim's margins are set for the book's data; on other
    data its failure is a finding to read, not a reason to stop before the section the reader
    came for);
``"auto"``
    ``"end"`` when ``data`` is one of the book's generated data sets (:data:`BOOK_DATA`),
    ``"record"`` otherwise (a path to the reader's ``.npz`` or ``.csv``).

The notebook's last code cell calls :meth:`Ledger.finish`, which prints how many claims held,
failed and were not applicable and names the failed ones; ``claims.json`` records the mode the
run used (``on_failure``) and why.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from helpers import results

CLAIMS_NAME = "claims.json"
HELD, FAILED, NOT_APPLICABLE = "held", "failed", "not applicable"
STATUSES = (HELD, FAILED, NOT_APPLICABLE)
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_MARK = {HELD: "✔ held", FAILED: "✘ FAILED", NOT_APPLICABLE: "– not applicable"}
STOP, END, RECORD, AUTO = "stop", "end", "record", "auto"
ON_FAILURE = (STOP, END, RECORD, AUTO)
ENDED_WITH_FAILURES = "the run reached its last cell with"  # how finish() begins its ClaimFailed in "end" mode
BOOK_DATA = ("scenes", "many_scenes")  # the book's own generated data sets (``data=`` of the notebooks)


class ClaimFailed(AssertionError):
    """A recorded claim did not hold; the message names the claim and its evidence."""


def resolve_on_failure(on_failure: Any, data: Any = None, book_data: Sequence[str] = BOOK_DATA) -> tuple[str, str]:
    """``(mode, why)``: the mode a run uses on a failed claim, ``"stop"``, ``"end"`` or ``"record"``, and why.

    ``"auto"`` follows ``data``: ``"end"`` on one of the book's own data sets (``book_data``, by default
    :data:`BOOK_DATA`; a list of data sets when every one of them is), ``"record"`` on anything else (a
    path to the reader's file). A value outside :data:`ON_FAILURE`, or ``"auto"`` without ``data``,
    raises ``ValueError`` in one line."""
    if not isinstance(on_failure, str) or on_failure not in ON_FAILURE:
        raise ValueError(f"on_failure={on_failure!r}: give one of {', '.join(map(repr, ON_FAILURE))} "
                         f"(what a failed claim does: stop the run, go on and fail at the last cell, or record it and go on)")
    if on_failure != AUTO:
        return on_failure, f"on_failed_claim={on_failure!r} was given"
    if data is None:
        raise ValueError("on_failure='auto' follows the run's data: pass data= (the notebook's `data`), "
                         "or give on_failure='stop' or 'record'")
    names = list(data) if isinstance(data, list | tuple) else [data]
    if names and all(isinstance(n, str) and n in book_data for n in names):
        return END, (f"data={data!r} is the book's own data, where every claim is expected to hold: the run goes "
                     f"on to its last cell and fails there")
    return RECORD, f"data={str(data)!r} is not the book's own data"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return "[" + ", ".join(_fmt(v) for v in value[:6]) + f", … ({len(value)} values)]"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def format_evidence(evidence: Mapping[str, Any]) -> str:
    """``name=value`` pairs, floats to four significant digits."""
    return ", ".join(f"{k}={_fmt(v)}" for k, v in evidence.items())


@dataclass
class Ledger:
    """The claims of one run, written to ``out_dir/claims.json`` as they are made.

    ``notebook`` is stored with each claim so that records from several notebooks can be pooled.
    ``echo`` prints one line per claim (the notebooks show it; tests may turn it off; a failed
    claim that does not stop the run is printed regardless). ``on_failure`` (``"stop"``, the
    default, ``"end"``, ``"record"`` or ``"auto"`` with ``data``) says what a failed claim does; the mode it
    resolves to is :attr:`mode`, with the reason in :attr:`mode_why`. ``book_data`` names the data
    sets ``"auto"`` counts as the book's own (:data:`BOOK_DATA` unless a notebook has others)."""

    out_dir: str | os.PathLike | None
    notebook: str = ""
    echo: bool = True
    records: list[dict[str, Any]] = field(default_factory=list)
    on_failure: str = STOP
    data: Any = None
    book_data: Sequence[str] = BOOK_DATA
    mode: str = field(init=False, default=STOP)
    mode_why: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.mode, self.mode_why = resolve_on_failure(self.on_failure, self.data, self.book_data)
        if self.out_dir is not None:
            if not isinstance(self.out_dir, str | os.PathLike):
                raise TypeError(f"Ledger out_dir={self.out_dir!r} is {type(self.out_dir).__name__}: give a folder "
                                f"path (or None to keep the claims in memory)")
            self.out_dir = Path(self.out_dir)
            for part in (self.out_dir, *self.out_dir.parents):
                if part.exists() and not part.is_dir():
                    raise ValueError(f"Ledger out_dir={results.display_path(self.out_dir)}: "
                                     f"{results.display_path(part)} is a file, not a folder; give a folder path")
            # A run starts here: mark the folder incomplete until write_record (helpers.results.start_run)
            results.start_run(self.out_dir, self.notebook)
            self._save()  # a rerun into the same folder starts with an empty ledger, not stale claims

    def claim(
        self,
        id: str,
        text: str,
        holds: bool | Callable[[], bool] | None = None,
        *,
        evidence: Mapping[str, Any] | None = None,
        applies: bool = True,
        why_not: str = "",
    ) -> None:
        """Record one claim (appended to :attr:`records`); raise :class:`ClaimFailed` when it fails.

        It returns nothing, so a claim as the last line of a notebook cell shows only its printed
        line, never the record (nbval's kernel ignores IPython's trailing-semicolon rule).

        ``holds`` is the claim's test (a bool, or a callable returning one, evaluated only when the
        claim applies); ``evidence`` the numbers it was judged on; ``applies=False`` with a
        ``why_not`` reason records it as not applicable."""
        if not isinstance(id, str) or not _ID.match(id):
            raise ValueError(f"claim id {id!r} must be snake_case (letters, digits, underscores)")
        if any(r["id"] == id for r in self.records):
            raise ValueError(f"claim id {id!r} is used twice in {self.notebook or 'this run'}; ids must be unique")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"claim {id!r} needs its sentence as text")
        applies = _as_bool(applies, f"claim {id!r}: applies")
        if not applies and not why_not:
            raise ValueError(f"claim {id!r} is not applicable: say why in why_not=")
        if evidence is not None and not isinstance(evidence, Mapping):
            raise TypeError(f"claim {id!r}: evidence must map names to the numbers the claim was judged on, e.g. "
                            f"evidence={{'f1': 0.8}}; got a {type(evidence).__name__}")
        evidence = dict(evidence or {})
        if not applies:
            status = NOT_APPLICABLE
        else:
            if holds is None:
                raise ValueError(f"claim {id!r} applies but has no test (holds=)")
            value = holds() if callable(holds) else holds
            status = HELD if _as_bool(value, f"claim {id!r}: holds") else FAILED
        record = {
            "id": id,
            "notebook": self.notebook,
            "text": text.strip(),
            "status": status,
            "evidence": results.jsonable(evidence, str),
            "why_not": why_not if status == NOT_APPLICABLE else "",
        }
        self.records.append(record)
        self._save()
        if self.echo or (status == FAILED and self.mode != STOP):
            print(describe(record))
        if status == FAILED and self.mode == STOP:
            raise ClaimFailed(f"claim {id!r} failed: {record['text']} (evidence: {format_evidence(evidence)})")
        if status == FAILED and self.mode == END:
            print(f"  ↳ the run goes on to its last cell, which fails naming this claim: on_failed_claim resolved to "
                  f"'end' ({self.mode_why}); -p on_failed_claim stop stops here instead")
        elif status == FAILED:
            print(f"  ↳ the run goes on: on_failed_claim resolved to 'record' ({self.mode_why}); the failure is "
                  f"recorded in claims.json and listed at the end (-p on_failed_claim stop stops here instead)")

    def summary(self) -> dict[str, int]:
        """How many claims held, failed and were not applicable."""
        return {s: sum(r["status"] == s for r in self.records) for s in STATUSES}

    def failed(self) -> list[str]:
        """The ids of the claims that failed, in the order they were made."""
        return [r["id"] for r in self.records if r["status"] == FAILED]

    def finish(self) -> None:
        """The run's closing line (a notebook's last code cell): how many claims held, failed and were
        not applicable, naming the failed ones. In ``"record"`` mode it never raises: a failed claim
        there is a finding about the reader's data. In ``"end"`` mode it raises :class:`ClaimFailed`
        naming every failed claim (the run fails here, having run every section). In ``"stop"`` mode a
        failed claim has already stopped the run, so one that reaches here (its :class:`ClaimFailed`
        caught) raises again."""
        n, failed = self.summary(), self.failed()
        line = (f"claims: {n[HELD]} held, {n[FAILED]} failed, {n[NOT_APPLICABLE]} not applicable "
                f"(on_failed_claim: {self.mode})")
        if failed:
            line += f"\n✘ FAILED: {', '.join(failed)}; their evidence is in claims.json and in the lines above"
        print(line)
        if failed and self.mode == END:
            raise ClaimFailed(f"{ENDED_WITH_FAILURES} {len(failed)} failed claim(s): {', '.join(failed)} "
                              f"(on_failed_claim 'end': {self.mode_why})")
        if failed and self.mode == STOP:
            raise ClaimFailed(f"{len(failed)} claim(s) failed in a run that stops on a failed claim: {', '.join(failed)}")

    def _save(self) -> None:
        if self.out_dir is not None:
            results.write_json_atomic(Path(self.out_dir) / CLAIMS_NAME, {
                "notebook": self.notebook, "on_failure": self.mode, "on_failure_why": self.mode_why,
                "claims": self.records})


def _as_bool(value: Any, what: str) -> bool:
    """``value`` as a bool when it is one (Python, NumPy, or a 0-d boolean array or tensor); anything
    else (``"no"``, ``1``, ``None``) is refused, since ``bool("no")`` is True."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if getattr(value, "shape", None) == () and str(getattr(value, "dtype", "")) in ("bool", "torch.bool"):
        return bool(value)
    raise TypeError(f"{what} must be a bool (True or False, e.g. a comparison), got {type(value).__name__} {value!r}")


def describe(record: Mapping[str, Any]) -> str:
    """One readable line for a claim record."""
    line = f"{_MARK[record['status']]} [{record['id']}] {record['text']}"
    if record["status"] == NOT_APPLICABLE:
        return f"{line} — {record['why_not']}"
    if record.get("evidence"):
        line += f"  ({format_evidence(record['evidence'])})"
    return line


def read_claims(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The claims of one run: from ``claims.json``, or a ``metrics.json``'s ``claims`` list, or a
    folder holding either (``claims.json`` first, since it survives a run that failed). The claims
    of a run that did not complete are read from its ``claims.json``; a file older than such a run
    is refused (:class:`helpers.results.StaleOutputError`)."""
    p = Path(path)
    if p.is_dir():
        p = p / CLAIMS_NAME if (p / CLAIMS_NAME).exists() else p / results.RECORD_NAME
    run = results.incomplete_run(p.parent)
    if run is not None and (p.name != CLAIMS_NAME or p.stat().st_mtime < float(run.get("started_epoch") or 0) - 1):  # 1 s: coarse file clocks
        results.check_complete(p.parent)  # a run started there and did not finish: this file is an earlier run's
    data = results.read_json(p)
    claims = data.get("claims", []) if isinstance(data, Mapping) else []
    bad = [c for c in claims if not isinstance(c, Mapping) or c.get("status") not in STATUSES]
    if bad:
        raise ValueError(f"{results.display_path(p)} holds claims without a known status: {bad[:2]}")
    return list(claims)


# --------------------------------------------------------------------------------------------
# A sweep's claims: per claim, over the runs of a sweep folder

STATUS_NAME, MANIFEST_NAME = "status.json", "sweep.json"  # the sweep runner's file names (helpers.sweep)
SWEEP_COLUMNS = ["notebook", "claim", "text", "runs", "held", "failed", "not applicable", "not reached",
                 "verdict", "failed where", "why not"]


def _where(grids: list[Mapping[str, Any]]) -> str:
    """Grid values of some runs, seeds pooled: ``tail=0.0 (5); tail=1.5 (2)``."""
    keys: dict[str, int] = {}
    for g in grids:
        key = ", ".join(f"{k}={v}" for k, v in g.items() if k != "seed") or f"seed={g.get('seed')}"
        keys[key] = keys.get(key, 0) + 1
    return "; ".join(f"{k} ({n})" if n > 1 else k for k, n in keys.items())


def _reasons(why: Mapping[str, int], shown: int = 2) -> str:
    """The reasons a claim was not applicable, most frequent first, with their run counts."""
    ranked = sorted(why.items(), key=lambda kv: -kv[1])
    text = "; ".join(f"{w} ({k})" if k > 1 else w for w, k in ranked[:shown])
    return text + (f"; and {len(ranked) - shown} other reasons" if len(ranked) > shown else "")


def _verdict(n: int, held: int, failed: int, na: int, unreached: int) -> str:
    if failed:
        return f"FAILED on {failed} of {n} runs"
    if held == n:
        return f"held on all {n} runs"
    if not held:
        return "never judged: " + ", ".join(p for p in (f"not applicable on {na}" if na else "",
                                                          f"not reached on {unreached}" if unreached else "") if p)
    parts = [f"held on {held} of {n} runs"] + [f"not applicable on {na}"] * bool(na) + [f"not reached on {unreached}"] * bool(unreached)
    return ", ".join(parts)


def sweep_table(out_dir: str | os.PathLike):
    """The claims table of a sweep folder, built from its runs' claim records.

    Reads every complete run folder (one holding the sweep runner's ``status.json``; the runs of the
    folder's ``sweep.json`` when present) and the claims that run recorded (``claims.json``, else its
    ``metrics.json``). One row per claim id, in the order the runs made them: on how many runs it
    ``held``, ``failed``, was ``not applicable`` (with the reasons given) or was ``not reached`` (the
    run stopped before it, or recorded no claims), and the grid values of the runs where it failed,
    seeds pooled. A run that failed on something other than a claim adds a row ``(error) type:
    message``. Returns a pandas DataFrame with :data:`SWEEP_COLUMNS`."""
    import pandas as pd

    out = Path(out_dir)
    if not out.is_absolute():
        out = results.repo_root() / out
    if not out.is_dir():
        raise FileNotFoundError(f"no sweep folder at {results.display_path(out)}: run the sweep first")
    manifest = results.read_json(out / MANIFEST_NAME) if (out / MANIFEST_NAME).exists() else {}
    ids = [r["run_id"] for r in manifest.get("runs", [])] or sorted(p.parent.name for p in out.glob(f"*/{STATUS_NAME}"))
    runs = []  # (status, claims) of each complete run
    for rid in ids:
        folder = out / rid
        if not (folder / STATUS_NAME).exists():
            continue  # planned, not run (yet)
        status = results.read_json(folder / STATUS_NAME)
        has = (folder / CLAIMS_NAME).exists() or (folder / results.RECORD_NAME).exists()
        runs.append((status, read_claims(folder) if has else []))
    if not runs:
        return pd.DataFrame(columns=SWEEP_COLUMNS)
    n = len(runs)
    notebook = Path(manifest.get("notebook") or runs[0][0].get("notebook") or "").stem
    order: dict[str, dict[str, Any]] = {}
    for _, recs in runs:
        for r in recs:
            order.setdefault(r["id"], {"text": r["text"], "held": 0, "failed": [], "na": 0, "why": {}})
    for status, recs in runs:
        for r in recs:
            row = order[r["id"]]
            if r["status"] == HELD:
                row["held"] += 1
            elif r["status"] == FAILED:
                row["failed"].append(status.get("grid") or {})
            else:
                row["na"] += 1
                row["why"][r["why_not"]] = row["why"].get(r["why_not"], 0) + 1
    rows = []
    for cid, c in order.items():
        failed = len(c["failed"])
        unreached = n - c["held"] - failed - c["na"]
        rows.append({"notebook": notebook, "claim": cid, "text": c["text"], "runs": n, "held": c["held"],
                     "failed": failed, "not applicable": c["na"], "not reached": unreached,
                     "verdict": _verdict(n, c["held"], failed, c["na"], unreached),
                     "failed where": _where(c["failed"]),
                     "why not": _reasons(c["why"])})
    errors: dict[str, list[Mapping[str, Any]]] = {}
    for status, recs in runs:
        err = status.get("error") or {}
        if status.get("status") == "failed" and not any(r["status"] == FAILED for r in recs):
            errors.setdefault(f"{err.get('type')}: {str(err.get('message'))[:120]}", []).append(status.get("grid") or {})
    for what, grids in errors.items():
        rows.append({"notebook": notebook, "claim": f"(error) {what}", "text": "a run stopped on an error, not a claim",
                     "runs": n, "held": 0, "failed": len(grids), "not applicable": 0, "not reached": 0,
                     "verdict": f"FAILED on {len(grids)} of {n} runs", "failed where": _where(grids), "why not": ""})
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)
