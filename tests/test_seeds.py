"""Slow: every notebook's in-notebook assertions (its claims) must hold for seeds 0 to 4.

Run with ``make test-seeds`` (``pytest tests -m slow``); deselected from ``make test``.
"""

import pytest

from tests.notebook_runs import NOTEBOOKS, run

SEEDS = range(5)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_claims_hold_for_seed(notebook, seed, tmp_path):
    record = run(notebook, tmp_path / f"{notebook.stem}-seed{seed}", seed=seed)
    assert record["params"]["seed"] == seed
