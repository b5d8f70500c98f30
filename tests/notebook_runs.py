"""Run a book notebook with papermill for the tests (headline metrics, seeds): shared by both."""

from __future__ import annotations

from pathlib import Path

import papermill as pm

from helpers.results import RECORD_NAME, read_json, repo_root

NOTEBOOKS = sorted((repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def run(notebook: Path, out_dir: Path, **parameters) -> dict:
    """Execute ``notebook`` into ``out_dir`` (its output_dir too) and return its metrics.json record."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(str(notebook), str(out_dir / notebook.name), kernel_name="python3",
                        parameters={**parameters, "output_dir": str(out_dir)}, cwd=str(notebook.parent),
                        progress_bar=False, log_output=False)
    return read_json(out_dir / RECORD_NAME)
