"""The sweep command line: ``python -m helpers.sweep SPEC.yaml [options]`` (see :func:`main`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from helpers.results import display_path
from helpers.sweep.cluster import SchedulerError
from helpers.sweep.runner import run_sweep
from helpers.sweep.spec import SpecError, SweepSpec, load_spec, plan
from helpers.sweep.storage import check_output


def _fmt_params(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={json.dumps(v)}" for k, v in params.items())


def _dry_run(spec: SweepSpec, rerun_failed: bool) -> None:
    runs = plan(spec)
    todo = sum(r.will_run(rerun_failed) for r in runs)
    print(f"sweep {spec.name}: {len(runs)} runs of {spec.notebook} -> {display_path(spec.output)}; "
          f"{todo} to run, {len(runs) - todo} to skip")
    if spec.parameters:
        print(f"  fixed: {_fmt_params(spec.parameters)}")
    width = max(len(r.run_id) for r in runs)
    for r in runs:
        if r.previous == "ok":
            what = "skip (done)"
        elif r.previous == "failed":
            what = "rerun (failed)" if rerun_failed else "skip (failed)"
        else:
            what = "run"
        print(f"  {r.run_id:<{width}}  {what:<14}  {_fmt_params(r.grid)}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.sweep SPEC.yaml [--dry-run] [--rerun-failed] [--scheduler ADDR]
    [--workers N] [--out DIR] [--force]``. Exit status: 0 all runs ok, 1 some failed, 2 nothing
    could start (a bad spec, an output folder that cannot be written or holds another sweep, no
    scheduler at the address; one line on stderr), 130 interrupted."""
    ap = argparse.ArgumentParser(
        prog="python -m helpers.sweep",
        description="Run a notebook over a grid of parameters (papermill + Dask), resumably.",
        epilog="Completed runs are skipped when a sweep is rerun; see the helpers.sweep docstring.",
    )
    ap.add_argument("spec", help="sweep spec (YAML), e.g. sweeps/smoke.yaml")
    ap.add_argument("--dry-run", action="store_true", help="list the runs and which would be skipped; run nothing")
    ap.add_argument("--rerun-failed", action="store_true", help="retry runs that failed in an earlier call")
    ap.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="use this Dask scheduler instead of a local cluster")
    ap.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: one per core)")
    ap.add_argument("--out", metavar="DIR", help="sweep output folder (default: the spec's output)")
    ap.add_argument("--force", action="store_true",
                    help="write into an output folder that holds another notebook's or spec's sweep")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar (a line per finished run instead)")
    args = ap.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        ap.error("--workers must be at least 1")
    try:
        spec = load_spec(args.spec, output=args.out)
        check_output(spec, force=args.force)
    except SpecError as e:  # OutputError included
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        _dry_run(spec, args.rerun_failed)
        return 0

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    with contextlib.suppress(ValueError):  # only possible in the main thread
        signal.signal(signal.SIGTERM, on_term)
    try:
        res = run_sweep(spec, workers=args.workers, scheduler=args.scheduler,
                        rerun_failed=args.rerun_failed, progress=not args.no_progress, force=args.force)
    except (SpecError, SchedulerError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0 if not res.failed else 1

