"""Run a book notebook for the tests (headline metrics, seeds): shared by both."""

from __future__ import annotations

from pathlib import Path

from helpers.book import book_notebooks, run_notebook
from helpers.results import RECORD_NAME, read_json, repo_root

NOTEBOOKS = book_notebooks()


def run(notebook: Path, out_dir: Path, threads: int | None = None, **parameters) -> dict:
    """Execute ``notebook`` into ``out_dir`` (its output_dir too) and return its metrics.json record;
    ``threads``: torch threads of the kernel (default all cores)."""
    run_notebook(notebook, out_dir / notebook.name, parameters={**parameters, "output_dir": str(out_dir)},
                 threads=threads)
    return read_json(out_dir / RECORD_NAME)


def record_getter(session_start: float, tmp_path_factory):
    """``get(stem)``: a notebook's record, from ``outputs/<stem>`` when this test session wrote it
    (the nbval run), else from a fresh run into a temporary folder; cached per stem."""
    cache: dict[str, dict] = {}

    def get(stem: str) -> dict:
        if stem not in cache:
            path = repo_root() / "outputs" / stem / RECORD_NAME
            if path.exists() and path.stat().st_mtime >= session_start:
                cache[stem] = read_json(path)
            else:
                cache[stem] = run(repo_root() / "notebooks" / f"{stem}.ipynb", tmp_path_factory.mktemp(stem))
        return cache[stem]

    return get
