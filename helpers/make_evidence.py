"""``make evidence``: regenerate every committed evidence set from its sweep spec (each set's runs in parallel).

Each set in :data:`SETS` is a sweep spec in ``sweeps/``; its runs go to
``outputs/evidence_runs/<commit>/<set>`` (so a rerun at the same commit resumes and a new commit
starts fresh), the sets run one after another on one local Dask cluster (or the cluster at ``--scheduler``), and each
finished sweep is copied into ``evidence/<set>/`` by :func:`helpers.evidence.export_sweep` (table,
spec, claims, provenance with the commit, environment, threads, package versions and code hashes).
The sets of :data:`MADE_BY` are not sweeps of a notebook; each has its own maker (``thresholds``:
:mod:`helpers.threshold_rules`), run after the sweeps with the same number of worker processes.
The wall time of each set and of the whole call is printed at the end.

Every run trains with one torch thread (:data:`THREADS`), whatever the number of workers or the machine's
cores: a run's numbers depend on its thread count (float sums run in another order), and a set must give
the same numbers when regenerated. ``evidence/loop_mistakes`` made with two threads per run and regenerated
with one differed by up to 0.08 in macro-F1 on single runs (the ``lr x10`` setup, seed 3).

    python -m helpers.make_evidence                 # every set, one worker per core
    python -m helpers.make_evidence imbalance --workers 2
    python -m helpers.make_evidence --dry-run       # the runs each set would make
    python -m helpers.make_evidence --recorded      # what the committed sets' runs took, against the budget

Refused when ``helpers/``, ``notebooks/`` or ``sweeps/`` have uncommitted changes (the evidence must
name the code that made it; ``--allow-dirty`` overrides, and the provenance then says so). Exit
status: 0 every run ok and exported, 1 some run failed (the set is not exported; rerun to retry
with ``--rerun-failed``), 2 nothing could start.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from helpers import results

THREADS = 1  # torch threads of every evidence run (see the module docstring); tests check the committed sets

# set name -> sweep spec; `make evidence` regenerates all of them
SETS = {
    "imbalance": "sweeps/imbalance.yaml",
    "pos_weight_dose": "sweeps/pos_weight_dose.yaml",
    "pos_weight_dose_large": "sweeps/pos_weight_dose_large.yaml",
    "pos_weight_dose_more": "sweeps/pos_weight_dose_more.yaml",
    "pos_weight_budget": "sweeps/pos_weight_budget.yaml",
    "wrong_loss": "sweeps/wrong_loss.yaml",
    "wrong_loss_yeast": "sweeps/wrong_loss_yeast.yaml",
    "wrong_loss_full": "sweeps/wrong_loss_full.yaml",
    "model_selection": "sweeps/model_selection.yaml",
    "label_problems": "sweeps/label_problems.yaml",
    "label_problems_yeast": "sweeps/label_problems_yeast.yaml",
    "loop_mistakes": "sweeps/loop_mistakes.yaml",
    "loop_mistakes_yeast": "sweeps/loop_mistakes_yeast.yaml",
    "many_labels": "sweeps/many_labels.yaml",
    "finetune": "sweeps/finetune.yaml",
    "real_benchmarks": "sweeps/real_benchmarks.yaml",
    "real_benchmarks_many": "sweeps/real_benchmarks_many.yaml",
    "splits": "sweeps/splits.yaml",
    "checker": "sweeps/checker.yaml",
    "front_door_causes": "sweeps/front_door_causes.yaml",
    "start_here": "sweeps/start_here.yaml",
    "bce_stability": "sweeps/bce_stability.yaml",
    "bce_stability_yeast": "sweeps/bce_stability_yeast.yaml",
    "pos_weight_real": "sweeps/pos_weight_real.yaml",
    "front_door_causes_yeast": "sweeps/front_door_causes_yeast.yaml",
    "model_selection_yeast": "sweeps/model_selection_yeast.yaml",
    "start_here_yeast": "sweeps/start_here_yeast.yaml",
    "splits_yeast": "sweeps/splits_yeast.yaml",
}
# Sets that are not sweeps of a notebook: set name -> the module whose ``make(dest, workers=...)`` writes it
MADE_BY = {
    "thresholds": "helpers.threshold_rules",
}
ALL = [*SETS, *MADE_BY]


def _dirty() -> list[str]:
    out = subprocess.run(["git", "status", "--porcelain", "--", "helpers", "notebooks", "sweeps"],
                         cwd=results.repo_root(), capture_output=True, text=True, check=False)
    return [line[3:] for line in out.stdout.splitlines() if line.strip()]


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=results.repo_root(),
                         capture_output=True, text=True, check=False)
    return out.stdout.strip() or "nocommit"


def run_sets(names: Sequence[str], workers: int, scheduler: str | None = None, rerun_failed: bool = False,
             out_root: Path | None = None) -> dict[str, dict]:
    """Run the named sets' sweeps together on one cluster and export the complete ones; returns
    ``{name: {"seconds", "ok", "failed", "exported"}}``."""
    from helpers import evidence, sweep
    from helpers.sweep.cluster import _forkserver_workers

    root = out_root or results.repo_root() / "outputs" / "evidence_runs" / _commit()
    specs = {n: sweep.load_spec(results.repo_root() / SETS[n], output=root / n) for n in names if n in SETS}
    made = [n for n in names if n in MADE_BY]
    report: dict[str, dict] = {}

    def one(name: str, address: str) -> None:
        t0 = time.perf_counter()
        res = sweep.run_sweep(specs[name], scheduler=address, rerun_failed=rerun_failed, progress=False,
                              threads=THREADS)
        report[name] = {"seconds": round(time.perf_counter() - t0, 1), "failed": len(res.failed), "exported": None}

    if not specs:
        address, cluster = None, None
    elif scheduler:
        address, cluster = scheduler, None
    else:
        from distributed import LocalCluster

        with _forkserver_workers():
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        address = cluster.scheduler_address
    try:
        # One set after another on the cluster. Run side by side (one client per set on the same scheduler),
        # the sets stalled on 2026-11-30: once one set's sweep finished, the kernels of the others were
        # interrupted ("KeyboardInterrupt caught in kernel") and their remaining runs were never scheduled.
        for n in specs:
            one(n, address)
    finally:
        if cluster is not None:
            cluster.close(timeout=30)
    for name, spec in specs.items():
        if report[name]["failed"] == 0:
            report[name]["exported"] = results.display_path(evidence.export_sweep(spec.output,
                                                                                  results.repo_root() / "evidence" / name))
    for name in made:  # not sweeps: each maker trains in its own worker processes and writes evidence/<name>
        t0 = time.perf_counter()
        dest = importlib.import_module(MADE_BY[name]).make(results.repo_root() / "evidence" / name, workers=workers)
        report[name] = {"seconds": round(time.perf_counter() - t0, 1), "failed": 0, "exported": results.display_path(dest)}
    return report


BUDGET_MINUTES = 90  # issue 15: every set on the 2-core machine in at most 90 minutes


def recorded(names: Sequence[str], workers: int) -> tuple[list[dict], str]:
    """What the committed evidence sets' runs took (``--recorded``): per set, its runs and the seconds they
    ran (``run_seconds`` in its ``provenance.json``, each run's own wall time, one torch thread), and the
    total against :data:`BUDGET_MINUTES`. The projected wall time on ``workers`` workers is the total over
    the workers: a lower bound (the runs of a set are not all the same length, and the runs' seconds were
    measured with other work beside them). Returns the rows and a closing line."""
    rows = []
    for n in names:
        prov = results.repo_root() / "evidence" / n / "provenance.json"
        data = results.read_json(prov) if prov.is_file() else {}
        rows.append({"set": n, "runs": data.get("runs"), "run_seconds": data.get("run_seconds"),
                     "made": str(data.get("last_finish") or "")[:10], "commit": str(data.get("commit") or "")[:7]})
    known = [r["run_seconds"] for r in rows if isinstance(r["run_seconds"], int | float)]
    total = float(sum(known))
    missing = [r["set"] for r in rows if not isinstance(r["run_seconds"], int | float)]
    line = (f"recorded: {len(known)} set(s), {sum(r['runs'] or 0 for r in rows)} runs, {total:.0f} s of runs "
            f"({total / 60:.0f} min); on {workers} worker(s) at least {total / workers / 60:.0f} min wall, against a "
            f"budget of {BUDGET_MINUTES} min: {'within' if total / workers / 60 <= BUDGET_MINUTES else 'OVER'} it")
    if missing:
        line += f"; no record of the runs' seconds for {', '.join(missing)}"
    return rows, line


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.make_evidence", description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="*", help=f"sets to regenerate (default: all of {', '.join(ALL)})")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="local worker processes (default: cores)")
    ap.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="an existing Dask scheduler instead of a local cluster")
    ap.add_argument("--rerun-failed", action="store_true", help="retry runs that failed in an earlier call")
    ap.add_argument("--dry-run", action="store_true", help="list each set's runs; run nothing")
    ap.add_argument("--recorded", action="store_true", help="what the committed sets' runs took (their provenance), "
                    f"against the {BUDGET_MINUTES}-minute budget; run nothing")
    ap.add_argument("--allow-dirty", action="store_true", help="run although helpers/, notebooks/ or sweeps/ have "
                    "uncommitted changes")
    a = ap.parse_args(argv)
    unknown = [n for n in a.sets if n not in ALL]
    if unknown:
        print(f"error: unknown evidence set {unknown[0]!r}; the sets: {', '.join(ALL)}", file=sys.stderr)
        return 2
    names = a.sets or list(ALL)
    if a.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    if a.recorded:
        import pandas as pd

        rows, line = recorded(names, a.workers)
        print(pd.DataFrame(rows).to_string(index=False))
        print(line)
        return 0
    if a.dry_run:
        from helpers.sweep import main as sweep_main

        for n in names:
            if n in MADE_BY:
                print(f"{n}: not a sweep; python -m {MADE_BY[n]} trains and scores it (see its docstring)")
        return max((sweep_main([SETS[n], "--dry-run", "--out", f"outputs/evidence_runs/{_commit()}/{n}"])
                    for n in names if n in SETS), default=0)
    dirty = _dirty()
    if dirty and not a.allow_dirty:
        print(f"error: uncommitted changes in {', '.join(dirty[:3])}{' ...' if len(dirty) > 3 else ''}: commit them "
              "first (the evidence records the commit that made it), or pass --allow-dirty", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        report = run_sets(names, a.workers, a.scheduler, a.rerun_failed)
    except (ValueError, RuntimeError) as e:  # SpecError, SchedulerError, export refusals
        print(f"error: {e}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - t0
    for name, r in report.items():
        print(f"{name}: {r['seconds']:.0f} s, {r['failed']} failed run(s); "
              + (f"exported to {r['exported']}" if r["exported"] else "not exported (rerun with --rerun-failed)"))
    print(f"make evidence: {len(report)} set(s) in {wall:.0f} s wall ({wall / 60:.1f} min) with "
          f"{a.scheduler or f'{a.workers} local workers'}")
    return 0 if all(r["exported"] for r in report.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
