"""Root pytest configuration: run order for the one test command.

``make test`` runs ``pytest tests notebooks --nbval ...``: unit tests first (fast failures), then
the notebooks under nbval (which write ``outputs/<stem>/metrics.json``), then the headline-metric
tests that read those records.
"""

import time

import pytest

SESSION_START = time.time()


def pytest_configure(config):
    """Remember when the session started: headline tests trust only records written since."""
    config.session_start_time = SESSION_START


def _order(item: pytest.Item) -> int:
    if item.get_closest_marker("headlines"):
        return 2
    if item.path.suffix == ".ipynb":
        return 1
    return 0


def pytest_collection_modifyitems(config, items):
    items.sort(key=_order)  # stable: keeps file and cell order inside each group


# Notebooks under tests/ are fixtures for the sweep tests, not part of the book's nbval run.
collect_ignore_glob = ["tests/fixtures/*"]
