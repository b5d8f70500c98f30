"""Sweep storage: the sweep folder on the client (run folders, ``status.json``, ``results.csv``,
``sweep.json``), the checks that it may be written, and the lock that gives it one writer.

Every file goes through :func:`helpers.results.write_bytes_atomic`. A run is complete exactly
when its ``status.json`` exists (written last). The folder belongs to one sweep (its notebook and
spec, recorded in ``sweep.json``); another sweep is refused there unless forced.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.results import display_path, read_json, remove_stale_temps, write_bytes_atomic, write_json_atomic
from helpers.sweep.spec import STATUS_NAME, Run, SpecError, SweepSpec, _read_status, _resolve

RESULTS_NAME = "results.csv"
MANIFEST_NAME = "sweep.json"
LOCK_NAME = ".sweep.lock"


class OutputError(SpecError):
    """The sweep's output folder cannot be used: not writable, not a folder, or another sweep's."""


def _output_problem(out: Path) -> str | None:
    """Why ``out`` cannot be the sweep folder (without creating anything), or None."""
    p = out
    while not p.exists():
        if p.is_symlink() or p == p.parent:
            return "its parent folders cannot be created"
        p = p.parent
    if not p.is_dir():
        return f"{display_path(p)} is a file, not a folder" if p != out else "it is a file, not a folder"
    if not os.access(p, os.W_OK | os.X_OK):
        return "it is not writable" if p == out else f"{display_path(p)} is not writable"
    return None


def check_output(spec: SweepSpec, *, force: bool = False) -> None:
    """Raise :class:`OutputError` if the spec's output folder cannot be written, or holds the runs
    of another notebook or spec (its ``sweep.json``, or run folders' ``status.json``) and
    ``force`` is not set: a second sweep there would overwrite ``results.csv`` and ``sweep.json``
    and mix the two sweeps' runs."""
    out = spec.output
    problem = _output_problem(out)
    if problem:
        raise OutputError(f"{display_path(out)}: cannot write the sweep's output there: {problem}; "
                          "choose another folder (--out DIR)")
    if force or not out.is_dir():
        return
    owner: dict[str, Any] = {}
    with contextlib.suppress(FileNotFoundError, ValueError, AttributeError):
        owner = dict(read_json(out / MANIFEST_NAME))
    if owner:
        other_spec, other_nb = owner.get("spec"), owner.get("notebook")
        if other_nb != spec.notebook or (other_spec and other_spec != str(spec.path)):
            raise OutputError(
                f"{display_path(out)}: holds the runs of another sweep (spec {other_spec}, notebook {other_nb}); "
                "writing there would overwrite its results.csv and sweep.json and mix the runs. "
                "Choose another folder (--out DIR), or pass --force to write there anyway")
        return
    for status in sorted(out.glob(f"*/{STATUS_NAME}")):
        st = _read_status(status.parent) or {}
        if st.get("notebook") not in (None, spec.notebook):
            raise OutputError(
                f"{display_path(out)}: holds runs of another notebook ({st.get('notebook')}, e.g. "
                f"{status.parent.name}); writing there would mix the runs. Choose another folder "
                "(--out DIR), or pass --force to write there anyway")


def clean_stale_temps(out: Path) -> list[Path]:
    """Remove the temporary files of atomic writes that a killed sweep left in the sweep folder
    and its run folders. Called under the sweep's lock, when no other writer can be there."""
    removed = remove_stale_temps(out, any_pid=True)
    for folder in out.iterdir():
        if folder.is_dir():
            removed += remove_stale_temps(folder, any_pid=True, recursive=True)
    return removed


@contextlib.contextmanager
def sweep_lock(out: Path) -> Iterator[None]:
    """One sweep process per output folder at a time (released when the process dies)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(out / LOCK_NAME, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another sweep is writing to {display_path(out)}; wait for it or stop it") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _run_ids(out: Path) -> list[str]:
    manifest = out / MANIFEST_NAME
    if manifest.exists():
        return [r["run_id"] for r in read_json(manifest).get("runs", [])]
    return sorted(p.parent.name for p in out.glob(f"*/{STATUS_NAME}"))



def _write_run(spec: SweepSpec, run: Run, result: Mapping[str, Any]) -> dict[str, Any]:
    """Write a run's files into its folder, then ``status.json`` last. Returns the status."""
    folder = run.folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATUS_NAME).unlink(missing_ok=True)  # incomplete until the new status lands
    root = folder.resolve()
    written: set[str] = set()
    left_out = list(result.get("files_left_out", []))
    for rel, data in result.get("files", []):
        dest = (folder / rel).resolve()
        if rel == STATUS_NAME or root not in dest.parents:
            left_out.append(f"{rel} (not a plain file name inside the run folder)")
            continue
        write_bytes_atomic(dest, data)
        written.add(Path(rel).as_posix())
    for p in sorted(folder.rglob("*"), reverse=True):  # files from an earlier attempt
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel not in written and rel != STATUS_NAME:
            p.unlink()
        elif p.is_dir() and not any(p.iterdir()):
            p.rmdir()
    status = {
        "run_id": run.run_id,
        "status": result["status"],
        "error": result.get("error"),
        "notebook": spec.notebook,
        "executed_notebook": result.get("executed_notebook"),
        "params": run.params,
        "grid": run.grid,
        "params_hash": run.params_hash,
        "sweep": spec.name,
        "started": result.get("started"),
        "finished": result.get("finished"),
        "seconds": result.get("seconds"),
        "attempts": result.get("attempts"),
        "host": result.get("host"),
        "pid": result.get("pid"),
        "threads": result.get("threads"),
        "worker_output_dir": result.get("worker_output_dir"),
        "files": sorted(written),
        "files_left_out": left_out,
    }
    write_json_atomic(folder / STATUS_NAME, status)
    return status


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, bool | int | float | str)


def _run_rows(folder: Path, status: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The results-table rows of one complete run folder (none if it is not complete)."""
    st = status if status is not None else _read_status(folder)
    if not st or st.get("status") not in ("ok", "failed"):
        return []
    params = st.get("params") or {}
    base: dict[str, Any] = {"run_id": st.get("run_id", folder.name), "status": st["status"]}
    base.update({k: v if _scalar(v) else json.dumps(v) for k, v in params.items()})
    err = st.get("error") or {}
    tail = {"seconds": st.get("seconds"),
            "error": f"{err.get('type')}: {err.get('message')}" if err else None}
    entries: list[Any] = []
    if st["status"] == "ok":
        with contextlib.suppress(FileNotFoundError, ValueError):
            entries = read_json(folder / "metrics.json").get("results", [])
    if not entries:
        return [{**base, "setup": None, **tail}]
    rows = []
    for r in entries:
        row = {**base, "setup": r.get("setup")}
        for k, v in r.items():
            if k != "setup" and _scalar(v):
                row[k if k not in base and k not in tail else f"result.{k}"] = v
        rows.append({**row, **tail})
    return rows


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=["run_id", "status", "setup", "seconds", "error"])
    tail = [c for c in ("seconds", "error") if c in df.columns]
    return df[[c for c in df.columns if c not in tail] + tail]


def _write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    write_bytes_atomic(path, df.to_csv(index=False).encode("utf-8"))


def read_results(out_dir: str | os.PathLike) -> pd.DataFrame:
    """The results table of a sweep folder, rebuilt from its runs' ``status.json`` files (so it
    also holds runs a killed sweep completed after its last ``results.csv``): a row per run and
    setup, the runs of the sweep's last plan (``sweep.json``) in grid order, else every run."""
    out = _resolve(out_dir)
    if not out.is_dir():
        raise FileNotFoundError(f"no sweep folder at {display_path(out)}: run the sweep first")
    rows = [row for rid in _run_ids(out) for row in _run_rows(out / rid)]
    return _frame(rows)

