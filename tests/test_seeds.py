"""Slow: every notebook's recorded claims must hold for seeds 0 to 4.

Run with ``make test-seeds`` (``pytest tests -m slow``); deselected from ``make test``. Each run's
claims come from its ``metrics.json`` (the records the notebook printed): every applicable claim
must have held; a claim whose preconditions fail is "not applicable" and never counts as held. The
per-claim x seed table is written to ``outputs/test_seeds/claims_by_seed.csv`` (and ``.txt``) as the
runs finish, so it can be quoted.
"""

import pandas as pd
import pytest

from helpers.claims import FAILED, HELD
from helpers.results import repo_root, write_bytes_atomic
from tests.notebook_runs import NOTEBOOKS, run

SEEDS = range(5)
SUMMARY = repo_root() / "outputs" / "test_seeds"
_rows: list[dict] = []


def _write_summary() -> None:
    df = pd.DataFrame(_rows)
    table = df.pivot_table(index=["notebook", "claim"], columns="seed", values="status", aggfunc="first").fillna("-")
    SUMMARY.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(SUMMARY / "claims_by_seed.csv", table.to_csv().encode("utf-8"))
    write_bytes_atomic(SUMMARY / "claims_by_seed.txt", table.to_string().encode("utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_claims_hold_for_seed(notebook, seed, tmp_path):
    try:
        record = run(notebook, tmp_path / f"{notebook.stem}-seed{seed}", seed=seed)
    finally:  # a failed run leaves its claims.json: the failing claim is in the summary too
        claims_file = tmp_path / f"{notebook.stem}-seed{seed}" / "claims.json"
        if claims_file.exists():
            from helpers.claims import read_claims

            _rows.extend({"notebook": notebook.stem, "claim": c["id"], "seed": seed, "status": c["status"]}
                         for c in read_claims(claims_file))
            _write_summary()
    assert record["params"]["seed"] == seed
    claims = record.get("claims", [])
    failed = [c["id"] for c in claims if c["status"] == FAILED]
    assert not failed, f"{notebook.stem} seed {seed}: failed claims {failed}"
    assert all(c["status"] == HELD or c["why_not"] for c in claims)
