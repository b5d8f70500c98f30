"""The experiment book's shared helpers: data, losses, models, training, metrics, plots, records.

Notebooks start with ``import helpers`` and ``helpers.setup_notebook()``; everything else is a
plain function in one of the submodules below. Submodules are imported on first use (PEP 562), so
``python -m helpers.sweep`` and the sweep's worker processes do not pay for torch and seaborn
before they need them.
"""

from __future__ import annotations

import importlib
import warnings

SUBMODULES = ("bench", "book", "claims", "data", "diagnose", "evidence", "finetune", "frontdoor", "gpu_check", "kernels",
              "labels", "losses", "make_evidence", "metrics", "mistakes", "models", "params", "plots", "results", "stats",
              "sweep", "train")
__all__ = [*SUBMODULES, "setup_notebook"]


def __getattr__(name: str):
    if name in SUBMODULES:
        return importlib.import_module(f"helpers.{name}")
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def setup_notebook(seed: int = 0) -> None:
    """Seed everything, request deterministic kernels, and set the book's plot style.

    Torch is seeded (and asked for deterministic kernels) when the notebook has imported it, as
    every notebook that trains has (``helpers.train``, ``models`` and ``losses`` import it); a
    notebook that never touches torch (01, 05) does not pay seconds to import it. Python's and
    NumPy's generators are always seeded. ``helpers.train.fit`` and ``helpers.models.build_model``
    seed torch themselves from their ``seed`` argument.
    """
    import random
    import sys

    import numpy as np

    from helpers import plots

    if "torch" in sys.modules:
        from helpers import train

        train.set_seed(seed)
    else:
        random.seed(seed)
        np.random.seed(seed)  # noqa: NPY002 -- seeds the legacy global RNG that user code may still use
    plots.set_style()
    # PyTorch says once that deterministic mode is on (warn_only); the notebooks need no such note.
    warnings.filterwarnings("ignore", message=".*deterministic.*", module="torch")
