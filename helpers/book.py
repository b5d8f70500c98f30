"""Run the book: execute the numbered notebooks with papermill at their default parameters.

``python -m helpers.book`` (what ``make book`` calls) runs every numbered notebook;
``python -m helpers.book notebooks/0[1-6]_*.ipynb`` runs a selection. Each executed notebook goes
to ``outputs/<stem>/<stem>.ipynb`` next to that notebook's ``metrics.json`` and figures.

The notebooks are independent (each builds its own data and trains its own reference model; none
reads another's outputs), so they run side by side in a process pool: ``--workers`` kernels at
once (default: one per core), each kernel given ``cores // workers`` torch threads so they share
the cores instead of fighting over them. The longest notebooks of the previous run start first
(their times are kept in ``outputs/book.json``). Kernels come from :mod:`helpers.kernels`, the
same kernel manager as the sweeps' (encrypted transport where supported, so no "Kernel is running
over TCP without encryption" warning). A failing notebook does not stop the others; the exit
status is then 1.

At the end it prints one row per notebook: wall seconds, the seconds its ``helpers.train.fit``
calls took (the ``training`` entry of its ``metrics.json``) and the rest (kernel start, imports,
data, evaluation, figures).

``python -m helpers.book --in-place`` (``make notebooks``) re-executes the committed notebooks in
place so their stored outputs are the ones nbval compares against; it strips papermill's timing
metadata so a rerun with unchanged results gives a small diff. It runs one notebook at a time by
default, with every core, as nbval does (so thread-dependent last bits match).
"""

from __future__ import annotations

import argparse
import glob
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm

from helpers import kernels
from helpers.results import (
    INCOMPLETE_NAME,
    RECORD_NAME,
    display_path,
    incomplete_run,
    read_json,
    repo_root,
    write_json_atomic,
)

NOTEBOOK_GLOB = "notebooks/[0-9][0-9]_*.ipynb"
TIMES_NAME = "book.json"  # outputs/book.json: the last run's table (used to start long notebooks first)


def book_notebooks(pattern: str | None = None) -> list[Path]:
    """The numbered notebooks in reading order (optionally only those whose name contains ``pattern``)."""
    nbs = sorted(repo_root().glob(NOTEBOOK_GLOB))
    return [p for p in nbs if pattern is None or pattern in p.name]


def select_notebooks(args: list[str]) -> list[Path]:
    """Notebooks named on the command line (paths or glob patterns, relative to the current folder
    or to the repository root), in the order given, each once. Raises ``ValueError`` naming the
    argument that matches no notebook."""
    chosen: list[Path] = []
    for arg in args:
        matches: list[Path] = []
        for base in (Path.cwd(), repo_root()):
            pattern = str(Path(arg) if Path(arg).is_absolute() else base / arg)
            matches = [Path(m).resolve() for m in sorted(glob.glob(pattern))]
            if matches:
                break
        if not matches:
            raise ValueError(f"no notebook matches {arg!r} (give paths or patterns like notebooks/0[1-6]_*.ipynb)")
        for m in matches:
            if m.suffix != ".ipynb" or not m.is_file():
                raise ValueError(f"{display_path(m)} is not a notebook (.ipynb file)")
            if m not in chosen:
                chosen.append(m)
    return chosen


def strip_run_metadata(path: Path) -> None:
    """Remove papermill's per-run metadata (timestamps, durations) from an executed notebook."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if "tags" in cell.metadata and not cell.metadata["tags"]:
            del cell.metadata["tags"]
    nbformat.write(nb, path)


def run_notebook(path: Path, out: Path | None = None, *, in_place: bool = False,
                 parameters: dict | None = None, threads: int | None = None) -> Path:
    """Execute one notebook with papermill (kernel cwd: the notebook's folder, as in JupyterLab and
    nbval; ``threads`` torch threads, default all cores) and return the executed notebook's path:
    ``out``, the notebook itself (``in_place``), or ``outputs/<stem>/<stem>.ipynb``."""
    if out is None:
        out = path if in_place else repo_root() / "outputs" / path.stem / f"{path.stem}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(
        str(path), str(out), parameters=parameters or {}, kernel_name="python3",
        cwd=str(path.parent), progress_bar=False, log_output=False,
        kernel_manager_class=kernels.kernel_manager_class(kernels.kernel_env(threads, path.resolve().parent)),
    )
    if in_place:
        strip_run_metadata(out)
    return out


def _run_one(path: Path, out: Path, in_place: bool, parameters: dict, threads: int | None) -> dict[str, Any]:
    """Pool task: run one notebook, never raise for a failing notebook (the failure is returned)."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {"notebook": path.stem, "status": "ok", "error": None, "cell": None}
    try:
        run_notebook(path, out, in_place=in_place, parameters=parameters, threads=threads)
    except pm.PapermillExecutionError as e:
        row.update(status="failed", error=f"{e.ename}: {e.evalue}", cell=e.exec_count)
    except Exception as e:  # a kernel that did not start, a notebook that cannot be read: reported, not raised
        row.update(status="failed", error=f"{type(e).__name__}: {e}")
    row["wall_s"] = round(time.perf_counter() - t0, 2)
    return row


def _ignore_sigint() -> None:
    """Pool worker initializer: Ctrl-C reaches every process of the terminal's process group; the
    main process handles it (stops the workers, prints one line), so a worker must not die on it
    with its own traceback of papermill, ipykernel and zmq frames."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_this_worker)


def _stop_this_worker(signum: int, frame: Any) -> None:
    """A worker told to stop (SIGTERM, from :func:`_stop_workers`) kills its kernel and exits at once:
    a kernel shut down mid-cell, or left to notice that its parent is gone, logs to the terminal."""
    kernels.kill_started_kernels()
    os._exit(128 + signum)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued notebooks and end the running ones' workers (their kernels exit with their
    parent; the output folders of the stopped runs keep their INCOMPLETE_RUN.json marker)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()  # SIGTERM: the worker kills its kernel and exits (_stop_this_worker)
    for p in processes:
        p.join(timeout=60)
        if p.is_alive():  # pragma: no cover - a worker stuck in its cleanup
            p.kill()


def _previous_times(out_root: Path) -> dict[str, float]:
    try:
        return {r["notebook"]: float(r["wall_s"]) for r in read_json(out_root / TIMES_NAME)["notebooks"]}
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return {}


def _training(record_dir: Path, since: float) -> dict[str, Any] | None:
    """The ``training`` entry of a metrics.json written after ``since`` (epoch seconds) by a run that
    completed, else None."""
    path = record_dir / RECORD_NAME
    try:
        if path.stat().st_mtime < since or incomplete_run(record_dir) is not None:
            return None
        return read_json(path).get("training")
    except (OSError, ValueError, AttributeError):
        return None


def run_book(notebooks: list[Path], *, workers: int | None = None, in_place: bool = False,
             out_root: Path | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Run ``notebooks`` side by side (``workers`` at once; default one per core) and return one row
    per notebook, in the order given: status, error, wall, training and other seconds.

    ``out_root`` (default ``outputs/``): each notebook writes into ``out_root/<stem>/``; a folder
    other than the default is passed to the notebook as its ``output_dir`` parameter."""
    from tqdm.auto import tqdm

    default_root = repo_root() / "outputs"
    out_root = default_root if out_root is None else Path(out_root).resolve()
    n_workers = workers or min(kernels.cores(), len(notebooks))
    if n_workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    n_workers = min(n_workers, max(1, len(notebooks)))
    threads = None if n_workers == 1 else kernels.threads_per_worker(n_workers)
    previous = _previous_times(out_root)
    order = sorted(notebooks, key=lambda p: -previous.get(p.stem, 0.0))  # stable: reading order when unknown
    start = time.time()
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)  # fork: papermill already imported
    rows: dict[Path, dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=_ignore_sigint) as pool:
        futures = {}
        for nb in order:
            folder = out_root / nb.stem
            out = nb if in_place else folder / f"{nb.stem}.ipynb"
            params = {} if out_root == default_root else {"output_dir": str(folder)}
            futures[pool.submit(_run_one, nb, out, in_place, params, threads)] = nb
        bar = tqdm(total=len(futures), desc=f"book ({n_workers} at once)", unit="notebook", disable=not progress)
        try:
            for fut in as_completed(futures):
                nb = futures[fut]
                row = rows[nb] = fut.result()
                row["threads"] = threads or kernels.cores()
                training = _training(out_root / nb.stem, start)
                row["training_s"] = None if training is None else round(float(training.get("seconds", 0.0)), 2)
                row["fits"] = None if training is None else len(training.get("fits", []))
                row["other_s"] = None if training is None else round(row["wall_s"] - row["training_s"], 2)
                where = display_path(nb) if in_place else display_path(out_root / nb.stem) + "/"
                msg = f"{row['status']:>6}  {nb.stem}  {row['wall_s']:.1f} s -> {where}"
                if row["status"] != "ok":
                    executed = nb if in_place else out_root / nb.stem / f"{nb.stem}.ipynb"
                    msg += (f"\n        {row['error']}\n        see the executed notebook {display_path(executed)}"
                            + (f" (cell {row['cell']})" if row["cell"] else ""))
                bar.write(msg)
                bar.update()
        except KeyboardInterrupt:
            _stop_workers(pool)
            raise
        finally:
            bar.close()
    return [rows[nb] for nb in notebooks]


def summary_table(rows: list[dict[str, Any]]):
    """The per-notebook table ``make book`` prints (a pandas DataFrame indexed by notebook)."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=["notebook", "status", "wall_s", "training_s", "other_s", "fits", "threads"])
    return df.set_index("notebook")


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def format_table(rows: list[dict[str, Any]]) -> str:
    """:func:`summary_table` as printed: seconds to 0.1 s, '-' where a notebook wrote no training entry."""
    seconds = {c: (lambda v: "-" if _missing(v) else f"{v:.1f}") for c in ("wall_s", "training_s", "other_s")}
    counts = {c: (lambda v: "-" if _missing(v) else str(int(v))) for c in ("fits", "threads")}
    return summary_table(rows).to_string(formatters={**seconds, **counts}, na_rep="-")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*",
                    help="notebooks to run: paths or patterns, e.g. notebooks/0[1-6]_*.ipynb (default: all numbered)")
    ap.add_argument("--in-place", action="store_true",
                    help="re-execute the committed notebooks in place (refreshes the outputs nbval compares)")
    ap.add_argument("--only", help="run only notebooks whose file name contains this text")
    ap.add_argument("--workers", type=int, default=None,
                    help="notebooks run side by side (default: one per core; 1 with --in-place)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument("--out", default=None,
                    help="write into OUT/<stem>/ instead of outputs/<stem>/ (passed as each notebook's output_dir)")
    args = ap.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        ap.error(f"--workers must be at least 1, got {args.workers}")
    try:
        nbs = select_notebooks(args.notebooks) if args.notebooks else book_notebooks()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.only:
        nbs = [p for p in nbs if args.only in p.name]
    if not nbs:
        print(f"error: no notebooks match {NOTEBOOK_GLOB!r}" + (f" and --only {args.only!r}" if args.only else ""),
              file=sys.stderr)
        return 2
    workers = args.workers or (1 if args.in_place else None)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    t0 = time.perf_counter()
    try:
        rows = run_book(nbs, workers=workers, in_place=args.in_place, progress=not args.no_progress,
                        out_root=None if args.out is None else Path(args.out))
    except KeyboardInterrupt:
        print(f"interrupted: the notebooks still running were stopped (a stopped run's output folder keeps its "
              f"{INCOMPLETE_NAME} marker)", file=sys.stderr)
        return 130
    wall = time.perf_counter() - t0
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    table = summary_table(rows)
    n_workers = min(workers or kernels.cores(), len(nbs))
    print()
    print(format_table(rows))
    trained = table["training_s"].dropna()
    print(f"book: {len(nbs)} notebooks in {wall:.1f} s wall ({n_workers} at once; sum of notebook walls "
          f"{table['wall_s'].sum():.1f} s, of which training {trained.sum():.1f} s); "
          f"load average {load_before:.2f} at the start, {load_after:.2f} at the end, {kernels.cores()} cores")
    if not args.in_place:
        write_json_atomic((repo_root() / "outputs" if args.out is None else Path(args.out)) / TIMES_NAME,
                          {"wall_s": round(wall, 2), "workers": n_workers, "cores": kernels.cores(),
                           "load_average": [load_before, load_after], "notebooks": rows})
    failed = table[table["status"] != "ok"]
    if len(failed):
        print(f"FAILED: {', '.join(failed.index)} (see the messages above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
