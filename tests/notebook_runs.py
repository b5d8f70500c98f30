"""Run a book notebook for the tests (headline metrics, seeds): shared by both."""

from __future__ import annotations

from pathlib import Path

from helpers.book import book_notebooks, run_notebook
from helpers.results import RECORD_NAME, read_json

NOTEBOOKS = book_notebooks()


def run(notebook: Path, out_dir: Path, **parameters) -> dict:
    """Execute ``notebook`` into ``out_dir`` (its output_dir too) and return its metrics.json record."""
    run_notebook(notebook, out_dir / notebook.name, parameters={**parameters, "output_dir": str(out_dir)})
    return read_json(out_dir / RECORD_NAME)
