"""Running a sweep: plan, skip what is done, execute the rest on Dask, write each run as it lands.

:func:`run_sweep` is the one entry point (the CLI in :mod:`helpers.sweep.cli` calls it). It holds
the sweep folder's lock for the whole call, removes temp files a killed earlier call left there,
keeps the earlier rows of ``results.csv`` until their replacements land (an interrupted
``--rerun-failed`` loses nothing), and rewrites the table atomically after every run.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.results import display_path, write_json_atomic
from helpers.sweep.cluster import _dask_client
from helpers.sweep.execution import (
    _error_info,
    _host_threads,
    _notebook_text,
    _now,
    execute_run,
)
from helpers.sweep.spec import Run, SweepSpec, _read_status, load_spec, plan
from helpers.sweep.storage import (
    MANIFEST_NAME,
    RESULTS_NAME,
    OutputError,
    _frame,
    _run_rows,
    _write_csv_atomic,
    _write_run,
    check_output,
    clean_stale_temps,
    sweep_lock,
)


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: ``results`` is the table written to ``results_path``;
    ``counts`` has ok / failed (this call), skipped_ok / skipped_failed (earlier calls), total."""

    spec: SweepSpec
    runs: list[Run]
    statuses: dict[str, dict[str, Any]]
    results: pd.DataFrame
    counts: dict[str, int]
    results_path: Path
    seconds: float

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Statuses of the sweep's failed runs (this call and skipped earlier failures)."""
        return [s for s in self.statuses.values() if s.get("status") == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed and len(self.statuses) == len(self.runs)

    def summary(self) -> str:
        return _summary(self.spec, self.runs, self.statuses, self.counts, self.results_path, self.seconds)


def _print_flush(line: str) -> None:
    print(line, flush=True)


def _summary(spec: SweepSpec, runs: Sequence[Run], statuses: Mapping[str, Mapping[str, Any]],
             counts: Mapping[str, int], results_path: Path, seconds: float, interrupted: bool = False) -> str:
    lines = [
        f"sweep {spec.name}: {len(runs)} runs of {spec.notebook} -> {display_path(spec.output)}"
        + (" (INTERRUPTED)" if interrupted else ""),
        f"  ok {counts['ok']}, failed {counts['failed']} (this call, {seconds:.1f} s); skipped "
        f"{counts['skipped_ok']} done earlier, {counts['skipped_failed']} failed earlier"
        + (f"; not run {counts['not_run']}" if counts.get("not_run") else ""),
    ]
    failed = [(rid, s) for rid, s in statuses.items() if s.get("status") == "failed"]
    if failed:
        lines.append("  failed runs (executed notebooks show the traceback):")
        for rid, s in failed:
            err = s.get("error") or {}
            nb = spec.output / rid / (s.get("executed_notebook") or "")
            lines.append(f"    {display_path(nb) if s.get('executed_notebook') else display_path(spec.output / rid)}"
                         f"  {err.get('type')}: {str(err.get('message'))[:200]}")
        if counts["skipped_failed"]:
            lines.append("  (earlier failures are skipped; retry them with --rerun-failed / rerun_failed=True)")
    if interrupted or counts.get("not_run"):
        lines.append("  rerun the same command to do the remaining runs (completed runs are kept)")
    lines.append(f"  results: {display_path(results_path)}")
    return "\n".join(lines)



def run_sweep(
    spec_or_path: SweepSpec | str | os.PathLike,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    rerun_failed: bool = False,
    progress: bool = True,
    force: bool = False,
    threads: int | None = None,
) -> SweepResult:
    """Run a sweep: validate, skip completed runs, execute the rest on a local Dask cluster
    (``workers`` processes, default one per core) or on the cluster at ``scheduler``
    (``tcp://host:8786``), writing each run's folder and ``results.csv`` as runs finish.

    Each kernel gets ``cores // workers`` torch threads on its machine, or ``threads`` when given.
    Results depend on the thread count (float sums run in another order), so runs meant to be compared
    with each other or regenerated later (``make evidence``) fix it.

    A failing run is recorded and does not stop the others. On KeyboardInterrupt the cluster is
    closed, the summary of what completed is printed, and the interrupt is re-raised. A line per
    finished run is printed as it lands. Raises :class:`~helpers.sweep.spec.SpecError` for a bad
    spec, :class:`~helpers.sweep.storage.OutputError` when the output folder cannot be written or
    holds another sweep's runs (``force=True`` writes there anyway), and
    :class:`~helpers.sweep.execution.SchedulerError` when no scheduler answers at ``scheduler``.
    """
    spec = spec_or_path if isinstance(spec_or_path, SweepSpec) else load_spec(spec_or_path)
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a whole number of at least 1, got {threads!r}")
    t0 = time.perf_counter()
    runs = plan(spec)
    todo = [r for r in runs if r.will_run(rerun_failed)]
    counts = {"total": len(runs), "ok": 0, "failed": 0, "not_run": 0,
              "skipped_ok": sum(r.previous == "ok" for r in runs),
              "skipped_failed": sum(r.previous == "failed" and not rerun_failed for r in runs)}
    check_output(spec, force=force)
    results_path = spec.output / RESULTS_NAME
    statuses: dict[str, dict[str, Any]] = {}
    rows: dict[str, list[dict[str, Any]]] = {}
    with contextlib.ExitStack() as stack:
        with _output_errors(spec.output):
            spec.output.mkdir(parents=True, exist_ok=True)
            stack.enter_context(sweep_lock(spec.output))
        return _run_locked(spec, runs, todo, counts, statuses, rows, results_path, t0,
                           workers=workers, scheduler=scheduler, rerun_failed=rerun_failed, progress=progress,
                           threads=threads)


def kernel_threads(by_host: dict[str, int], threads: int | None) -> dict[str, int]:
    """Torch threads per kernel on each machine: the cluster's share (cores over worker threads), or
    ``threads`` on every machine when given."""
    return dict(by_host) if threads is None else {host: threads for host in by_host}


@contextlib.contextmanager
def _output_errors(out: Path) -> Iterator[None]:
    """OSErrors creating or locking the sweep folder, as one-line :class:`OutputError`."""
    try:
        yield
    except OSError as e:
        raise OutputError(f"{display_path(out)}: cannot write the sweep's output there ({e.strerror or e}); "
                          "choose another folder (--out DIR)") from None


def _run_locked(spec: SweepSpec, runs: list[Run], todo: list[Run], counts: dict[str, int],
                statuses: dict[str, dict[str, Any]], rows: dict[str, list[dict[str, Any]]], results_path: Path,
                t0: float, *, workers: int | None, scheduler: str | None, rerun_failed: bool,
                progress: bool, threads: int | None = None) -> SweepResult:
    from distributed import as_completed
    from tqdm.auto import tqdm

    def publish() -> pd.DataFrame:
        df = _frame([row for r in runs for row in rows.get(r.run_id, [])])
        _write_csv_atomic(df, results_path)
        return df

    # Under the sweep lock (run_sweep).
    clean_stale_temps(spec.output)  # left by a killed earlier call: nobody else writes here
    write_json_atomic(spec.output / MANIFEST_NAME, {
        "sweep": spec.name, "spec": str(spec.path), "notebook": spec.notebook,
        "description": spec.description, "parameters": spec.parameters, "grid": spec.grid,
        "updated": _now(), "runs": [{"run_id": r.run_id, "params": r.params} for r in runs],
    })
    for r in runs:
        st = _read_status(r.folder) if r.previous else None
        if st and not r.will_run(rerun_failed):
            statuses[r.run_id] = st
        if st:  # a run to redo keeps its earlier row until its replacement lands
            rows[r.run_id] = _run_rows(r.folder, st)
    df = publish()
    if not todo:
        seconds = time.perf_counter() - t0
        print(_summary(spec, runs, statuses, counts, results_path, seconds))
        return SweepResult(spec, runs, statuses, df, counts, results_path, seconds)

    text = _notebook_text(spec)
    finished_before = {r.run_id: (_read_status(r.folder) or {}).get("finished") for r in todo}
    bar = tqdm(total=len(todo), unit="run", desc=spec.name, disable=not progress, dynamic_ncols=True)
    try:
        with _dask_client(scheduler, min(workers or _host_threads()[1], len(todo))) as (client, by_host):
            by_host = kernel_threads(by_host, threads)
            futures = {}
            for r in todo:
                task = {"run_id": r.run_id, "notebook": spec.notebook, "notebook_text": text,
                        "notebook_dir": str(spec.notebook_path.parent), "params": r.params,
                        "threads": by_host}
                key = f"sweep-{spec.name}-{r.run_id}-{os.urandom(4).hex()}"
                futures[client.submit(execute_run, task, key=key, pure=False)] = r
            for fut in as_completed(list(futures)):
                r = futures.pop(fut)
                try:
                    result = fut.result()
                except Exception as e:  # the worker died, or the task could not run at all
                    result = {"status": "failed", "error": _error_info(e), "finished": _now(), "files": []}
                st = _write_run(spec, r, result)
                statuses[r.run_id], rows[r.run_id] = st, _run_rows(r.folder, st)
                counts[st["status"]] += 1
                df = publish()
                (bar.write if progress else _print_flush)(
                    f"  {st['status']:<6} {r.run_id}  ({st.get('seconds')} s)")
                bar.set_postfix(ok=counts["ok"], failed=counts["failed"], refresh=False)
                bar.update(1)
    except KeyboardInterrupt:  # the client and cluster are closed by now
        bar.close()
        for r in todo:  # a run whose status.json landed just as the interrupt came
            st = _read_status(r.folder)
            if (r.run_id not in statuses and st and st.get("params_hash") == r.params_hash
                    and st.get("status") in ("ok", "failed") and st.get("finished") != finished_before[r.run_id]):
                statuses[r.run_id], rows[r.run_id] = st, _run_rows(r.folder, st)
                counts[st["status"]] += 1
        counts["not_run"] = len(todo) - counts["ok"] - counts["failed"]
        publish()
        print(_summary(spec, runs, statuses, counts, results_path, time.perf_counter() - t0, interrupted=True))
        raise
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    print(_summary(spec, runs, statuses, counts, results_path, seconds))
    return SweepResult(spec, runs, statuses, df, counts, results_path, seconds)

