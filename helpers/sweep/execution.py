"""Sweep execution: run one notebook with papermill on a Dask worker.

:func:`execute_run` executes the notebook text it is sent into a temporary folder and returns the
run's status and the bytes of every file the run wrote (the executed notebook, ``metrics.json``,
``claims.json``, figures), so no shared filesystem is needed. Kernel start-up is serialised per
machine and retried when it fails before the first cell. The cluster around the workers is
:mod:`helpers.sweep.cluster`.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import tempfile
import time
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers import kernels
from helpers.sweep.spec import RUNNER_PARAM, SweepSpec

KERNEL_NAME = "python3"
KERNEL_START_RETRIES = 3
KERNEL_START_TIMEOUT_S = 120
MAX_RESULT_BYTES = 64 * 2**20  # what one run may send back; the executed notebook always goes
# Sent back first, so the size limit never drops them: they say what the run did and claimed.
PRIORITY_FILES = ("metrics.json", "claims.json")
_KERNEL_FAILURE_PATTERNS = (
    "kernel died",
    "address already in use",
    "timeout waiting for kernel",
    "kernel didn't respond",
    "timed out waiting for kernel",
)

# --------------------------------------------------------------------------------------------
# Worker side: execute one run into a temporary folder and send the files back


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _executed_cells(nb_path: Path) -> int | None:
    """How many code cells ran in a saved notebook; None if it cannot be read."""
    try:
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        return sum(1 for c in nb.get("cells", []) if c.get("cell_type") == "code" and c.get("execution_count"))
    except (OSError, ValueError, AttributeError):
        return None


def _is_kernel_start_failure(exc: BaseException, nb_path: Path) -> bool:
    """A failure before the first cell ran (kernel start-up), worth retrying."""
    import papermill
    from jupyter_client.kernelspec import NoSuchKernel

    if isinstance(exc, papermill.PapermillExecutionError | NoSuchKernel):
        return False
    executed = _executed_cells(nb_path)
    if executed:  # code ran: a real failure (a crash mid-notebook is not retried)
        return False
    msg = f"{type(exc).__name__}: {exc}".lower()
    return any(p in msg for p in _KERNEL_FAILURE_PATTERNS) or executed == 0


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _error_info(exc: BaseException) -> dict[str, Any]:
    import papermill

    if isinstance(exc, papermill.PapermillExecutionError):
        tb = _ANSI.sub("", "\n".join(exc.traceback or []))
        return {"type": exc.ename, "message": str(exc.evalue), "cell": exc.exec_count,
                "where": "notebook", "traceback": tb[-4000:]}
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {"type": type(exc).__name__, "message": str(exc), "cell": None, "where": "runner",
            "traceback": tb[-4000:]}


def _collect_files(folder: Path, first: str) -> tuple[list[tuple[str, bytes]], list[str]]:
    """(relative path, bytes) of every regular file under ``folder``: ``first`` (the executed
    notebook), then :data:`PRIORITY_FILES`, then the rest, up to MAX_RESULT_BYTES in all (the
    notebook and the priority files always go); the rest listed as left out."""
    must = (first, *PRIORITY_FILES)

    def order(rel: str) -> tuple[int, str]:
        return (must.index(rel) if rel in must else len(must), rel)

    paths = sorted((p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()),
                   key=lambda p: order(p.relative_to(folder).as_posix()))
    files, left_out, total = [], [], 0
    for p in paths:
        rel = p.relative_to(folder).as_posix()
        size = p.stat().st_size
        if rel not in must and total + size > MAX_RESULT_BYTES:
            left_out.append(f"{rel} ({size} bytes; over the {MAX_RESULT_BYTES >> 20} MiB a run sends back)")
            continue
        files.append((rel, p.read_bytes()))
        total += size
    return files, left_out


def _host_threads() -> tuple[str, int]:
    """(host name, usable cores) of the machine this runs on."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return socket.gethostname(), cores


_TMP_PREFIX = "helpers-sweep-"


def _remove_stale_tmp() -> None:
    """Remove temporary run folders left on this machine by worker processes that were killed
    mid-run (their names hold the pid that made them)."""
    for d in Path(tempfile.gettempdir()).glob(f"{_TMP_PREFIX}*-*"):
        m = re.fullmatch(re.escape(_TMP_PREFIX) + r"(\d+)-\w+", d.name)
        if not m or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except OSError:  # alive, or not ours to signal
            pass


def _notebook_dir(task: Mapping[str, Any]) -> Path | None:
    """The kernel's working directory: the notebook's folder, as on the client (same machine or
    shared filesystem), else in this worker's copy of the project, else None (a temporary folder)."""
    here = Path(task.get("notebook_dir") or "")
    if here.is_absolute() and here.is_dir():
        return here
    try:
        from helpers.results import repo_root as worker_root
    except ImportError:
        return None
    there = worker_root() / Path(task["notebook"]).parent
    return there if there.is_dir() else None


def execute_run(task: Mapping[str, Any]) -> dict[str, Any]:
    """Execute one run (on a worker): the notebook text in ``task['notebook_text']`` with
    ``task['params']`` and a temporary ``output_dir``; return status and the files' bytes.
    Never raises for a failing notebook or kernel: the failure is in the returned status."""
    import papermill

    started, t0 = _now(), time.perf_counter()
    host, _ = _host_threads()
    threads = task.get("threads", {}).get(host)
    nb_name = Path(task["notebook"]).name
    nb_dir = _notebook_dir(task)
    env = kernels.kernel_env(threads, nb_dir)
    _remove_stale_tmp()
    tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-"))
    try:
        nb_in = tmp / nb_name
        nb_in.write_text(task["notebook_text"], encoding="utf-8")
        attempt, error, run_dir = 0, None, tmp
        while True:
            attempt += 1
            run_dir = tmp / f"attempt-{attempt}"
            run_dir.mkdir()
            nb_out = run_dir / nb_name
            try:
                papermill.execute_notebook(
                    str(nb_in), str(nb_out),
                    parameters={**task["params"], RUNNER_PARAM: str(run_dir)},
                    kernel_name=KERNEL_NAME, progress_bar=False, log_output=False,
                    cwd=str(nb_dir or run_dir),
                    start_timeout=KERNEL_START_TIMEOUT_S,
                    kernel_manager_class=kernels.kernel_manager_class(env),
                )
                error = None
            except Exception as e:  # recorded, never raised: one run must not stop the others
                error = e
                if attempt <= KERNEL_START_RETRIES and _is_kernel_start_failure(e, nb_out):
                    time.sleep(random.uniform(0.2, 1.0) * attempt)
                    continue
            break
        files, left_out = _collect_files(run_dir, nb_name)
        finished = _now()
        return {
            "run_id": task["run_id"],
            "status": "ok" if error is None else "failed",
            "error": None if error is None else _error_info(error),
            "executed_notebook": nb_name if any(rel == nb_name for rel, _ in files) else None,
            "started": started,
            "finished": finished,
            "seconds": round(time.perf_counter() - t0, 3),
            "attempts": attempt,
            "host": host,
            "pid": os.getpid(),
            "threads": threads,
            "worker_output_dir": str(run_dir),
            "files": files,
            "files_left_out": left_out,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _notebook_text(spec: SweepSpec) -> str:
    """The notebook as sent to workers: outputs cleared (they are recomputed)."""
    import nbformat

    nb = nbformat.read(spec.notebook_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nbformat.writes(nb)
