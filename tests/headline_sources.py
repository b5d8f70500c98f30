"""Where the headline tests get their expected values: never typed constants.

- :func:`printed_claim_evidence`: the numbers a committed notebook printed in its claim lines
  (``✔ held [id] text  (key=value, ...)``, written by ``helpers.claims``, four significant digits).
  The integrator re-executes the notebooks in place after a change, which refreshes these; the
  headline tests then check that a fresh run (the nbval run of ``make test``) reproduces them.
- :func:`evidence_seed_run`: the rows of an evidence set's results table for the run with a
  notebook's default parameters (the drift test, tests/test_evidence_drift.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd

from helpers.results import repo_root

CLAIM_LINE = re.compile(r"^\S+ (?:held|FAILED|failed|not applicable) \[(?P<id>[\w.-]+)\].*\((?P<ev>[^()]*)\)\s*$")
PAIR = re.compile(r"(?:^|, )(?P<k>[\w.]+)=(?P<v>[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)(?=, |$)")


def printed_claim_evidence(stem: str) -> dict[str, dict[str, float]]:
    """``{claim id: {key: value}}`` for every numeric ``key=value`` a committed notebook printed in a
    claim line (values as printed: four significant digits)."""
    nb = nbformat.read(repo_root() / "notebooks" / f"{stem}.ipynb", as_version=4)
    out: dict[str, dict[str, float]] = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            for line in o.get("text", "").splitlines():
                m = CLAIM_LINE.match(line.strip())
                if m:
                    out.setdefault(m["id"], {}).update({p["k"]: float(p["v"]) for p in PAIR.finditer(m["ev"])})
    return out


def evidence_seed_run(table: pd.DataFrame, manifest: dict[str, Any], params: dict[str, Any]) -> pd.DataFrame:
    """The ok rows of the evidence run whose parameters equal ``params`` (a notebook record's, without
    ``output_dir``) on every key the sweep sets; raises AssertionError naming the first mismatch (an
    evidence set made at other fixed parameters than the notebook's defaults)."""
    fixed = manifest.get("parameters") or {}
    for k, v in fixed.items():
        assert params.get(k) == v, (f"evidence {manifest['sweep']} fixes {k}={v!r}, but the notebook's default run "
                                    f"has {k}={params.get(k)!r}: regenerate the evidence (make evidence)")
    rows = table[table["status"] == "ok"]
    for k in manifest.get("grid") or {}:
        assert k in params, f"the record has no parameter {k!r} the evidence grid varies"
        rows = rows[rows[k] == params[k]]
    assert len(rows), (f"evidence {manifest['sweep']} has no run with "
                       f"{ {k: params.get(k) for k in manifest.get('grid') or {}} }: regenerate it (make evidence)")
    return rows


def notebook_path(stem: str) -> Path:
    return repo_root() / "notebooks" / f"{stem}.ipynb"
