"""The drift test: committed evidence must be what the code produces now.

Every committed evidence set whose runs include its notebook's default run (seed 0 and every other
parameter at the notebook's default, apart from :data:`RESULT_NEUTRAL`) is checked here: the notebook is
run now at its defaults with the evidence's torch thread count, and every numeric result it records,
setup by setup, must equal that evidence run's row to :data:`TOLERANCE`. Runs on the same CPU kernels
with the same thread count are repeatable bit for bit, so any difference beyond float printing means the
code changed what the set measured: regenerate it (``python -m helpers.make_evidence <set>``).

Which sets are checked is computed from the committed evidence (:func:`drift_sets`), never a hand-kept
list; :data:`MUST_CHECK` is a floor, so a set that stops containing its notebook's default run (a changed
default, a regenerated set at other parameters) fails here instead of dropping out of the check.

On other float kernels (AVX2 against the AVX-512 the sets were made with) or on a GPU the runs differ by
more than any tolerance worth having (about 0.02 in tuned macro-F1 at seed 0), so the test skips there,
saying why. The kernel family is not enough: on 2026-11-30 another Xeon model with the same AVX-512 code,
packages and thread count gave other floats (finetune's tuned macro-F1 0.7472 against 0.7435 at seed 0;
imbalance and loop_mistakes moved too, checker's MLP did not). So a set records the
:func:`~helpers.results.float_fingerprint` of the machine that made it, and the test compares bit for bit
where this machine's is the same and skips, naming both, where it differs. A set made before fingerprints
were recorded is compared wherever the kernel family is the same.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pandas as pd
import papermill as pm
import pytest
import torch

from helpers import evidence, results
from helpers.results import repo_root
from helpers.sweep.storage import _run_rows
from tests.headline_sources import evidence_seed_run
from tests.notebook_runs import run

RESULT_NEUTRAL = {"on_failed_claim": "record"}  # parameters a sweep sets that change no number
TIMING = {"train_seconds", "epoch_seconds", "seconds", "result.seconds"}
TOLERANCE = 1e-9  # same kernels and threads: the same floats (CSV keeps 17 significant digits)
MUST_CHECK = {"imbalance", "loop_mistakes", "checker", "finetune"}  # the sets that held a default run on 2026-11-30


def notebook_defaults(notebook: Path) -> dict:
    """A notebook's parameters at their defaults (papermill reads the ``parameters`` cell; the values are literals)."""
    return {k: ast.literal_eval(v["default"]) for k, v in pm.inspect_notebook(str(notebook)).items()}


def drift_sets() -> dict[str, tuple[Path, dict]]:
    """``{set: (notebook, default parameters)}`` for every committed evidence set holding its notebook's default run."""
    found = {}
    for manifest in sorted((repo_root() / "evidence").glob("*/sweep.json")):
        ev = evidence.load(manifest.parent)
        notebook = repo_root() / "notebooks" / Path(ev.manifest["notebook"]).name
        params = {**notebook_defaults(notebook), **RESULT_NEUTRAL}
        params.pop("output_dir", None)
        try:
            evidence_seed_run(ev.table, ev.manifest, params)
        except AssertionError:
            continue
        found[manifest.parent.name] = (notebook, params)
    return found


DRIFT_SETS = drift_sets()


def test_the_sets_that_hold_a_default_run_are_checked():
    assert MUST_CHECK <= set(DRIFT_SETS), (
        f"evidence sets {sorted(MUST_CHECK - set(DRIFT_SETS))} no longer hold their notebook's default run, so the "
        "drift test cannot check them: regenerate them at the notebook's defaults, or say here why not")


def _comparable(rows: pd.DataFrame, skip: set[str]) -> pd.DataFrame:
    """The numeric results of one run's rows, in order: no timings, no ``skip`` columns (the sweep's
    parameters) and no column this run left empty (one another run of the set filled)."""
    cols = [c for c in rows.columns if c not in TIMING | skip and pd.api.types.is_numeric_dtype(rows[c])
            and rows[c].notna().any()]
    return rows[cols].reset_index(drop=True)


def differences(expected: pd.DataFrame, got: pd.DataFrame, params: set[str] = frozenset(),
                tol: float = TOLERANCE) -> list[str]:
    """Where a fresh run's rows differ from an evidence run's rows (same order: setup by setup);
    ``params``: the sweep's parameter columns, not compared."""
    if list(expected["setup"]) != list(got["setup"]):
        return [f"setups {list(got['setup'])} now, {list(expected['setup'])} in the evidence"]
    a, b = _comparable(expected, set(params)), _comparable(got, set(params))
    off = [f"column {c!r} is in the evidence, not in the run" for c in a.columns if c not in b.columns]
    for c in a.columns.intersection(b.columns):
        for i, (x, y) in enumerate(zip(a[c], b[c], strict=True)):
            same = (math.isnan(x) and math.isnan(y)) if (math.isnan(x) or math.isnan(y)) else abs(x - y) <= tol
            if not same:
                off.append(f"{expected['setup'].iloc[i]} {c}: run {y!r}, evidence {x!r}")
    return off


@pytest.mark.parametrize("name", sorted(DRIFT_SETS))
def test_evidence_matches_the_notebooks_default_run(name, tmp_path):
    notebook, params = DRIFT_SETS[name]
    ev = evidence.load(repo_root() / "evidence" / name)
    made = ev.provenance.get("env", {})
    here = torch.backends.cpu.get_cpu_capability()
    if made.get("cpu_capability") != here or (made.get("device") == "cpu" and torch.cuda.is_available()):
        pytest.skip(f"evidence/{name} was made on {made.get('device')} with {made.get('cpu_capability')} kernels; this "
                    f"machine has {here}{' and a GPU' if torch.cuda.is_available() else ''}: the floats differ")
    if made.get("float_fingerprint") not in (None, results.float_fingerprint()):
        pytest.skip(f"evidence/{name} was made on a machine whose float fingerprint is {made['float_fingerprint']}; "
                    f"this one's is {results.float_fingerprint()}: the same code gives other floats here")
    (threads,) = ev.provenance["threads"]["torch_threads"]
    expected = evidence_seed_run(ev.table, ev.manifest, params)
    out = tmp_path / "run"
    run(notebook, out, threads=threads, **RESULT_NEUTRAL)
    got = pd.DataFrame(_run_rows(out, {"status": "ok", "run_id": "now", "params": {}}))
    off = differences(expected, got, {*ev.manifest.get("grid", {}), *ev.manifest.get("parameters", {})})
    assert not off, (f"evidence/{name} no longer matches what {notebook.name} produces at its defaults "
                     f"({threads} torch thread(s)); regenerate it: python -m helpers.make_evidence {name}\n"
                     + "\n".join(off[:20]) + (f"\n... and {len(off) - 20} more" if len(off) > 20 else ""))


def test_the_checked_sets_record_the_float_fingerprint_of_their_machine():
    missing = [n for n in sorted(MUST_CHECK) if not evidence.load(repo_root() / "evidence" / n).provenance.get(
        "env", {}).get("float_fingerprint")]
    assert not missing, f"evidence sets {missing} do not record their machine's float fingerprint: regenerate them"


def test_the_float_fingerprint_is_repeatable_and_sees_other_kernels():
    """Same process, same machine: the same hash (it runs at one thread whatever the setting); other kernels
    (AVX2 forced in a child process): another hash."""
    import os
    import subprocess
    import sys

    here = results.float_fingerprint()
    assert len(here) == 12 and results.float_fingerprint.__wrapped__() == here
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert results.float_fingerprint.__wrapped__() == here
        assert torch.get_num_threads() == 2  # restored
    finally:
        torch.set_num_threads(threads)
    if torch.backends.cpu.get_cpu_capability() != "AVX512":
        return
    code = "from helpers import results; print(results.float_fingerprint())"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert other.stdout.strip() != here


def test_differences_names_what_moved():
    ev = pd.DataFrame({"setup": ["a", "b"], "macro_f1": [0.5, 0.7], "seconds": [1.0, 2.0], "map": [0.1, float("nan")]})
    same = ev.assign(seconds=[9.0, 9.0])
    assert differences(ev, same) == []
    moved = same.assign(macro_f1=[0.5, 0.7 + 1e-6])
    assert differences(ev, moved) == ["b macro_f1: run 0.700001, evidence 0.7"]
    assert differences(ev, same.assign(map=[0.1, 0.2])) == ["b map: run 0.2, evidence nan"]
    assert "setups" in differences(ev, same.iloc[::-1])[0]
    assert differences(ev, same.drop(columns="map")) == ["column 'map' is in the evidence, not in the run"]
    assert differences(ev.assign(seed=[0, 0]), same.assign(seed=[1, 1]), {"seed"}) == []  # parameters are not results
    assert differences(ev.assign(other=[float("nan")] * 2), same) == []  # a column another run filled


def test_drift_sets_reads_defaults_from_the_parameters_cell():
    params = notebook_defaults(repo_root() / "notebooks" / "04_pos_weight_imbalance.ipynb")
    assert params["seed"] == 0 and isinstance(params["epochs"], int) and "output_dir" in params
