"""Parameter sweeps: run one notebook over a grid of parameters with papermill, in parallel, resumably.

A sweep is a YAML file::

    notebook: notebooks/04_pos_weight_imbalance.ipynb   # relative to the repository root
    output: outputs/sweeps/imbalance                     # optional; default outputs/sweeps/<spec stem>
    description: pos_weight against label imbalance      # optional free text
    parameters:                                          # fixed for every run
      epochs: 30
    grid:                                                # cartesian product of the lists
      tail: [1.0, 2.5, 5.0]
      seed: [0, 1, 2]

Every run executes the notebook through ``papermill.execute_notebook`` with the fixed and grid
parameters, plus ``output_dir``, which the runner owns (a spec may not set it). Each run gets a
folder under the sweep's output folder, named from its grid values and the first 8 hex digits of
the sha256 of all its parameters (``tail-2.5_seed-3__a1b2c3d4``), holding the executed notebook,
the ``metrics.json`` and figures the notebook wrote, and ``status.json`` (ok / failed with the
error, run time, worker host and pid, parameters, start and finish times). ``status.json`` is
written last: a run is complete exactly when its ``status.json`` exists. ``results.csv`` in the
sweep folder is the tidy table of the sweep (a row per run and setup; failed runs one row with
their error), rewritten atomically as each run finishes.

Running a sweep (the commands run from the repository root, in the book's environment)::

    python -m helpers.sweep sweeps/imbalance.yaml --dry-run     # list the runs, and which are done
    python -m helpers.sweep sweeps/imbalance.yaml               # a local Dask cluster, one worker per core
    python -m helpers.sweep sweeps/imbalance.yaml --workers 4   # fewer workers (each kernel gets cores // 4 threads)
    python -m helpers.sweep sweeps/imbalance.yaml --rerun-failed

or from Python (a report notebook)::

    from helpers import sweep
    res = sweep.run_sweep("sweeps/imbalance.yaml", workers=4)
    res.results                      # the results.csv table as a DataFrame
    sweep.read_results("outputs/sweeps/imbalance")
    sweep.claims_table("outputs/sweeps/imbalance")   # the notebook's assertions: which runs failed which

Claims: the book's notebooks assert their claims, with messages. A run stops at its first failing
assertion and records the AssertionError; :func:`claims_table` lists every ``assert`` of the sweep's
notebook (:func:`notebook_claims`, read from its source) with the runs that reached it, the runs that
failed it and their grid values. Notebook 05 (``notebooks/05_sweep_report.ipynb``) is the report.

Resuming: rerunning a sweep skips every run whose ``status.json`` says ok for the same parameters
(hash) and notebook, and skips earlier failures too (reported as failed) unless ``--rerun-failed``.
Stopping a sweep (Ctrl-C, SIGTERM, or the process killed) loses no completed run: rerun the same
command to do the rest. One failing run (its notebook raising) is recorded with its error and the
executed notebook, which shows the traceback, and never stops the others.

On a Dask cluster: workers need the project installed (``pip install -e .`` in the same
environment, so ``import helpers`` works and the ``python3`` kernel is that environment's
python), not a shared filesystem: the client sends each run the notebook's text, the worker
executes it into a temporary folder and sends the files back, and the client writes them. Start
a scheduler on one machine and workers on each machine, then point the sweep at the scheduler::

    dask scheduler --port 8786                                   # prints tcp://<host>:8786
    dask worker tcp://<scheduler-host>:8786 --nthreads 1 --nworkers 8   # on each machine
    python -m helpers.sweep sweeps/imbalance.yaml --scheduler tcp://<scheduler-host>:8786

``--nthreads 1`` matters: a run is a whole notebook, and the runner gives each kernel
``cores // workers-on-that-machine`` torch threads (through ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``),
so choose ``--nworkers`` as the number of runs a machine should do at once. Ctrl-C on the client
stops sending runs; runs already executing on an external cluster's workers finish there and are
not recorded (they rerun next time).

Kernels started in parallel can collide on ports (``ZMQError: Address already in use``, then
``Kernel died before replying to kernel_info``; nteract/papermill#511). The runner serialises
kernel start-up per machine with a file lock in the system temp folder (held until the new
kernel has bound its ports; about 0.3 s per kernel; ``HELPERS_SWEEP_KERNEL_LOCK=0`` turns it off)
and retries, up to 3 times, a run that failed before any cell ran.

Details: each kernel runs in the notebook's folder (as Jupyter would), or in its temporary output
folder on a worker without the repository at that path. Local workers are forked from a fork
server that has imported papermill and ``helpers`` once (Dask's ``forkserver`` method; spawned
where there is none). The CLI exits with 0 when every run of the sweep is ok, 1 when some failed
(this call or earlier), 2 for a bad spec, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.results import display_path, read_json, repo_root, write_bytes_atomic, write_json_atomic

# `python -m helpers.sweep` makes worker processes forked from the preloading fork server re-run
# this module as __mp_main__; runpy then warns that it was already imported. Harmless: silenced.
warnings.filterwarnings("ignore", message=r"'helpers\.sweep' found in sys\.modules after import of package",
                        category=RuntimeWarning)

__all__ = [
    "SpecError",
    "SweepSpec",
    "Run",
    "SweepResult",
    "load_spec",
    "plan",
    "run_sweep",
    "read_results",
    "notebook_claims",
    "claims_table",
    "main",
]

STATUS_NAME = "status.json"
RESULTS_NAME = "results.csv"
MANIFEST_NAME = "sweep.json"
SPEC_KEYS = ("notebook", "output", "description", "parameters", "grid")
RUNNER_PARAM = "output_dir"
KERNEL_NAME = "python3"
KERNEL_START_RETRIES = 3
KERNEL_START_TIMEOUT_S = 120
MAX_RESULT_BYTES = 64 * 2**20  # what one run may send back; the executed notebook always goes
_MAX_SLUG = 96
_KERNEL_FAILURE_PATTERNS = (
    "kernel died",
    "address already in use",
    "timeout waiting for kernel",
    "kernel didn't respond",
    "timed out waiting for kernel",
)


class SpecError(ValueError):
    """A sweep spec that cannot run; the message names the spec file and the key."""


# --------------------------------------------------------------------------------------------
# Spec and plan


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec. ``parameters`` and ``grid`` values are already checked against the
    notebook's declared parameters (ints given for float parameters are converted to float)."""

    path: Path | None
    name: str
    notebook: str  # as written in the spec (relative to the repository root)
    notebook_path: Path  # absolute
    output: Path  # absolute
    parameters: dict[str, Any]
    grid: dict[str, list[Any]]
    declared: dict[str, dict[str, Any]] = field(repr=False)  # papermill.inspect_notebook
    description: str | None = None


@dataclass(frozen=True)
class Run:
    """One planned run: its folder and parameters, and what an earlier call left there."""

    run_id: str
    params: dict[str, Any]  # fixed + grid, without output_dir
    grid: dict[str, Any]
    params_hash: str
    folder: Path
    previous: str | None = None  # "ok" / "failed" from a complete earlier run, else None

    def will_run(self, rerun_failed: bool = False) -> bool:
        return self.previous is None or (self.previous == "failed" and rerun_failed)


def _spec_err(where: str, key: str | None, msg: str) -> SpecError:
    return SpecError(f"{where}: {key}: {msg}" if key else f"{where}: {msg}")


def _resolve(p: str | os.PathLike) -> Path:
    path = Path(p).expanduser()
    return path if path.is_absolute() else repo_root() / path


def _parameters_cell_names(nb_path: Path) -> set[str]:
    """Every name assigned in the notebook's ``parameters`` cell, as Python parses it (papermill's
    inspector silently drops some declarations, e.g. ``x: float | None = None``)."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


# Annotation name -> the YAML type a value must have (YAML has no tuples or sets: lists stand in).
_SIMPLE_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "list": list, "dict": dict,
                 "tuple": list, "set": list, "List": list, "Dict": dict, "Tuple": list, "Set": list}


def _declared_type(decl: Mapping[str, Any]) -> tuple[type | None, bool]:
    """(expected type or None for any, whether None is accepted) from papermill's declaration."""
    ann = str(decl.get("inferred_type_name") or "None").replace(" ", "")
    optional = False
    m = re.fullmatch(r"(?:typing\.)?Optional\[(.+)\]", ann)
    if m:
        ann, optional = m.group(1), True
    parts = [p for p in ann.split("|") if p]
    if "None" in parts and len(parts) > 1:
        parts.remove("None")
        optional = True
    ann = parts[0] if len(parts) == 1 else "None"
    base = re.sub(r"\[.*\]$", "", ann).split(".")[-1]
    typ = _SIMPLE_TYPES.get(base)
    if typ is not None:
        return typ, optional or decl.get("default") == "None"
    # No (usable) annotation: the type of the literal default, if it is one.
    try:
        default = ast.literal_eval(str(decl.get("default")))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None, True
    if default is None:
        return None, True
    for t in (bool, int, float, str, list, dict):
        if isinstance(default, t):
            return t, False
    if isinstance(default, tuple | set):
        return list, False
    return None, True


def _check_value(where: str, key: str, value: Any, decl: Mapping[str, Any]) -> Any:
    """The value to pass (ints become floats for float parameters), or a SpecError."""
    typ, optional = _declared_type(decl)
    if value is None:
        if optional or typ is None:
            return None
        raise _spec_err(where, key, f"null given, but the notebook declares {decl['name']} as "
                        f"{typ.__name__} (default {decl.get('default')})")
    if typ is None:
        return value
    ok = (isinstance(value, typ) and not (typ is int and isinstance(value, bool))) or (
        typ is float and isinstance(value, int) and not isinstance(value, bool))
    if ok:
        return float(value) if typ is float else value
    hint = ""
    if typ in (int, float) and isinstance(value, str):
        with contextlib.suppress(ValueError):
            float(value)
            hint = " (YAML reads numbers like 1e-3 as text: write 1.0e-3)"
    if typ is int and isinstance(value, float):
        hint = " (an int parameter does not accept a float)"
    if isinstance(value, bool) and typ in (int, float):
        hint = " (true/false are booleans, not numbers)"
    raise _spec_err(where, key, f"{value!r} is {type(value).__name__}, but the notebook declares "
                    f"{decl['name']} as {typ.__name__} (default {decl.get('default')}){hint}")


def load_spec(path: str | os.PathLike, *, output: str | os.PathLike | None = None) -> SweepSpec:
    """Read and validate a sweep spec; nothing is created or run. ``output`` overrides the spec's
    output folder (relative paths are taken from the repository root). Raises :class:`SpecError`."""
    import papermill
    import yaml

    path = Path(path)
    where = display_path(path) if path.exists() else str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{where}: no such sweep spec") from None
    except yaml.YAMLError as e:
        raise SpecError(f"{where}: not valid YAML ({e})") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: a sweep spec is a mapping with keys {', '.join(SPEC_KEYS)}")
    unknown = [k for k in raw if k not in SPEC_KEYS]
    if unknown:
        raise _spec_err(where, str(unknown[0]), f"unknown key (a spec has {', '.join(SPEC_KEYS)})")

    nb_rel = raw.get("notebook")
    if not isinstance(nb_rel, str) or not nb_rel:
        raise _spec_err(where, "notebook", "missing: give the notebook's path from the repository root")
    nb_path = _resolve(nb_rel)
    if not nb_path.is_file():
        raise _spec_err(where, "notebook", f"{nb_rel} does not exist (looked for {nb_path})")
    try:
        declared = papermill.inspect_notebook(str(nb_path))
    except Exception as e:  # unreadable notebook
        raise _spec_err(where, "notebook", f"cannot inspect {nb_rel}: {type(e).__name__}: {e}") from None
    if RUNNER_PARAM not in declared:
        raise _spec_err(where, "notebook", f"{nb_rel} declares no `{RUNNER_PARAM}` parameter; the runner "
                        "needs one to collect the run's files")

    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise _spec_err(where, "description", "must be text")

    fixed_raw = raw.get("parameters") or {}
    grid_raw = raw.get("grid") or {}
    for key, val in (("parameters", fixed_raw), ("grid", grid_raw)):
        if not isinstance(val, dict):
            raise _spec_err(where, key, f"must be a mapping of parameter name to value, got {type(val).__name__}")

    parsed_names: set[str] | None = None

    def check_name(key: str, name: Any) -> None:
        nonlocal parsed_names
        if not isinstance(name, str):
            raise _spec_err(where, key, f"parameter names are text, got {name!r}")
        if name == RUNNER_PARAM:
            raise _spec_err(where, key, f"`{RUNNER_PARAM}` is set by the runner (each run writes into its "
                            "own folder under the sweep's output); remove it and use `output:` for the sweep folder")
        if name not in declared:
            if parsed_names is None:
                parsed_names = _parameters_cell_names(nb_path)
            if name in parsed_names:
                why = ("is assigned in its parameters cell, but papermill cannot read that line "
                       "(e.g. `x: float | None = None`; write `x: Optional[float] = None`)")
            else:
                why = "does not declare it"
            known = ", ".join(sorted(k for k in declared if k != RUNNER_PARAM))
            raise _spec_err(where, key, f"unknown parameter: {nb_rel} {why}. Its parameters: {known}")

    fixed: dict[str, Any] = {}
    for name, value in fixed_raw.items():
        check_name(f"parameters.{name}", name)
        fixed[name] = _check_value(where, f"parameters.{name}", value, declared[name])

    grid: dict[str, list[Any]] = {}
    for name, values in grid_raw.items():
        key = f"grid.{name}"
        check_name(key, name)
        if name in fixed:
            raise _spec_err(where, key, "also set under parameters; a parameter is either fixed or swept")
        if not isinstance(values, list):
            raise _spec_err(where, key, f"must be a list of values, got {values!r} (write [{values!r}] for one value)")
        if not values:
            raise _spec_err(where, key, "empty list: the grid would have no runs")
        grid[name] = [_check_value(where, f"{key}[{i}]", v, declared[name]) for i, v in enumerate(values)]

    if output is not None:
        out = _resolve(output)
    elif raw.get("output") is not None:
        if not isinstance(raw["output"], str) or not raw["output"]:
            raise _spec_err(where, "output", "must be a folder path")
        out = _resolve(raw["output"])
    else:
        out = repo_root() / "outputs" / "sweeps" / path.stem

    spec = SweepSpec(path=path.resolve(), name=path.stem, notebook=nb_rel, notebook_path=nb_path,
                     output=out, parameters=fixed, grid=grid, declared=declared, description=description)
    # Duplicate runs (e.g. seed: [1, 1], or 1 and 1.0 for a float parameter).
    seen: dict[str, dict[str, Any]] = {}
    for params, grid_values in _combinations(spec):
        h = params_hash(params)
        if h in seen:
            raise _spec_err(where, "grid", f"duplicate run {grid_values} (the same parameters twice; "
                            "check the lists for repeated values)")
        seen[h] = grid_values
    return spec


def _canonical(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def params_hash(params: Mapping[str, Any]) -> str:
    """sha256 hex digest of the canonical JSON of a run's parameters (without ``output_dir``)."""
    return hashlib.sha256(_canonical(params).encode()).hexdigest()


def _combinations(spec: SweepSpec) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    keys = list(spec.grid)
    for values in itertools.product(*(spec.grid[k] for k in keys)):
        grid_values = dict(zip(keys, values, strict=True))
        yield {**spec.parameters, **grid_values}, grid_values


def _slug_value(v: Any) -> str:
    if isinstance(v, bool):
        s = str(v).lower()
    elif isinstance(v, float):
        s = repr(v)
    elif isinstance(v, list | dict):
        s = json.dumps(v, separators=(",", "="))
    else:
        s = str(v)
    return re.sub(r"[^A-Za-z0-9.+=-]+", "-", s).strip("-") or "x"


def run_id(grid_values: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """The folder name of a run: a readable slug of its grid values and 8 hex digits of its hash."""
    slug = "_".join(f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', k)}-{_slug_value(v)}" for k, v in grid_values.items())
    slug = (slug or "run")[:_MAX_SLUG].rstrip("-_")
    return f"{slug}__{params_hash(params)[:8]}"


def _read_status(folder: Path) -> dict[str, Any] | None:
    try:
        st = json.loads((folder / STATUS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return st if isinstance(st, dict) else None


def _previous(run_folder: Path, h: str, notebook: str) -> str | None:
    st = _read_status(run_folder)
    if st is None or st.get("params_hash") != h or st.get("notebook") != notebook:
        return None
    return st.get("status") if st.get("status") in ("ok", "failed") else None


def plan(spec: SweepSpec) -> list[Run]:
    """The sweep's runs in grid order, each with what an earlier call left in its folder."""
    runs = []
    for params, grid_values in _combinations(spec):
        h = params_hash(params)
        rid = run_id(grid_values, params)
        folder = spec.output / rid
        runs.append(Run(rid, params, grid_values, h, folder, _previous(folder, h, spec.notebook)))
    return runs


# --------------------------------------------------------------------------------------------
# Worker side: execute one run into a temporary folder and send the files back


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@contextlib.contextmanager
def _kernel_start_lock() -> Iterator[None]:
    """An exclusive lock per machine and user, in the system temp folder (no-op where fcntl is
    missing, the file cannot be opened, or HELPERS_SWEEP_KERNEL_LOCK=0)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    if os.environ.get("HELPERS_SWEEP_KERNEL_LOCK", "1") == "0":
        yield
        return
    uid = os.getuid() if hasattr(os, "getuid") else 0
    try:
        f = open(Path(tempfile.gettempdir()) / f"helpers-sweep-kernel-start-{uid}.lock", "a+")  # noqa: SIM115
    except OSError:
        yield
        return
    try:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


def _kernel_manager_class(env: Mapping[str, str]) -> type:
    """An AsyncKernelManager that gives the kernel ``env`` and starts under the machine's
    kernel-start lock, held until the kernel has bound its five ports."""
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    extra_env = dict(env)

    class SweepKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            kw["env"] = {**(kw.get("env") or os.environ), **extra_env}
            supports_curve = getattr(self, "_kernel_supports_curve_encryption", None)  # recent jupyter_client only
            if supports_curve is not None and zmq.has("curve") and supports_curve():
                kw.setdefault("transport_encryption", "auto")  # else recent kernels warn about plain TCP
            with _kernel_start_lock():
                await super().start_kernel(**kw)
                await self._wait_ports_bound(deadline=time.monotonic() + 30)

        async def _wait_ports_bound(self, deadline: float) -> None:
            import asyncio

            if self.transport != "tcp":
                return
            ports = [self.shell_port, self.iopub_port, self.stdin_port, self.control_port, self.hb_port]
            while time.monotonic() < deadline and await self.is_alive():
                if all(_port_open(self.ip, p) for p in ports):
                    return
                await asyncio.sleep(0.05)

    return SweepKernelManager


def _port_open(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=0.2):
            return True
    except OSError:
        return False


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
    """(relative path, bytes) of every regular file under ``folder``, ``first`` first, up to
    MAX_RESULT_BYTES in all; the rest listed as left out."""
    paths = sorted((p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()),
                   key=lambda p: (p.relative_to(folder).as_posix() != first, p.relative_to(folder).as_posix()))
    files, left_out, total = [], [], 0
    for p in paths:
        rel = p.relative_to(folder).as_posix()
        size = p.stat().st_size
        if rel != first and total + size > MAX_RESULT_BYTES:
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
    env = {} if threads is None else {v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    nb_name = Path(task["notebook"]).name
    nb_dir = _notebook_dir(task)
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
                    kernel_manager_class=_kernel_manager_class(env),
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


# --------------------------------------------------------------------------------------------
# Client side: write a finished run, keep the results table


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


# --------------------------------------------------------------------------------------------
# Claims: a notebook's assertions, and the runs that failed them


def _run_ids(out: Path) -> list[str]:
    manifest = out / MANIFEST_NAME
    if manifest.exists():
        return [r["run_id"] for r in read_json(manifest).get("runs", [])]
    return sorted(p.parent.name for p in out.glob(f"*/{STATUS_NAME}"))


def _assert_nodes(nodes: Sequence[ast.AST], conditions: list[str]) -> Iterator[tuple[ast.Assert, list[str]]]:
    """Every ``assert`` under ``nodes`` in source order, with the tests of the ``if`` blocks around it."""
    for node in nodes:
        if isinstance(node, ast.Assert):
            yield node, conditions
        elif isinstance(node, ast.If):
            test = ast.unparse(node.test)
            yield from _assert_nodes(node.body, [*conditions, test])
            yield from _assert_nodes(node.orelse, [*conditions, f"not ({test})"])
        else:
            for name in ("body", "handlers", "orelse", "finalbody"):
                sub = getattr(node, name, None)
                if isinstance(sub, list):
                    yield from _assert_nodes(sub, conditions)


def notebook_claims(notebook: str | os.PathLike) -> list[dict[str, Any]]:
    """The claims a notebook asserts: one entry per ``assert`` in its code cells, in source order,
    with ``claim`` (the assertion's message, ``…`` standing for its formatted parts; ``assert <test>``
    when it has no literal message), ``condition`` (the tests of the ``if`` blocks around it, joined
    with ``and``; None when it is always checked), ``cell`` (code cell index), ``source`` (its first
    line, as a traceback shows it) and ``pattern`` (a regex for its message, or None)."""
    import nbformat

    nb = nbformat.read(_resolve(notebook), as_version=4)
    claims: list[dict[str, Any]] = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in cell.source.splitlines()]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        for node, conditions in _assert_nodes(tree.body, []):
            claim = pattern = None
            if isinstance(node.msg, ast.Constant) and isinstance(node.msg.value, str):
                claim, pattern = node.msg.value, re.escape(node.msg.value)
            elif isinstance(node.msg, ast.JoinedStr):
                parts = [(str(v.value), re.escape(str(v.value))) if isinstance(v, ast.Constant) else ("…", ".*?")
                         for v in node.msg.values]
                claim, pattern = "".join(p[0] for p in parts), "".join(p[1] for p in parts)
            claims.append({"claim": claim or f"assert {ast.unparse(node.test)}",
                           "condition": " and ".join(conditions) or None, "cell": i,
                           "source": lines[node.lineno - 1].strip(), "pattern": pattern})
    return claims


_TRACEBACK_ARROW = re.compile(r"^-+>\s*\d+ ?(.*)$", re.M)


def _failed_claim(error: Mapping[str, Any] | None, claims: Sequence[Mapping[str, Any]]) -> int | None:
    """Index of the claim an AssertionError comes from (by its message, then by the line its
    traceback points at); None for any other failure."""
    if not error or error.get("type") != "AssertionError":
        return None
    message = str(error.get("message") or "")
    lines = {m.group(1).strip() for m in _TRACEBACK_ARROW.finditer(error.get("traceback") or "")}
    by_message = [i for i, c in enumerate(claims) if c["pattern"] and re.fullmatch(c["pattern"], message, re.S)]
    by_line = [i for i, c in enumerate(claims) if c["source"] in lines]
    for found in ([i for i in by_message if i in by_line], by_message, by_line):
        if found:
            return found[0]
    return None


def _failed_cell(folder: Path, status: Mapping[str, Any]) -> int | None:
    """Index (among the notebook's code cells, the runner's injected parameters cell not counted)
    of the cell a failed run stopped in, from its executed notebook; None if unknown."""
    import nbformat

    count = (status.get("error") or {}).get("cell")
    if count is None or not status.get("executed_notebook"):
        return None
    try:
        nb = nbformat.read(folder / status["executed_notebook"], as_version=4)
    except Exception:  # missing or unreadable: unknown
        return None
    code = [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    return next((i for i, c in enumerate(code) if c.get("execution_count") == count), None)


def _where(grids: Sequence[Mapping[str, Any]]) -> str:
    """Grid values of some runs, seeds pooled: ``tail=0.0 (5); tail=1.5 (2)``."""
    keys: dict[str, int] = {}
    for g in grids:
        key = ", ".join(f"{k}={v}" for k, v in g.items() if k != "seed") or f"seed={g.get('seed')}"
        keys[key] = keys.get(key, 0) + 1
    return "; ".join(f"{k} ({n})" if n > 1 else k for k, n in keys.items())


CLAIM_COLUMNS = ["notebook", "claim", "asserted", "runs", "reached", "failed", "verdict", "failed where"]


def claims_table(out_dir: str | os.PathLike) -> pd.DataFrame:
    """Which of a sweep's notebook's claims (its assertions, :func:`notebook_claims`) held on its
    runs. A run stops at its first failing assertion: an ok run passed every assertion it reached,
    a failed run's AssertionError names the claim it failed, and the claims after that one were
    not reached. One row per claim, in source order (``runs``: complete runs; ``reached``: the runs
    that got to it; ``failed``: those that failed it; ``failed where``: their grid values, seeds
    pooled), then one row per other error (a run that raised something else, e.g. a crash; the
    claims in the cells before the one it stopped in count as reached)."""
    out = _resolve(out_dir)
    if not out.is_dir():
        raise FileNotFoundError(f"no sweep folder at {display_path(out)}: run the sweep first")
    statuses = [st for rid in _run_ids(out) if (st := _read_status(out / rid)) and st.get("status") in ("ok", "failed")]
    if not statuses:
        return pd.DataFrame(columns=CLAIM_COLUMNS)
    notebook = (read_json(out / MANIFEST_NAME).get("notebook") if (out / MANIFEST_NAME).exists() else None) \
        or statuses[0]["notebook"]
    claims = notebook_claims(notebook)
    n, ok = len(statuses), sum(st["status"] == "ok" for st in statuses)
    at: dict[int, list[dict[str, Any]]] = {}  # claim index -> grids of the runs that failed it
    other: dict[str, list[dict[str, Any]]] = {}  # "type: message" -> grids
    stopped_in: list[int] = []  # code cells where the other failures happened (where known)
    for st in statuses:
        if st["status"] == "failed":
            i = _failed_claim(st.get("error"), claims)
            if i is None:
                err = st.get("error") or {}
                other.setdefault(f"{err.get('type')}: {str(err.get('message'))[:120]}", []).append(st.get("grid") or {})
                cell = _failed_cell(out / st.get("run_id", ""), st)
                if cell is not None:
                    stopped_in.append(cell)
            else:
                at.setdefault(i, []).append(st.get("grid") or {})
    stem = Path(notebook).stem
    rows = []
    for i, c in enumerate(claims):
        failed = len(at.get(i, []))
        reached = (ok + sum(len(g) for j, g in at.items() if j >= i)
                   + sum(cell > c["cell"] for cell in stopped_in))  # a failure in an earlier cell: not reached
        if failed:
            verdict = f"failed on {failed} of {reached} runs"
        elif not reached:
            verdict = "not reached: every run stopped earlier"
        elif reached == n and c["condition"] is None:
            verdict = f"held on all {n} runs"
        else:
            verdict = f"held on all {reached} runs that reached it" if reached < n else f"did not fail in {n} runs"
            verdict += " (conditional)" if c["condition"] else ""
        rows.append({"notebook": stem, "claim": c["claim"],
                     "asserted": "always" if c["condition"] is None else f"if {c['condition']}",
                     "runs": n, "reached": reached, "failed": failed, "verdict": verdict,
                     "failed where": _where(at.get(i, []))})
    for what, grids in other.items():
        rows.append({"notebook": stem, "claim": f"(not a claim) {what}", "asserted": "-", "runs": n, "reached": n,
                     "failed": len(grids), "verdict": f"failed on {len(grids)} of {n} runs", "failed where": _where(grids)})
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


# --------------------------------------------------------------------------------------------
# The sweep


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


def _threads_for_local(workers: int) -> dict[str, int]:
    host, cores = _host_threads()
    return {host: max(1, cores // workers)}


def _threads_for_cluster(client: Any) -> dict[str, int]:
    """Torch threads per kernel for each machine: its cores over the worker threads it runs."""
    hosts = client.run(_host_threads)  # {worker address: (host, cores)}
    nthreads = {w: info.get("nthreads", 1) for w, info in client.scheduler_info(n_workers=-1)["workers"].items()}
    per_host: dict[str, list[int]] = {}
    for addr, (host, cores) in hosts.items():
        per_host.setdefault(host, [cores, 0])[1] += nthreads.get(addr, 1)
    return {host: max(1, cores // max(1, n)) for host, (cores, n) in per_host.items()}


@contextlib.contextmanager
def _forkserver_workers() -> Iterator[None]:
    """Start local worker processes from a fork server that has already imported this module,
    papermill and the ``helpers`` package, instead of spawning fresh interpreters that each
    import them again (seconds of CPU per worker). Where fork servers do not exist (Windows),
    Dask's default applies."""
    import multiprocessing

    import dask

    if "forkserver" not in multiprocessing.get_all_start_methods():
        yield
        return
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        try:
            from distributed.utils import get_mp_context

            get_mp_context().set_forkserver_preload(  # no effect once the fork server runs
                ["distributed", "papermill", "nbclient", "jupyter_client", "helpers.sweep"])
        except Exception:  # a Dask without this helper: its own preload list then
            pass
        yield


def _notebook_text(spec: SweepSpec) -> str:
    """The notebook as sent to workers: outputs cleared (they are recomputed)."""
    import nbformat

    nb = nbformat.read(spec.notebook_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nbformat.writes(nb)


@contextlib.contextmanager
def _sweep_lock(out: Path) -> Iterator[None]:
    """One sweep process per output folder at a time (released when the process dies)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(out / ".sweep.lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another sweep is writing to {display_path(out)}; wait for it or stop it") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run_sweep(
    spec_or_path: SweepSpec | str | os.PathLike,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    rerun_failed: bool = False,
    progress: bool = True,
) -> SweepResult:
    """Run a sweep: validate, skip completed runs, execute the rest on a local Dask cluster
    (``workers`` processes, default one per core) or on the cluster at ``scheduler``
    (``tcp://host:8786``), writing each run's folder and ``results.csv`` as runs finish.

    A failing run is recorded and does not stop the others. On KeyboardInterrupt the cluster is
    closed, the summary of what completed is printed, and the interrupt is re-raised.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    spec = spec_or_path if isinstance(spec_or_path, SweepSpec) else load_spec(spec_or_path)
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    t0 = time.perf_counter()
    runs = plan(spec)
    todo = [r for r in runs if r.will_run(rerun_failed)]
    counts = {"total": len(runs), "ok": 0, "failed": 0, "not_run": 0,
              "skipped_ok": sum(r.previous == "ok" for r in runs),
              "skipped_failed": sum(r.previous == "failed" and not rerun_failed for r in runs)}
    spec.output.mkdir(parents=True, exist_ok=True)
    results_path = spec.output / RESULTS_NAME
    statuses: dict[str, dict[str, Any]] = {}
    rows: dict[str, list[dict[str, Any]]] = {}

    def publish() -> pd.DataFrame:
        df = _frame([row for r in runs for row in rows.get(r.run_id, [])])
        _write_csv_atomic(df, results_path)
        return df

    with _sweep_lock(spec.output):
        write_json_atomic(spec.output / MANIFEST_NAME, {
            "sweep": spec.name, "spec": str(spec.path), "notebook": spec.notebook,
            "description": spec.description, "parameters": spec.parameters, "grid": spec.grid,
            "updated": _now(), "runs": [{"run_id": r.run_id, "params": r.params} for r in runs],
        })
        for r in runs:
            if not r.will_run(rerun_failed):
                st = _read_status(r.folder) or {}
                statuses[r.run_id] = st
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
            with _dask_client(scheduler, min(workers or _host_threads()[1], len(todo))) as (client, threads):
                futures = {}
                for r in todo:
                    task = {"run_id": r.run_id, "notebook": spec.notebook, "notebook_text": text,
                            "notebook_dir": str(spec.notebook_path.parent), "params": r.params,
                            "threads": threads}
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


@contextlib.contextmanager
def _dask_client(scheduler: str | None, workers: int) -> Iterator[tuple[Any, dict[str, int]]]:
    """(client, torch threads per kernel by host): on the cluster at ``scheduler``, else on a new
    LocalCluster of ``workers`` single-threaded processes. Closed on exit, interrupts included."""
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if scheduler:
            client = Client(scheduler, timeout="30s")
            stack.callback(_quietly_close, client)
            yield client, _threads_for_cluster(client)
            return
        stack.enter_context(_forkserver_workers())
        # An ephemeral port for the HTTP server (None means 8787, and a warning when another sweep holds it).
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        stack.callback(_quietly_close, cluster)
        client = Client(cluster)
        stack.callback(_quietly_close, client)
        yield client, _threads_for_local(workers)


def _quietly_close(obj: Any) -> None:
    with contextlib.suppress(Exception):
        obj.close(timeout=10)


# --------------------------------------------------------------------------------------------
# CLI


def _fmt_params(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={json.dumps(v)}" for k, v in params.items())


def _dry_run(spec: SweepSpec, rerun_failed: bool) -> None:
    runs = plan(spec)
    todo = sum(r.will_run(rerun_failed) for r in runs)
    print(f"sweep {spec.name}: {len(runs)} runs of {spec.notebook} -> {display_path(spec.output)}; "
          f"{todo} to run, {len(runs) - todo} to skip")
    if spec.parameters:
        print(f"  fixed: {_fmt_params(spec.parameters)}")
    width = max(len(r.run_id) for r in runs)
    for r in runs:
        if r.previous == "ok":
            what = "skip (done)"
        elif r.previous == "failed":
            what = "rerun (failed)" if rerun_failed else "skip (failed)"
        else:
            what = "run"
        print(f"  {r.run_id:<{width}}  {what:<14}  {_fmt_params(r.grid)}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.sweep SPEC.yaml [--dry-run] [--rerun-failed] [--scheduler ADDR]
    [--workers N] [--out DIR]``. Exit status: 0 all runs ok, 1 some failed, 2 bad spec,
    130 interrupted."""
    ap = argparse.ArgumentParser(
        prog="python -m helpers.sweep",
        description="Run a notebook over a grid of parameters (papermill + Dask), resumably.",
        epilog="Completed runs are skipped when a sweep is rerun; see the helpers.sweep docstring.",
    )
    ap.add_argument("spec", help="sweep spec (YAML), e.g. sweeps/smoke.yaml")
    ap.add_argument("--dry-run", action="store_true", help="list the runs and which would be skipped; run nothing")
    ap.add_argument("--rerun-failed", action="store_true", help="retry runs that failed in an earlier call")
    ap.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="use this Dask scheduler instead of a local cluster")
    ap.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: one per core)")
    ap.add_argument("--out", metavar="DIR", help="sweep output folder (default: the spec's output)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        ap.error("--workers must be at least 1")
    try:
        spec = load_spec(args.spec, output=args.out)
    except SpecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        _dry_run(spec, args.rerun_failed)
        return 0

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    with contextlib.suppress(ValueError):  # only possible in the main thread
        signal.signal(signal.SIGTERM, on_term)
    try:
        res = run_sweep(spec, workers=args.workers, scheduler=args.scheduler,
                        rerun_failed=args.rerun_failed, progress=not args.no_progress)
    except KeyboardInterrupt:
        return 130
    return 0 if not res.failed else 1


if __name__ == "__main__":
    # Run the importable module's main, so that tasks refer to helpers.sweep, not __main__.
    from helpers.sweep import main as _main

    sys.exit(_main())
