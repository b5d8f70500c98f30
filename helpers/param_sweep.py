"""``make test-params``: run every numbered notebook with non-default values of each parameter.

Every value a reader may pass should either run to the end (claims held or not applicable) or stop
at once with a one-line error naming the parameter. This module finds out, notebook by notebook:

* the parameters and their defaults come from papermill's ``inspect_notebook`` (the tagged
  ``parameters`` cell), so a new notebook or parameter is covered without editing a list here;
* the values tried (:func:`cases`) follow from each parameter's type and default (smallest sensible
  size, the other boolean, each subset of a list, the default of another parameter of the same
  type, a wrong type), plus a small table of extra values per parameter name (:data:`EXTRA`: the
  values issue 19 found, each enumerated choice, ``data`` = every ``.npz`` of the shared data
  folder and a generated ``.csv``);
* each case runs with papermill's API in a process pool, into a temporary folder (never into the
  book's ``outputs/``), and is classified (:func:`classify`): ``ok`` (with its claims' counts),
  ``ok with failed claims`` (the run reached its last cell and judged every claim; the failed ones
  are named in the detail), ``refused`` (a one-line error naming the parameter: good),
  ``FAILED claim`` (the run stopped at a claim, before its last cell: good only where the case
  asked for it, ``on_failed_claim='stop'``), or ``crash`` (the exception's last line).

What this checks is that every value is handled: a valid value runs every cell, a wrong one is
refused in one line. A claim that fails at a valid value is that claim's result in that regime (a
smaller training set, a longer tail, another seed): the notebooks' ``on_failed_claim="auto"``
records it and goes on to the last cell (which then fails on the book's own data, ``"end"``, and
not on a reader's file, ``"record"``), and the table lists it as ``ok with failed claims``. It is
not turned into "not applicable" after the run that found it (a precondition is declared with a
claim, from what the claim means, before any run judges it), and it is not a defect of the
notebook's input handling either, so it counts as good here and is counted apart in the summary
(``findings``) for the reader of the table. The regression runs at the default values (nbval,
``make book``) are where a failed claim fails the build.

``python -m helpers.param_sweep [NOTEBOOK ...] [--params a,b] [--workers N] [--table DIR]`` prints
the table (notebook, parameter, value, expected, outcome, detail) and exits 1 when a case is not
good: a valid value that crashed, was refused or stopped before its last cell (except
``on_failed_claim='stop'``, which asks for that), or a wrong value that ran or crashed. It is slow
(a full notebook run per case), so it is not part of ``make test``.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import results

VALID, BAD = "valid", "bad"
OK_FAILED = "ok with failed claims"  # the run reached its end with failed claims recorded (on_failed_claim)
EXISTING_FILE = "<an existing file>"  # output_dir naming a file (made in the run's temporary folder)
CSV_DATA = "<a generated .csv>"  # data: a small tabular multi-label file written for the run

# Extra values per parameter name, on top of those derived from its type and default (issue 19's
# examples, the enumerated choices, the values that crashed or failed a claim before).
EXTRA: dict[str, list[tuple[Any, str]]] = {
    "seed": [(1, VALID), (-1, BAD), ("0", BAD)],
    "epochs": [(1, VALID), (2, VALID), (1.5, BAD), (0, BAD)],
    "cardinality_epochs": [(1, VALID)],
    "few_epochs": [(1, VALID)],
    # 10**7 scenes: refused up front where they do not fit in memory, run (slowly) where they do
    "n_train": [(300, VALID), (600, VALID), (10**7, VALID)],
    "tail": [(3.3, VALID), (1.0, VALID), ("high", BAD), (-1.0, BAD)],
    "imbalanced_tail": [(1.0, VALID), (0.0, VALID)],
    "device": [("cpu", VALID), ("gpu", BAD), (None, BAD)],
    "batch_size": [(1, VALID), (0, BAD)],
    "data": [(CSV_DATA, VALID), (None, BAD), ("missing.npz", BAD)],
    "output_dir": [(EXISTING_FILE, BAD)],
    "val_fraction": [(0.5, VALID), (1.0, BAD)],
    "folds": [(2, VALID), (1, BAD)],
    "lr_factor": [(1.0, VALID)],
    "on_failed_claim": [("stop", VALID), ("end", VALID), ("record", VALID), ("continue", BAD), (None, BAD)],
}
# List parameters for which the empty list is a documented value (every other list parameter must be given at
# least one item): the reason is the notebook's own parameter comment.
EMPTY_LIST_VALID: dict[str, str] = {
    "label_counts": "09: `[]` skips the all-zero-phase sweep",
}
# Parameters whose defaults other parameters may take ("equal to another parameter's default") only
# when that is not larger: a larger int could be n_train's 2000 as a number of epochs.
_WRONG_TYPE = {"int": ("x", 1.5), "float": ("x",), "bool": ("yes",), "str": (3,), "list": ("x",)}


@dataclass(frozen=True)
class Case:
    """One run: ``notebook`` with ``parameter`` set to ``value`` (``expected``: valid or bad)."""

    notebook: Path
    parameter: str
    value: Any
    expected: str

    @property
    def shown(self) -> str:
        text = self.value if self.value in (EXISTING_FILE, CSV_DATA) else repr(self.value)
        return text if len(text) <= 60 else text[:57] + "..."


def book_notebooks(patterns: Sequence[str] = ()) -> list[Path]:
    """The numbered notebooks (``notebooks/[0-9][0-9]_*.ipynb``), or those the patterns name."""
    from helpers import book

    return book.select_notebooks(list(patterns)) if patterns else book.book_notebooks()


def data_files(folder: Path | None = None) -> list[Path]:
    """Every ``.npz`` of the shared multi-label data folder (``../shared/data/multilabel`` beside the
    repository, or one level further up from a worktree), sorted; none when there is no such folder."""
    if folder is None:
        root = results.repo_root()
        found = [p / "shared" / "data" / "multilabel" for p in (root.parent, root.parent.parent)]
        folder = next((f for f in found if f.is_dir()), None)
    return sorted(folder.glob("*.npz")) if folder is not None and folder.is_dir() else []


def parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """``{name: {"type": ..., "default": value}}`` from papermill's ``inspect_notebook``."""
    import papermill as pm

    out = {}
    for name, p in pm.inspect_notebook(str(notebook)).items():
        try:
            default = ast.literal_eval(p["default"])
        except (ValueError, SyntaxError):
            default = p["default"]
        out[name] = {"type": p.get("inferred_type_name") or type(default).__name__, "default": default}
    return out


def _subsets(items: list[Any]) -> list[list[Any]]:
    """Each non-empty proper subset of a list (singletons and leave-one-out beyond four items)."""
    n = len(items)
    if n <= 1:
        return []
    if n > 4:
        return [[x] for x in items] + [items[:i] + items[i + 1:] for i in range(n)]
    return [list(c) for k in range(1, n) for c in itertools.combinations(items, k)]


def values_for(name: str, kind: str, default: Any, others: dict[str, dict[str, Any]],
               data: Iterable[Path] = ()) -> list[tuple[Any, str]]:
    """The values tried for one parameter: derived from its type and default, the defaults of other
    parameters of its type, and :data:`EXTRA`; each once, the default itself left out."""
    found: list[tuple[Any, str]] = []
    if name == "output_dir":  # the runner sets it; only the wrong kind of value is tried
        return list(EXTRA["output_dir"])
    if kind == "int" and isinstance(default, int) and default > 1:
        found.append((1, VALID))  # the smallest size
    elif kind == "float" and isinstance(default, float) and default != 0:
        found.append((0.0, VALID))
    elif kind == "bool" and isinstance(default, bool):
        found.append((not default, VALID))
    elif kind == "list" and isinstance(default, list):
        found += [(s, VALID) for s in _subsets(default)] + [([], VALID if name in EMPTY_LIST_VALID else BAD)]
    for other, p in others.items():  # the default of another parameter of the same type
        v = p["default"]
        if other == name or p["type"] != kind or kind not in ("int", "float") or isinstance(v, bool):
            continue
        if kind == "float" or (isinstance(default, int) and isinstance(v, int) and 1 <= v <= default):
            found.append((v, VALID))
    found += EXTRA.get(name, [])
    if name == "data":  # relative to the repository root, as the notebooks read it
        found += [(os.path.relpath(f, results.repo_root()), VALID) for f in data]
    found += [(v, BAD) for v in _WRONG_TYPE.get(kind, ())]
    seen: set[str] = {repr(default)}
    unique = []
    for value, expected in found:
        key = repr(value)
        if key not in seen:
            seen.add(key)
            unique.append((value, expected))
    return unique


def cases(notebooks: Iterable[Path], only: Sequence[str] = (), data: Iterable[Path] | None = None) -> list[Case]:
    """Every (notebook, parameter, value) to run; ``only`` limits the parameters by name."""
    data = data_files() if data is None else list(data)
    out = []
    for nb in notebooks:
        params = parameters(nb)
        for name, p in params.items():
            if only and name not in only:
                continue
            for value, expected in values_for(name, p["type"], p["default"], params, data):
                out.append(Case(Path(nb), name, value, expected))
    return out


def write_demo_csv(path: Path, n: int = 400, seed: int = 0) -> Path:
    """A small tabular multi-label ``.csv`` (8 features, 4 labels that depend on them)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    W = rng.normal(size=(8, 4))
    Y = (X @ W + rng.normal(scale=0.5, size=(n, 4)) > 0.8).astype(int)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    for j in range(4):
        frame[f"label_{j}"] = Y[:, j]
    frame.to_csv(path, index=False)
    return path


def names(parameter: str, message: str) -> bool:
    """Whether ``message`` names ``parameter`` as a word (``epochs=``, `` `epochs` ``), not as part of
    a longer name or of a path (a run folder called ``..._output_dir`` does not count)."""
    return re.search(rf"(?<![\w/.-]){re.escape(parameter)}(?![\w/-]|\.\w)", message) is not None


def readers_data(case: Case) -> bool:
    """Whether the case runs on a reader's data (``data`` set to a file, not one of the book's own)."""
    from helpers import claims as claims_mod

    return case.parameter == "data" and case.value not in claims_mod.BOOK_DATA


def classify(case: Case, error: dict[str, str] | None, claims: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The outcome of one run: ``ok`` (claims' counts), ``ok with failed claims`` (the run reached its
    last cell, which may then have failed naming them; the ids in the detail), ``refused`` (one line
    naming the parameter), ``FAILED claim`` (stopped at a claim) or ``crash``; ``good`` says whether
    that is what a reader should get (see the module docstring)."""
    from helpers import claims as claims_mod

    ename, evalue = (error or {}).get("ename", ""), str((error or {}).get("evalue", ""))
    if error is None or (ename == "ClaimFailed" and evalue.startswith(claims_mod.ENDED_WITH_FAILURES)):
        held = sum(c.get("status") == "held" for c in claims)
        na = sum(c.get("status") == "not applicable" for c in claims)
        failed = [str(c.get("id")) for c in claims if c.get("status") == "failed"]
        if failed:
            detail = f"{held} held, {len(failed)} failed ({', '.join(failed)}), {na} n.a."
            if case.expected == BAD:
                detail += "; a wrong value was accepted"
            elif not readers_data(case):
                detail += "; the last cell failed naming them" if error else "; recorded on the book's own data"
            return {"outcome": OK_FAILED, "detail": detail, "good": case.expected == VALID}
        detail = f"{held} held, {na} n.a."
        if case.expected == BAD:
            detail += "; a wrong value was accepted"
        return {"outcome": "ok", "detail": detail, "good": case.expected == VALID}
    if ename == "ClaimFailed":
        first = evalue.splitlines()[0][:200] if evalue else ""
        if case.parameter == "on_failed_claim" and case.value == "stop" and case.expected == VALID:
            # what 'stop' is for: the run stopped at the first failed claim, naming it (a finding, as above)
            return {"outcome": "FAILED claim", "detail": f"stopped as asked; {first}", "good": True}
        return {"outcome": "FAILED claim", "detail": first, "good": False}
    if evalue and "\n" not in evalue.strip() and names(case.parameter, evalue):
        return {"outcome": "refused", "detail": f"{ename}: {evalue}", "good": True}
    last = evalue.strip().splitlines()[-1] if evalue.strip() else ""
    return {"outcome": "crash", "detail": f"{ename}: {last}"[:300], "good": False}


ROW_NAME = "row.json"  # each case's classified row, written into its folder when the run ends


def case_key(case: Case) -> dict[str, str]:
    """What identifies a case in its folder's ``row.json`` (a resumed run reuses a row only when it matches);
    the notebook by its file name, so that a run can be resumed or tabled from another checkout."""
    return {"notebook": case.notebook.name, "parameter": case.parameter, "value": repr(case.value),
            "expected": case.expected}


def _same_case(saved: dict[str, Any], case: Case) -> bool:
    """Whether a saved key names ``case`` (keys written before the file-name rule hold the notebook's path)."""
    if not isinstance(saved, dict) or not isinstance(saved.get("notebook"), str):
        return False
    return {**saved, "notebook": Path(saved["notebook"]).name} == case_key(case)


def case_folder(out_root: Path, number: int) -> Path:
    """The folder of case ``number`` (its number in ``--list``, whatever ``--pick`` selected) under ``out_root``."""
    return out_root / f"case_{number:03d}"


def finished_rows(todo: Sequence[Case], out_root: Path, numbers: Sequence[int] | None = None,
                  commit: str | None = None) -> dict[int, dict[str, Any]]:
    """The rows of the cases already run under ``out_root`` (``--resume``): case ``i`` counts as run when
    ``case_NNN/row.json`` exists and names the same case at the same commit (``commit``, default this
    checkout's; a prefix of it is enough); anything else is run again."""
    commit = commit or results.git_commit()
    numbers = range(len(todo)) if numbers is None else numbers
    done = {}
    for i, c in enumerate(todo):
        saved = _saved_row(case_folder(out_root, numbers[i]) / ROW_NAME, commit)
        if saved is not None and _same_case(saved.get("key"), c):
            done[i] = saved["row"]
    return done


def _saved_row(path: Path, commit: str) -> dict[str, Any] | None:
    """A case folder's ``row.json`` when it was made at ``commit`` (either one a prefix of the other), else None."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    made = str(saved.get("commit") or "") if isinstance(saved, dict) else ""
    return saved if commit and made and (made.startswith(commit) or commit.startswith(made)) else None


def rows_from(todo: Sequence[Case], sources: Sequence[tuple[Path, str]]) -> dict[int, dict[str, Any]]:
    """The rows of ``todo`` found in several run folders (``--done --from DIR@COMMIT ...``): each source is a
    folder of runs and the commit its rows were made at (a prefix is enough); a case is found by its key,
    whatever the numbers of the folders (the list of cases may have changed between the commits), and a
    later source replaces an earlier one for the same case. Each row gets its ``commit`` (7 characters)."""
    keys = {json.dumps(case_key(c), sort_keys=True): i for i, c in enumerate(todo)}
    found: dict[int, dict[str, Any]] = {}
    for folder, commit in sources:
        for path in sorted(Path(folder).glob(f"case_*/{ROW_NAME}")):
            saved = _saved_row(path, commit)
            key = saved.get("key") if saved is not None else None
            if not isinstance(key, dict):
                continue
            if isinstance(key.get("notebook"), str):
                key = {**key, "notebook": Path(key["notebook"]).name}  # older keys hold the notebook's path
            i = keys.get(json.dumps(key, sort_keys=True))
            if i is not None:
                found[i] = {**saved["row"], "commit": str(saved["commit"])[:7]}
    return found


def rows_from_table(todo: Sequence[Case], path: Path, option: str = "--from-table") -> dict[int, dict[str, Any]]:
    """The rows of ``todo`` in a table written earlier (``--done --from-table table.csv``): the committed
    record of runs whose folders are gone (a run folder outside the repository does not outlive its
    machine). A row is matched to a case by notebook, parameter, value as shown and expected; cases whose
    shown values are the same (long values are shown cut) are matched in the order of the list, which is
    the order the table was written in. Rows naming no case of today's list are not read; a row with no
    commit (the table of one run, whose commit heads ``table.txt``) is refused: every row keeps its commit.
    Raises ``ValueError`` naming the file when it is not such a table."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{option} {path}: cannot read it as a table.csv of this module ({e})") from None
    lacking = [c for c in COLUMNS if c not in frame.columns]
    if lacking:
        raise ValueError(f"{option} {path}: not a table.csv of this module (no column {', '.join(lacking)})")
    if (frame["commit"] == "").any():
        raise ValueError(f"{option} {path}: {int((frame['commit'] == '').sum())} rows name no commit (the "
                         f"table of a single run); table that run from its folder with --from DIR@COMMIT")
    slots: dict[tuple[str, str, str, str], list[int]] = {}
    for i, c in enumerate(todo):
        slots.setdefault((c.notebook.stem, c.parameter, c.shown, c.expected), []).append(i)
    found: dict[int, dict[str, Any]] = {}
    for rec in frame.to_dict("records"):
        free = slots.get((rec["notebook"], rec["parameter"], rec["value"], rec["expected"]))
        if free:
            found[free.pop(0)] = {**rec, "good": rec["good"] == "True", "wall_s": float(rec["wall_s"] or "nan")}
    return found


def _run_case(case: Case, folder: Path, threads: int | None) -> dict[str, Any]:
    """Pool task: run one case into ``folder`` and classify it (never raises); the row is also written to
    ``folder/row.json`` with the case and the commit, so that ``--resume`` can skip it."""
    row = _run_case_row(case, folder, threads)
    saved = {"key": case_key(case), "commit": results.git_commit(), "row": row}
    results.write_bytes_atomic(folder / ROW_NAME, json.dumps(saved, indent=1).encode("utf-8"))
    return row


def _run_case_row(case: Case, folder: Path, threads: int | None) -> dict[str, Any]:
    """Run one case into ``folder`` and classify it (never raises)."""
    import papermill as pm

    from helpers import claims as claims_mod
    from helpers import kernels

    folder.mkdir(parents=True, exist_ok=True)
    out_dir = folder / "out"
    value = case.value
    if value == EXISTING_FILE:
        value = str(folder / "a_file")
        Path(value).write_text("not a folder")
    elif value == CSV_DATA:
        value = str(write_demo_csv(folder / "demo.csv"))
    params = {case.parameter: value}
    if case.parameter != "output_dir":
        params["output_dir"] = str(out_dir)
    t0 = time.perf_counter()
    error = None
    try:
        pm.execute_notebook(str(case.notebook), str(folder / case.notebook.name), parameters=params,
                            kernel_name="python3", cwd=str(case.notebook.parent), progress_bar=False,
                            log_output=False,
                            kernel_manager_class=kernels.kernel_manager_class(
                                kernels.kernel_env(threads, case.notebook.resolve().parent)))
    except pm.PapermillExecutionError as e:
        error = {"ename": e.ename, "evalue": e.evalue}
    except Exception as e:  # a kernel that died, a notebook that cannot be read
        error = {"ename": type(e).__name__, "evalue": str(e)}
    try:
        claims = claims_mod.read_claims(out_dir) if (out_dir / claims_mod.CLAIMS_NAME).exists() else []
    except ValueError:
        claims = []
    return {"notebook": case.notebook.stem, "parameter": case.parameter, "value": case.shown,
            "expected": case.expected, **classify(case, error, claims),
            "wall_s": round(time.perf_counter() - t0, 1)}


COLUMNS = ["notebook", "parameter", "value", "expected", "outcome", "detail", "good", "wall_s", "commit"]


def table(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a table in notebook, parameter order (the order the cases were made); ``commit`` is the
    commit each row was made at (empty for the rows of this run, whose commit heads the table)."""
    return pd.DataFrame([{"commit": "", **r} for r in rows], columns=COLUMNS)


def format_table(frame: pd.DataFrame) -> str:
    """The table as printed: one line per case, and a count of outcomes at the end."""
    shown = frame.assign(good=frame["good"].map({True: "yes", False: "NO"}))
    counts = frame["outcome"].value_counts()
    bad = int((~frame["good"].astype(bool)).sum())
    findings = int((frame["outcome"].isin([OK_FAILED, "FAILED claim"]) & frame["good"].astype(bool)).sum())
    summary = (f"{len(frame)} runs: " + ", ".join(f"{n} {o}" for o, n in counts.items())
               + f"; {bad} not good" + (f"; findings: {findings} valid values with failed claims" if findings else ""))
    left = {}
    for c in ("notebook", "parameter", "value", "expected", "outcome", "detail"):
        width = int(shown[c].astype(str).str.len().max()) if len(shown) else 0
        left[c] = (lambda w: lambda v: f"{v!s:<{w}}")(width)  # text columns read left-aligned
    with pd.option_context("display.max_colwidth", 400, "display.width", 400):
        return shown.to_string(index=False, formatters=left, justify="left") + "\n" + summary


def run_cases(todo: Sequence[Case], out_root: Path, workers: int = 1,
              progress: bool = True, resume: bool = False, numbers: Sequence[int] | None = None) -> pd.DataFrame:
    """Run the cases side by side (``workers`` kernels) under ``out_root``, one folder per case; with
    ``resume``, the cases already run there at this commit (:func:`finished_rows`) are not run again.
    ``numbers``: each case's number in the full list (its folder's name), default its position in ``todo``."""
    import multiprocessing

    from helpers import book, kernels

    root = results.repo_root() / "outputs"
    if out_root.resolve() == root or root in out_root.resolve().parents:
        raise ValueError(f"{out_root}: the parameter runs go to a temporary folder, never into the book's outputs/")
    threads = None if workers == 1 else kernels.threads_per_worker(workers)
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    numbers = range(len(todo)) if numbers is None else numbers
    if len(numbers) != len(todo):
        raise ValueError(f"{len(numbers)} case numbers for {len(todo)} cases")
    rows: dict[int, dict[str, Any]] = finished_rows(todo, out_root, numbers) if resume else {}
    if progress and rows:
        print(f"resuming in {out_root}: {len(rows)} of {len(todo)} cases already run at this commit",
              file=sys.stderr, flush=True)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=book._ignore_sigint) as pool:
        futures = {pool.submit(_run_case, c, case_folder(out_root, numbers[i]), threads): i
                   for i, c in enumerate(todo) if i not in rows}
        try:
            for fut in as_completed(futures):
                i = futures[fut]
                rows[i] = fut.result()
                if progress:
                    r = rows[i]
                    print(f"{len(rows)}/{len(todo)}  {r['notebook']}  {r['parameter']}={r['value']}: "
                          f"{r['outcome']} ({r['detail'][:100]})", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            book._stop_workers(pool)
            raise
    return table(rows[i] for i in sorted(rows))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.param_sweep", description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="notebooks (paths or patterns; default: every numbered one)")
    ap.add_argument("--params", default="", help="only these parameters, comma-separated (e.g. tail,epochs)")
    ap.add_argument("--max-values", type=int, default=None, help="at most this many values per parameter")
    ap.add_argument("--workers", type=int, default=1, help="notebooks run side by side (default 1)")
    ap.add_argument("--out", default=None, help="folder for the runs (default: a new temporary folder)")
    ap.add_argument("--resume", action="store_true",
                    help="with --out: skip the cases already run there at this commit (a long run split over days)")
    ap.add_argument("--done", action="store_true",
                    help="with --out: print (and --table: write) the table of the cases already run there at this "
                         "commit, and run nothing")
    ap.add_argument("--at", default=None,
                    help="with --done: table the rows made at this commit instead of this checkout's (a run "
                         "made from another checkout)")
    ap.add_argument("--from", dest="sources", action="append", default=[], metavar="DIR@COMMIT",
                    help="with --done: the rows made at COMMIT in the run folder DIR; repeat it to table the rows of "
                         "several runs together (a later one replaces an earlier one for the same case); each row "
                         "names its commit")
    ap.add_argument("--from-table", dest="from_table", default=None, metavar="CSV",
                    help="with --done: start from the rows of a table.csv written earlier (each naming its commit; "
                         "e.g. the committed evidence/test_params/table.csv); --from runs replace its rows case "
                         "by case")
    ap.add_argument("--not-in", dest="not_in", default=None, metavar="CSV",
                    help="run only the cases with no row in this table.csv (e.g. the committed "
                         "evidence/test_params/table.csv): finish a table whose earlier run folders are gone; "
                         "--table then writes that table's rows and this run's together")
    ap.add_argument("--table", default=None, help="also write table.csv and table.txt into this folder")
    ap.add_argument("--label", default="", help="a first line for table.txt (e.g. 'partial: notebook 01 only')")
    ap.add_argument("--pick", default="", help="only the cases with these numbers (as --list shows them), e.g. 0,3")
    ap.add_argument("--list", action="store_true", help="list the cases, numbered, and run nothing")
    a = ap.parse_args(argv)
    if a.workers < 1:
        ap.error(f"--workers must be at least 1, got {a.workers}")
    try:
        nbs = book_notebooks(a.notebooks)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    only = [p.strip() for p in a.params.split(",") if p.strip()]
    todo = cases(nbs, only)
    if a.max_values is not None:
        per: dict[tuple[Path, str], int] = {}
        kept = []
        for c in todo:
            k = per[(c.notebook, c.parameter)] = per.get((c.notebook, c.parameter), 0) + 1
            if k <= a.max_values:
                kept.append(c)
        todo = kept
    numbers = list(range(len(todo)))  # each case keeps its number (and folder) whatever --pick selects
    if a.pick:
        try:
            numbers = [int(i) for i in a.pick.split(",")]
            todo = [todo[i] for i in numbers]
        except (ValueError, IndexError):
            print(f"error: --pick {a.pick!r}: give case numbers from 0 to {len(todo) - 1}, comma-separated",
                  file=sys.stderr)
            return 2
    if a.not_in:
        if a.done:
            print("error: --not-in runs the cases a table lacks; to table rows use --done --from-table",
                  file=sys.stderr)
            return 2
        try:
            have = rows_from_table(todo, Path(a.not_in), "--not-in")
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        carried = {n: have[i] for i, n in enumerate(numbers) if i in have}  # by number in the full list
        numbers = [n for i, n in enumerate(numbers) if i not in have]
        todo = [c for i, c in enumerate(todo) if i not in have]
        if not todo:
            print(f"every case of this list has a row in {a.not_in}: nothing to run", file=sys.stderr)
            return 0
    if not todo:
        print("error: no cases (check the notebooks and --params)", file=sys.stderr)
        return 2
    if a.list:
        for i, c in zip(numbers, todo, strict=True):
            print(f"{i:4d}  {c.notebook.stem}  {c.parameter}={c.shown}  ({c.expected})")
        return 0
    if (a.sources or a.from_table) and not a.done:
        print(f"error: {'--from' if a.sources else '--from-table'} goes with --done (it tables rows already made)",
              file=sys.stderr)
        return 2
    if (a.resume or a.done) and not a.out and not a.sources and not a.from_table:
        print(f"error: {'--resume' if a.resume else '--done'} needs --out, the folder of the runs", file=sys.stderr)
        return 2
    if a.at and not a.done:
        print("error: --at goes with --done (a resumed run runs at this checkout's commit)", file=sys.stderr)
        return 2
    if a.done and (a.sources or a.from_table):  # rows of several runs (other commits, case lists), each with its commit
        sources = []
        for src in a.sources:
            folder, sep, commit = src.rpartition("@")
            if not sep or not folder or not commit or not Path(folder).is_dir():
                print(f"error: --from {src!r}: give DIR@COMMIT, the folder of a run and the commit its rows were "
                      f"made at", file=sys.stderr)
                return 2
            sources.append((Path(folder), commit))
        try:
            found = rows_from_table(todo, Path(a.from_table)) if a.from_table else {}
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        found.update(rows_from(todo, sources))
        if not found:
            named = ([a.from_table] if a.from_table else []) + a.sources
            print(f"error: no case of this list has rows in {', '.join(named)}", file=sys.stderr)
            return 2
        a.at = ", ".join(sorted({r["commit"] for r in found.values()}))
        frame = table(found[i] for i in sorted(found))
        missing = [f"{todo[i].notebook.stem} {todo[i].parameter}={todo[i].shown}" for i in range(len(todo)) if i not in found]
        text = format_table(frame) + f" (of {len(todo)} cases listed)"
        if missing:
            text += f"\nnot run yet: {len(missing)} cases, the first {', '.join(missing[:5])}"
        print(text)
        _write_table(a, frame, text)
        return 0 if frame["good"].all() else 1
    out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="helpers-param-sweep-"))
    if a.done:  # the table so far of a run split over days: only the cases already run there at that commit
        found = finished_rows(todo, out, numbers, commit=a.at)
        if not found:
            print(f"error: no case of this list has been run in {out} at commit {a.at or results.git_commit()}",
                  file=sys.stderr)
            return 2
        frame = table(found[i] for i in sorted(found))
        text = format_table(frame) + f" (of {len(todo)} cases listed)"
        print(text)
        _write_table(a, frame, text)
        return 0 if frame["good"].all() else 1
    try:
        frame = run_cases(todo, out, workers=a.workers, resume=a.resume, numbers=numbers)
    except KeyboardInterrupt:
        print(f"interrupted; the runs so far are in {out}", file=sys.stderr)
        return 130
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.not_in:  # the table finished: its rows and this run's, in the list's order, each naming its commit
        commit = results.git_commit()[:7]
        made = {n: {**r, "commit": commit} for n, r in zip(numbers, frame.to_dict("records"), strict=True)}
        merged = {**carried, **made}
        frame = table(merged[n] for n in sorted(merged))
        a.at = ", ".join(sorted({str(r["commit"]) for r in merged.values()}))
    text = format_table(frame)
    print(text)
    print(f"runs in {out}", file=sys.stderr)
    _write_table(a, frame, text)
    return 0 if frame["good"].all() else 1


def _write_table(a: argparse.Namespace, frame: pd.DataFrame, text: str) -> None:
    """``--table DIR``: write table.csv and table.txt (with ``--label`` and the commit as its first lines)."""
    if not a.table:
        return
    dest = Path(a.table)
    dest.mkdir(parents=True, exist_ok=True)
    results.write_bytes_atomic(dest / "table.csv", frame.to_csv(index=False).encode("utf-8"))
    header = (a.label + "\n" if a.label else "") + f"commit {a.at or results.git_commit()}\n\n"  # --from: each one
    results.write_bytes_atomic(dest / "table.txt", (header + text + "\n").encode("utf-8"))


if __name__ == "__main__":
    raise SystemExit(main())
