"""Parameter sweeps: run one notebook over a grid of parameters with papermill, in parallel, resumably.

A sweep is a YAML file::

    notebook: notebooks/04_pos_weight_imbalance.ipynb   # relative to the repository root
    output: outputs/sweeps/imbalance                     # optional; default outputs/sweeps/<spec stem>
    description: pos_weight against label imbalance      # optional free text
    parameters:                                          # fixed for every run
      epochs: 30
    grid:                                                # cartesian product of the lists
      tail: [1.0, 2.5, 5.0]
      seed: [0, 1, 2]

Every run executes the notebook through ``papermill.execute_notebook`` with the fixed and grid
parameters, plus ``output_dir``, which the runner owns (a spec may not set it). Each run gets a
folder under the sweep's output folder, named from its grid values and the first 8 hex digits of
the sha256 of all its parameters (``tail-2.5_seed-3__a1b2c3d4``), holding the executed notebook,
the ``metrics.json`` and figures the notebook wrote, and ``status.json`` (ok / failed with the
error, run time, worker host and pid, parameters, start and finish times). ``status.json`` is
written last: a run is complete exactly when its ``status.json`` exists. ``results.csv`` in the
sweep folder is the tidy table of the sweep (a row per run and setup; failed runs one row with
their error), rewritten atomically as each run finishes.

Running a sweep (the commands run from the repository root, in the book's environment)::

    python -m helpers.sweep sweeps/imbalance.yaml --dry-run     # list the runs, and which are done
    python -m helpers.sweep sweeps/imbalance.yaml               # a local Dask cluster, one worker per core
    python -m helpers.sweep sweeps/imbalance.yaml --workers 4   # fewer workers (each kernel gets cores // 4 threads)
    python -m helpers.sweep sweeps/imbalance.yaml --rerun-failed

or from Python (a report notebook)::

    from helpers import sweep
    res = sweep.run_sweep("sweeps/imbalance.yaml", workers=4)
    res.results                      # the results.csv table as a DataFrame
    sweep.read_results("outputs/sweeps/imbalance")
    sweep.claims_table("outputs/sweeps/imbalance")   # the runs' claims (helpers.claims.sweep_table)

Claims: the book's notebooks record their claims as data (:mod:`helpers.claims`): each run's
``claims.json`` lands in its folder with ``metrics.json`` and the figures, also when the run
failed at a claim (the file names the failed claim). :func:`claims_table` is
``helpers.claims.sweep_table``: which claims held, failed or did not apply on which runs.
Notebook 05 (``notebooks/05_sweep_report.ipynb``) is the report.

Resuming: rerunning a sweep skips every run whose ``status.json`` says ok for the same parameters
(hash) and notebook, and skips earlier failures too (reported as failed) unless ``--rerun-failed``.
Stopping a sweep (Ctrl-C, SIGTERM, or the process killed) loses no completed run: rerun the same
command to do the rest (it also removes the temp files of writes a killed call left half done).
An interrupted ``--rerun-failed`` keeps the earlier rows of ``results.csv`` until their
replacements land. A sweep folder belongs to one sweep: a spec or notebook other than the one
recorded in its ``sweep.json`` is refused there (also by ``--dry-run``) unless ``--force``. One failing run (its notebook raising) is recorded with its error and the
executed notebook, which shows the traceback, and never stops the others.

On a Dask cluster: workers need the project installed (``pip install -e .`` in the same
environment, so ``import helpers`` works and the ``python3`` kernel is that environment's
python), not a shared filesystem: the client sends each run the notebook's text, the worker
executes it into a temporary folder and sends the files back, and the client writes them. Start
a scheduler on one machine and workers on each machine, then point the sweep at the scheduler::

    dask scheduler --port 8786                                   # prints tcp://<host>:8786
    dask worker tcp://<scheduler-host>:8786 --nthreads 1 --nworkers 8   # on each machine
    python -m helpers.sweep sweeps/imbalance.yaml --scheduler tcp://<scheduler-host>:8786

The runner first checks that a Dask scheduler answers there, within 10 s: nothing listening, or
something else listening (the dashboard's port 8787), fails at once with "no Dask scheduler at ADDR".

``--nthreads 1`` matters: a run is a whole notebook, and the runner gives each kernel
``cores // workers-on-that-machine`` torch threads (through ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``),
so choose ``--nworkers`` as the number of runs a machine should do at once. Ctrl-C on the client
stops sending runs; runs already executing on an external cluster's workers finish there and are
not recorded (they rerun next time).

Kernels started in parallel can collide on ports (``ZMQError: Address already in use``, then
``Kernel died before replying to kernel_info``; nteract/papermill#511). The runner serialises
kernel start-up per machine with a file lock in the system temp folder (held until the new
kernel has bound its ports; about 0.3 s per kernel; ``HELPERS_SWEEP_KERNEL_LOCK=0`` turns it off)
and retries, up to 3 times, a run that failed before any cell ran.

Details: each kernel runs in the notebook's folder (as Jupyter would), or in its temporary output
folder on a worker without the repository at that path. Local workers are forked from a fork
server that has imported papermill and ``helpers`` once (Dask's ``forkserver`` method; spawned
where there is none). The CLI exits with 0 when every run of the sweep is ok, 1 when some failed
(this call or earlier), 2 when nothing could start (a bad spec, an output folder that cannot be
written or belongs to another sweep, no scheduler at the address), 130 when interrupted.

The package, by concern: :mod:`~helpers.sweep.spec` (the YAML spec and the plan),
:mod:`~helpers.sweep.execution` (one run on a worker), :mod:`~helpers.sweep.cluster` (the Dask
cluster, the scheduler check),
:mod:`~helpers.sweep.storage` (the sweep folder, results table, lock),
:mod:`~helpers.sweep.runner` (:func:`run_sweep`), :mod:`~helpers.sweep.cli` (``main``).
"""

from __future__ import annotations

import os
import warnings

import pandas as pd

from helpers.sweep.cli import main
from helpers.sweep.cluster import SchedulerError, check_scheduler
from helpers.sweep.execution import execute_run
from helpers.sweep.runner import SweepResult, run_sweep
from helpers.sweep.spec import STATUS_NAME, Run, SpecError, SweepSpec, load_spec, params_hash, plan, run_id
from helpers.sweep.storage import MANIFEST_NAME, RESULTS_NAME, OutputError, check_output, read_results

# Worker processes forked from the preloading fork server re-run ``python -m helpers.sweep``'s main
# module as __mp_main__; runpy then warns that it was already imported. Harmless: silenced.
warnings.filterwarnings("ignore", message=r"'helpers\.sweep(\.__main__)?' found in sys\.modules after import",
                        category=RuntimeWarning)

__all__ = [
    "MANIFEST_NAME",
    "RESULTS_NAME",
    "STATUS_NAME",
    "OutputError",
    "Run",
    "SchedulerError",
    "SpecError",
    "SweepResult",
    "SweepSpec",
    "check_output",
    "check_scheduler",
    "claims_table",
    "execute_run",
    "load_spec",
    "main",
    "params_hash",
    "plan",
    "read_results",
    "run_id",
    "run_sweep",
]


def claims_table(out_dir: str | os.PathLike) -> pd.DataFrame:
    """The sweep's claims, from each run's ``claims.json``: ``helpers.claims.sweep_table(out_dir)``
    (imported when called, so this package does not depend on how the claims module grows)."""
    from helpers.claims import sweep_table

    return sweep_table(out_dir)
