"""The experiment book's shared helpers: data, losses, models, training, metrics, plots, records.

Notebooks start with ``import helpers`` and ``helpers.setup_notebook()``; everything else is a
plain function in one of the submodules below.
"""

from __future__ import annotations

import warnings

from helpers import data, losses, metrics, models, plots, results, train

__all__ = ["data", "losses", "metrics", "models", "plots", "results", "train", "setup_notebook"]


def setup_notebook(seed: int = 0) -> None:
    """Seed everything, request deterministic kernels, and set the book's plot style."""
    train.set_seed(seed)
    plots.set_style()
    # PyTorch says once that deterministic mode is on (warn_only); the notebooks need no such note.
    warnings.filterwarnings("ignore", message=".*deterministic.*", module="torch")
