"""Jupyter kernels for the book runner and the sweeps: one kernel manager, one thread budget.

Papermill starts a kernel per notebook. :func:`kernel_manager_class` returns the kernel manager
both runners should pass to ``papermill.execute_notebook(kernel_manager_class=...)``:

* the kernel gets extra environment variables (the thread budget below), and not the ones in
  :data:`UNSET_VARS` (an allocator setting a Dask worker would otherwise pass on, which halves
  training speed);
* transport encryption is switched on where jupyter_client and pyzmq support it (CurveZMQ), so
  ipykernel does not warn "Kernel is running over TCP without encryption" once per notebook;
* kernels start one at a time per machine and user (a file lock in the system temp folder, held
  until the new kernel has bound its five ports): kernels started side by side can otherwise
  collide on ports (``ZMQError: Address already in use``; nteract/papermill#511).
  ``HELPERS_SWEEP_KERNEL_LOCK=0`` turns the lock off.

:func:`thread_env` gives each of ``workers`` kernels running side by side ``cores // workers``
torch threads (``OMP_NUM_THREADS``/``MKL_NUM_THREADS``), so parallel notebooks share the cores
instead of fighting over them.

:func:`project_path_env` puts the checkout that holds the notebook first on the kernel's ``PYTHONPATH``,
so a run from a second checkout (a git worktree sharing one virtual environment) imports its own
``helpers``: the book runner, the sweeps and ``make test-params`` all pass it.

The lock file's name is the one ``helpers.sweep`` has used, so book and sweep kernels started at
the same time on one machine also wait for each other.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
# Variables a kernel must not inherit. Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers
# (distributed.nanny.pre-spawn-environ), and the kernels a sweep worker starts inherited it: glibc then
# returns freed memory to the OS at every step and no longer adapts its mmap threshold, which doubled
# the book's training time (notebook 04, 4,000 scenes: 1.0 s per epoch instead of 0.5, one thread;
# python -m helpers.bench --allocator). Results are the same either way: it changes memory management only.
UNSET_VARS = ("MALLOC_TRIM_THRESHOLD_",)
PORT_BIND_TIMEOUT_S = 30.0


def cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def threads_per_worker(workers: int, n_cores: int | None = None) -> int:
    """Torch threads for each of ``workers`` kernels running side by side: cores // workers, at least 1."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return max(1, (cores() if n_cores is None else n_cores) // workers)


def thread_env(threads: int | None) -> dict[str, str]:
    """Environment variables that give a kernel ``threads`` torch/BLAS threads (none for None)."""
    return {} if threads is None else {v: str(int(threads)) for v in THREAD_VARS}


@contextlib.contextmanager
def kernel_start_lock() -> Iterator[None]:
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


def _port_open(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=0.2):
            return True
    except OSError:
        return False


_STARTED: list[Any] = []  # the kernel managers this process started (for kill_started_kernels)


def kill_started_kernels() -> int:
    """Kill (SIGKILL) the kernels this process started that are still running, for a runner told to
    stop at once: a kernel killed outright prints nothing, where one left to notice that its parent
    is gone, or shut down mid-cell, logs to the terminal. Returns how many were killed."""
    killed = 0
    for km in _STARTED:
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        if proc is not None and proc.poll() is None:  # not reaped yet, so its pid is still this kernel's
            with contextlib.suppress(OSError):
                proc.kill()
                killed += 1
    return killed


def kernel_manager_class(env: Mapping[str, str] | None = None) -> type:
    """An ``AsyncKernelManager`` subclass for papermill: the kernel gets ``env`` on top of this
    process's environment, encrypted transport where supported, and starts under
    :func:`kernel_start_lock`."""
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    extra_env = dict(env or {})

    class HelpersKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            env = {**(kw.get("env") or os.environ), **extra_env}
            kw["env"] = {k: v for k, v in env.items() if k not in UNSET_VARS}
            supports_curve = getattr(self, "_kernel_supports_curve_encryption", None)  # recent jupyter_client only
            if supports_curve is not None and zmq.has("curve") and supports_curve():
                kw.setdefault("transport_encryption", "auto")  # else recent kernels warn about plain TCP
            with kernel_start_lock():
                await super().start_kernel(**kw)
                _STARTED.append(self)
                await self._wait_ports_bound(deadline=time.monotonic() + PORT_BIND_TIMEOUT_S)

        async def _wait_ports_bound(self, deadline: float) -> None:
            import asyncio

            if self.transport != "tcp":
                return
            ports = [self.shell_port, self.iopub_port, self.stdin_port, self.control_port, self.hb_port]
            while time.monotonic() < deadline and await self.is_alive():
                if all(_port_open(self.ip, p) for p in ports):
                    return
                await asyncio.sleep(0.05)

    return HelpersKernelManager


def project_path_env(nb_dir: Path | None) -> dict[str, str]:
    """``PYTHONPATH`` for the kernel, led by the checkout that holds the notebook (the folder above it with
    ``helpers/__init__.py``), so the kernel imports that checkout's ``helpers``. Without it, a sweep run from a
    second checkout (a git worktree) imports the package the virtual environment's editable install points at,
    another checkout's code, while its records name this checkout's commit. Empty when no such folder."""
    for folder in ([nb_dir, *nb_dir.parents] if nb_dir is not None else []):
        if (folder / "helpers" / "__init__.py").is_file():
            rest = os.environ.get("PYTHONPATH", "")
            return {"PYTHONPATH": str(folder) + (os.pathsep + rest if rest else "")}
    return {}


def kernel_env(threads: int | None, nb_dir: Path | None) -> dict[str, str]:
    """What every runner gives a kernel: its thread budget (:func:`thread_env`) and the checkout that holds the
    notebook first on ``PYTHONPATH`` (:func:`project_path_env`)."""
    return {**thread_env(threads), **project_path_env(nb_dir)}
