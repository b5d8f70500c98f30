"""Run the book: execute every numbered notebook with papermill at its default parameters.

``python -m helpers.book`` (what ``make book`` calls) writes each executed notebook to
``outputs/<stem>/<stem>.ipynb`` next to that notebook's ``metrics.json`` and figures, and prints
where everything went. ``python -m helpers.book --in-place`` (``make notebooks``) re-executes the
committed notebooks in place so their stored outputs are the ones nbval compares against; it strips
papermill's timing metadata so a rerun with unchanged results gives a small diff.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
import papermill as pm

from helpers.results import display_path, repo_root

NOTEBOOK_GLOB = "notebooks/[0-9][0-9]_*.ipynb"


def book_notebooks(pattern: str | None = None) -> list[Path]:
    """The numbered notebooks in reading order (optionally only those whose name contains ``pattern``)."""
    nbs = sorted(repo_root().glob(NOTEBOOK_GLOB))
    return [p for p in nbs if pattern is None or pattern in p.name]


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
                 parameters: dict | None = None) -> Path:
    """Execute one notebook with papermill (kernel cwd: the notebook's folder, as in JupyterLab and
    nbval) and return the executed notebook's path: ``out``, the notebook itself (``in_place``), or
    ``outputs/<stem>/<stem>.ipynb``."""
    if out is None:
        out = path if in_place else repo_root() / "outputs" / path.stem / f"{path.stem}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(
        str(path), str(out), parameters=parameters or {}, kernel_name="python3",
        cwd=str(path.parent), progress_bar=False, log_output=False,
    )
    if in_place:
        strip_run_metadata(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--in-place", action="store_true",
                    help="re-execute the committed notebooks in place (refreshes the outputs nbval compares)")
    ap.add_argument("--only", help="run only notebooks whose file name contains this text")
    args = ap.parse_args(argv)
    nbs = book_notebooks(args.only)
    if not nbs:
        print(f"no notebooks match {NOTEBOOK_GLOB!r}" + (f" and {args.only!r}" if args.only else ""), file=sys.stderr)
        return 1
    total = time.perf_counter()
    for nb in nbs:
        t0 = time.perf_counter()
        print(f"running {display_path(nb)} ...", flush=True)
        try:
            out = run_notebook(nb, in_place=args.in_place)
        except pm.PapermillExecutionError as e:
            failed = nb if args.in_place else repo_root() / "outputs" / nb.stem / f"{nb.stem}.ipynb"
            print(f"FAILED {display_path(nb)}: {e.ename}: {e.evalue}\n  see the executed notebook "
                  f"{display_path(failed)} (cell {e.exec_count})", file=sys.stderr)
            return 1
        figs = sorted((repo_root() / "outputs" / nb.stem).glob("*.png"))
        print(f"  done in {time.perf_counter() - t0:.1f} s -> {display_path(out)}; "
              f"{len(figs)} figures and metrics.json in {display_path(repo_root() / 'outputs' / nb.stem)}/")
    print(f"book finished in {time.perf_counter() - total:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
