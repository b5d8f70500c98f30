"""How often each claim held over an evidence set's runs, per regime: the multi-seed evidence of a line that
rests on what a check shows rather than on a difference between setups.

Some recipe steps are not "this setup beats that one" but "this check catches that mistake" (the labels-only
split check flags misaligned columns; with shuffled labels the training loss still falls while validation
stays at chance). Their evidence over seeds is the tally of the claims the notebook registered before the
runs: on how many of a set's runs each held, failed or did not apply, per regime, with the seeds where it
failed. Nothing is rescoped here: the tally counts what ``claims_by_run.csv`` recorded.

:func:`tally` reads a committed set's ``claims_by_run.csv`` (every claim of every run, written by
:func:`helpers.evidence.export_sweep`) and its ``results.csv`` (each run's parameters, for its regime);
:func:`words` says one tally row in words ("held on 5 of 5 runs", "held on 4 of 5 runs, failed on seed 3").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

COLUMNS = ["claim", "regime", "runs", "seeds", "held", "failed", "not applicable", "not reached", "failed seeds"]


def tally(folders: Sequence[Path], claims: Sequence[str], regime_of: Callable[[pd.DataFrame], pd.Series]) -> pd.DataFrame:
    """One row per (claim, regime) with :data:`COLUMNS`, in the order of ``claims``; ``regime_of`` maps a
    table of runs' parameters (one row per run) to each run's regime. A claim no run recorded raises
    ``KeyError`` naming the claims the set has."""
    frames = []
    for folder in folders:
        by_run = pd.read_csv(folder / "claims_by_run.csv")
        params = pd.read_csv(folder / "results.csv").drop_duplicates("run_id").set_index("run_id")
        by_run["regime"] = by_run["run_id"].map(regime_of(params))
        frames.append(by_run)
    by_run = pd.concat(frames, ignore_index=True)
    missing = [c for c in claims if c not in set(by_run["claim"])]
    if missing:
        raise KeyError(f"no run recorded the claim(s) {', '.join(missing)} (the set has "
                       f"{', '.join(sorted(set(by_run['claim'])))})")
    rows = []
    for claim in claims:
        for regime, g in by_run[by_run["claim"] == claim].groupby("regime", sort=False):
            counts = g["status"].value_counts()
            failed = sorted({int(s) for s in g.loc[g["status"] == "failed", "seed"]})  # a seed once, whatever its runs
            rows.append({"claim": claim, "regime": regime, "runs": len(g), "seeds": g["seed"].nunique(),
                         "held": int(counts.get("held", 0)), "failed": int(counts.get("failed", 0)),
                         "not applicable": int(counts.get("not applicable", 0)),
                         "not reached": int(counts.get("not reached", 0)),
                         "failed seeds": ", ".join(map(str, failed))})
    return pd.DataFrame(rows, columns=COLUMNS)


def words(row: pd.Series | dict) -> str:
    """A tally row in words: ``held on 4 of 5 runs (failed on seed 3)``, with the runs where it did not
    apply or was not reached."""
    text = f"held on {row['held']} of {row['runs']} runs"
    extra = []
    if row["failed"]:
        seeds = str(row["failed seeds"])
        extra.append(f"failed on seed{'s' if ',' in seeds else ''} {seeds}")
    if row["not applicable"]:
        extra.append(f"not applicable on {row['not applicable']}")
    if row["not reached"]:
        extra.append(f"not reached on {row['not reached']}")
    return text + (f" ({'; '.join(extra)})" if extra else "")
