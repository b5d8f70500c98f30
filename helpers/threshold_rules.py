"""The threshold-rule evidence set, ``evidence/thresholds``: what :func:`helpers.metrics.tune_thresholds` does, measured.

Per-label thresholds tuned on validation F1 over the logit-spaced grid (0.001 to 0.999) are compared with a
fixed 0.5, with the book's earlier grid (0.05 to 0.95 in steps of 0.05, which clipped rare and reweighted
labels at its ends), and with a fallback to 0.5 for labels with fewer than 3, 5 or 10 validation positives.
The models are notebook 04's at its defaults (4,000 / 1,000 / 2,000 long-tailed scenes, tail 3.3, 15
epochs, one torch thread): plain BCE and ``neg_over_pos``, seeds 0-4. Each rule is scored on test
macro-F1 and judged with :mod:`helpers.stats` (paired per seed against the logit grid with
``min_positives=1``, Holm across the table, smallest effect of interest ``stats.SESOI["macro_f1"]``).

It is not a sweep of a notebook (the rules are scored from the two models' probabilities), so it has
its own maker, which ``make evidence`` calls like the sweep sets::

    python -m helpers.threshold_rules              # regenerate evidence/thresholds
    python -m helpers.make_evidence thresholds     # the same, timed with the other sets

It writes ``results.csv`` (test macro-F1 per seed, setup and rule, with the thresholds), ``judged.csv``
(the paired comparisons), ``measure.log`` (the means and the verdicts in words) and ``provenance.json``
(commit, environment, package versions, code hashes, seconds), all into a staging folder first and
swapped in when every file is written.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import metrics, results, stats
from helpers.make_evidence import THREADS

SET = "thresholds"
SETUPS = ("bce_with_logits", "bce_with_logits+neg_over_pos")
SEEDS = (0, 1, 2, 3, 4)
# notebook 04's defaults
SIZES = {"n_train": 4000, "n_val": 1000, "n_test": 2000, "objects": 3, "tail": 3.3, "epochs": 15,
         "batch_size": 128, "lr": 0.003}
OLD_GRID = np.round(np.linspace(0.05, 0.95, 19), 10)  # the book's earlier grid
FALLBACKS = (1, 3, 5, 10)  # min_positives: below this many validation positives a label keeps 0.5
REFERENCE = "logit grid, min 1"
FILES = ("results.csv", "judged.csv", "measure.log", "provenance.json")


def probabilities(seed: int, sizes: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Train :data:`SETUPS` on notebook 04's scenes at ``seed`` (one torch thread, CPU) and return the
    validation and test labels and each setup's validation and test probabilities."""
    import torch

    from helpers import data, losses, models, train

    torch.set_num_threads(THREADS)
    sz = {**SIZES, **(sizes or {})}
    d = data.load_data("scenes", seed=seed, n_train=sz["n_train"], n_val=sz["n_val"], n_test=sz["n_test"],
                       objects=sz["objects"], tail=sz["tail"])
    out = {"Y_val": d.Y_val, "Y_test": d.Y_test}
    for name in SETUPS:
        loss_name, strategy = losses.parse_setup(name)
        setup = losses.get_loss(loss_name)
        model = models.build_model(d, output=setup.model_output, seed=seed)
        r = train.fit(model, d, setup, pos_weight=strategy, epochs=sz["epochs"], batch_size=sz["batch_size"],
                      lr=sz["lr"], seed=seed, device="cpu", progress=False)
        out[name + "/val"], out[name + "/test"] = r.predict_proba(d.X_val), r.predict_proba(d.X_test)
    return out


def rule_rows(seed: int, probs: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Test macro-F1 of each rule for each setup of one seed's :func:`probabilities`."""
    y_val, y_test = probs["Y_val"], probs["Y_test"]
    rows = []
    for setup in SETUPS:
        pv, pt = probs[setup + "/val"], probs[setup + "/test"]
        rules = {"fixed 0.5": np.full(pv.shape[1], 0.5), "old grid 0.05-0.95": metrics.tune_thresholds(y_val, pv, grid=OLD_GRID)}
        for k in FALLBACKS:
            rules[f"logit grid, min {k}"] = metrics.tune_thresholds(y_val, pv, min_positives=k)
        for rule, t in rules.items():
            m = metrics.evaluate(y_test, pt, threshold=t)
            rows.append({"seed": seed, "setup": setup, "rule": rule, "macro_f1": m["macro_f1"],
                         "fallback_labels": int((y_val.sum(0) < int(rule.split()[-1])).sum()) if "min" in rule else 0,
                         "val_positives_rarest": int(y_val.sum(0).min()),
                         "thresholds": " ".join(f"{x:.4g}" for x in t)})
    return rows


def judge(table: pd.DataFrame) -> pd.DataFrame:
    """Each rule minus :data:`REFERENCE`, per setup, paired by seed, judged together (Holm)."""
    wide = table.pivot_table(index=["setup", "seed"], columns="rule", values="macro_f1")
    diffs = {(setup, rule): (wide.loc[setup, rule] - wide.loc[setup, REFERENCE]).to_numpy()
             for setup in wide.index.get_level_values(0).unique() for rule in wide.columns if rule != REFERENCE}
    judged = stats.judge(diffs, metric="macro_f1")
    judged.index = judged.index.set_names(["setup", "rule"])
    return judged


def report(table: pd.DataFrame, judged: pd.DataFrame) -> str:
    """The text of ``measure.log``: mean test macro-F1 per rule and setup, then each verdict in words."""
    wide = table.pivot_table(index=["setup", "seed"], columns="rule", values="macro_f1")
    lines = [wide.groupby(level=0).mean().round(3).T.to_string(), ""]
    lines += ["- " + stats.sentence(r, f"{setup}: {rule} minus {REFERENCE}, test macro-F1")
              for (setup, rule), r in judged.iterrows()]
    return "\n".join(lines) + "\n"


def _one_seed(seed: int, sizes: dict[str, Any] | None) -> tuple[list[dict[str, Any]], float]:
    t0 = time.perf_counter()
    rows = rule_rows(seed, probabilities(seed, sizes))
    return rows, time.perf_counter() - t0


def _commit() -> str | None:
    out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=results.repo_root(),
                         capture_output=True, text=True, check=False)
    return out.stdout.strip() or None


def make(dest: str | os.PathLike | None = None, *, seeds: Sequence[int] = SEEDS, workers: int = 1,
         sizes: dict[str, Any] | None = None) -> Path:
    """Train, score and judge every seed (``workers`` processes, one torch thread each) and write the set
    into ``dest`` (default ``evidence/thresholds``); nothing in ``dest`` changes unless every file was
    written. Returns ``dest``."""
    from helpers import evidence

    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    final = Path(dest) if dest is not None else results.repo_root() / "evidence" / SET
    if final.exists() and not final.is_dir():
        raise ValueError(f"{results.display_path(final)} is a file; give a folder for the {SET} evidence")
    started = pd.Timestamp.now("UTC").isoformat()
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(seeds)), mp_context=ctx) as pool:
        done = list(pool.map(_one_seed, seeds, [sizes] * len(seeds)))
    table = pd.DataFrame([row for rows, _ in done for row in rows])
    judged = judge(table)
    commit = _commit()
    provenance = {
        "set": SET, "maker": "python -m helpers.threshold_rules", "commit": commit, "first_start": started,
        "last_finish": pd.Timestamp.now("UTC").isoformat(), "wall_seconds": round(time.perf_counter() - t0, 1),
        "runs": len(seeds), "run_seconds": round(sum(s for _, s in done), 1), "seeds": list(seeds),
        "setups": list(SETUPS), "sizes": {**SIZES, **(sizes or {})}, "torch_threads": THREADS,
        "env": results.env_info("cpu"), "packages": evidence._package_versions(),
        "code": evidence.code_hashes(commit, "helpers/threshold_rules.py"),
    }
    with evidence.staged(final, FILES) as out:
        table.to_csv(out / "results.csv", index=False)
        judged.to_csv(out / "judged.csv")
        (out / "measure.log").write_text(report(table, judged), encoding="utf-8")
        results.write_json_atomic(out / "provenance.json", provenance)
    return final


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.threshold_rules", description=__doc__.splitlines()[0])
    ap.add_argument("--dest", help="folder to write (default: evidence/thresholds)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: cores)")
    a = ap.parse_args(argv)
    try:
        dest = make(a.dest, workers=a.workers)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print((dest / "measure.log").read_text(encoding="utf-8"), end="")
    print(f"written: {results.display_path(dest)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
