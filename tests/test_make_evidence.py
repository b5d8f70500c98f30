"""`make evidence` (helpers.make_evidence): every committed sweep evidence set has a spec it regenerates from."""

import pytest

from helpers import make_evidence, sweep
from helpers.results import repo_root


def test_every_evidence_sweep_is_regenerated_by_make_evidence():
    made_by_sweeps = {p.parent.name for p in (repo_root() / "evidence").glob("*/sweep.json")}
    assert made_by_sweeps <= set(make_evidence.SETS), (
        f"evidence sets without a spec in make_evidence.SETS: {sorted(made_by_sweeps - set(make_evidence.SETS))}")


@pytest.mark.parametrize("name", sorted(make_evidence.SETS))
def test_each_set_spec_is_valid_and_has_five_seeds(name):
    spec = sweep.load_spec(repo_root() / make_evidence.SETS[name])
    assert spec.name == name and len(spec.grid.get("seed", [])) >= 5


def test_cli_refuses_unknown_sets_and_lists_runs(capsys):
    assert make_evidence.main(["nope"]) == 2
    assert "unknown evidence set 'nope'" in capsys.readouterr().err
    assert make_evidence.main(["imbalance", "--dry-run"]) == 0
    assert "sweep imbalance: 10 runs" in capsys.readouterr().out
    assert make_evidence.main(["--workers", "0"]) == 2


def test_refuses_uncommitted_code(monkeypatch, capsys):
    monkeypatch.setattr(make_evidence, "_dirty", lambda: ["helpers/metrics.py"])
    assert make_evidence.main(["imbalance"]) == 2
    assert "uncommitted changes in helpers/metrics.py" in capsys.readouterr().err


def test_recorded_sums_the_runs_seconds_of_the_committed_sets_against_the_budget(capsys):
    import json

    from helpers import results

    names = list(make_evidence.SETS)
    rows, line = make_evidence.recorded(names, workers=2)
    total = 0.0
    for n in names:
        prov = results.repo_root() / "evidence" / n / "provenance.json"
        total += float(json.loads(prov.read_text())["run_seconds"])
    assert [r["set"] for r in rows] == names
    assert f"{total:.0f} s of runs" in line and f"at least {total / 2 / 60:.0f} min wall" in line
    assert ("OVER" in line) == (total / 2 / 60 > make_evidence.BUDGET_MINUTES)
    assert make_evidence.main(["imbalance", "--recorded", "--workers", "1"]) == 0
    assert "recorded: 1 set(s)" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(make_evidence.SETS))
def test_committed_set_was_made_with_one_torch_thread_per_run(name):
    """A run's numbers depend on its torch thread count; every committed set is made with
    make_evidence.THREADS so that regenerating it gives the same numbers on any worker count."""
    import json

    prov = json.loads((repo_root() / "evidence" / name / "provenance.json").read_text())
    assert prov["threads"]["torch_threads"] == [make_evidence.THREADS], (
        f"evidence/{name} was made with torch threads {prov['threads']['torch_threads']}: regenerate it with "
        f"python -m helpers.make_evidence {name}")


def test_run_sets_fixes_the_thread_count_whatever_the_workers(monkeypatch, tmp_path):
    seen = []

    class Done:
        failed = ["a run"]  # nothing is exported

    def fake_run_sweep(spec, **kw):
        seen.append(kw)
        return Done()

    monkeypatch.setattr(sweep, "run_sweep", fake_run_sweep)
    report = make_evidence.run_sets(["imbalance"], workers=7, scheduler="tcp://unused:1", out_root=tmp_path)
    assert seen and seen[0]["threads"] == make_evidence.THREADS == 1
    assert report["imbalance"]["exported"] is None
