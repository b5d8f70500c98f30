"""The Dask cluster a sweep runs on: a LocalCluster of forked worker processes, or an existing
scheduler, checked first so that a wrong address fails fast in one line (:func:`check_scheduler`).
On exit, interrupts included, the client and cluster are closed.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator, Mapping
from typing import Any

from helpers.sweep.execution import _host_threads

SCHEDULER_TIMEOUT_S = 10.0  # hard deadline to reach a Dask scheduler and hear it answer


class SchedulerError(RuntimeError):
    """No Dask scheduler answers at the address given (nothing listens, or something else does)."""


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
                ["distributed", "papermill", "nbclient", "jupyter_client", "helpers.sweep.execution"])
        except Exception:  # a Dask without this helper: its own preload list then
            pass
        yield


def check_scheduler(address: str, timeout: float = SCHEDULER_TIMEOUT_S) -> None:
    """Raise :class:`SchedulerError` (one line) unless a Dask scheduler answers at ``address``
    within ``timeout`` seconds: a refused connection fails at once (Dask itself would retry for
    its whole connect timeout), and a port where something else listens (an HTTP server, e.g. the
    dashboard's 8787) fails at the deadline instead of hanging."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed.comm import connect
    from distributed.comm.addressing import parse_address, parse_host_port

    def fail(why: str) -> SchedulerError:
        return SchedulerError(f"no Dask scheduler at {address} ({why})")

    try:
        scheme, loc = parse_address(address)
        host, port = parse_host_port(loc) if scheme in ("tcp", "tls") else (None, None)
    except (ValueError, TypeError) as e:
        raise SchedulerError(f"no Dask scheduler at {address} (not an address like tcp://HOST:8786: {e})") from None
    if host is not None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except TimeoutError:
            raise fail(f"no answer within {timeout:g} s") from None
        except OSError as e:
            raise fail(e.strerror or type(e).__name__) from None

    async def identity() -> Any:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    def ask() -> Any:
        return asyncio.run(asyncio.wait_for(identity(), timeout))

    pool = ThreadPoolExecutor(1)  # its own event loop, also when the caller's loop runs (Jupyter)
    try:
        reply = pool.submit(ask).result()
    except TimeoutError:
        raise fail(f"something listens there but gave no Dask answer within {timeout:g} s; "
                   "is it the dashboard's port (8787)? The scheduler's is usually 8786") from None
    except Exception as e:  # closed, garbled, refused: not a Dask scheduler
        raise fail(f"something listens there but does not speak Dask: {type(e).__name__}") from None
    finally:
        pool.shutdown(wait=False)
    if not isinstance(reply, Mapping) or reply.get("type") != "Scheduler":
        kind = reply.get("type") if isinstance(reply, Mapping) else type(reply).__name__
        raise fail(f"it answers as {kind}, not as a scheduler")


@contextlib.contextmanager
def _dask_client(scheduler: str | None, workers: int) -> Iterator[tuple[Any, dict[str, int]]]:
    """(client, torch threads per kernel by host): on the cluster at ``scheduler``, else on a new
    LocalCluster of ``workers`` single-threaded processes. Closed on exit, interrupts included."""
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if scheduler:
            check_scheduler(scheduler)
            client = Client(scheduler, timeout=f"{SCHEDULER_TIMEOUT_S}s")
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

