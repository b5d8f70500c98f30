"""helpers.claims: claims recorded with their evidence; failed claims raise; n/a is never held."""

import json

import numpy as np
import pytest

from helpers import claims


def test_held_claim_is_recorded_and_written(tmp_path, capsys):
    led = claims.Ledger(tmp_path, notebook="nb")
    assert led.claim("a_beats_b", "A beats B", holds=np.float64(0.9) > 0.5,
                     evidence={"a": np.float32(0.9), "b": 0.5}) is None
    rec = led.records[-1]
    assert rec["status"] == "held" and rec["evidence"]["a"] == pytest.approx(0.9)
    assert "✔ held [a_beats_b] A beats B" in capsys.readouterr().out
    on_disk = json.loads((tmp_path / "claims.json").read_text())
    assert on_disk["claims"][0]["id"] == "a_beats_b"


def test_failed_claim_is_recorded_then_raises_with_evidence(tmp_path):
    led = claims.Ledger(tmp_path, notebook="nb", echo=False)
    with pytest.raises(AssertionError, match=r"claim 'gap' failed: the gap closes \(evidence: gap=0\.05"):
        led.claim("gap", "the gap closes", holds=False, evidence={"gap": 0.05})
    assert claims.read_claims(tmp_path)[0]["status"] == "failed"


def test_not_applicable_needs_a_reason_and_skips_the_test(tmp_path):
    led = claims.Ledger(tmp_path, echo=False)
    with pytest.raises(ValueError, match="why_not"):
        led.claim("x", "text", holds=True, applies=False)

    def boom():
        raise KeyError("neg_over_pos")

    led.claim("x", "text", holds=boom, applies=False, why_not="setup neg_over_pos not run")
    rec = led.records[-1]
    assert rec["status"] == "not applicable" and led.summary() == {"held": 0, "failed": 0, "not applicable": 1}


def test_bad_ids_duplicates_and_non_bool_tests_are_refused(tmp_path):
    led = claims.Ledger(None, echo=False)
    with pytest.raises(ValueError, match="snake_case"):
        led.claim("A-B", "t", holds=True)
    led.claim("ok", "t", holds=True)
    with pytest.raises(ValueError, match="used twice"):
        led.claim("ok", "t", holds=True)
    with pytest.raises(TypeError, match="must be a bool"):
        led.claim("arr", "t", holds=np.array([True, False]))
    with pytest.raises(ValueError, match="no test"):
        led.claim("none", "t")


def test_new_ledger_clears_stale_claims(tmp_path):
    claims.Ledger(tmp_path, echo=False).claim("old", "t", holds=True)
    claims.Ledger(tmp_path, echo=False)
    assert claims.read_claims(tmp_path) == []


def _fake_run(out, rid, grid, status, claims_list=None, error=None, results_list=None):
    folder = out / rid
    folder.mkdir(parents=True)
    if claims_list is not None:
        (folder / "claims.json").write_text(json.dumps({"notebook": "nb", "claims": claims_list}))
    if results_list is not None:
        (folder / "metrics.json").write_text(json.dumps({"notebook": "nb", "params": grid, "results": results_list,
                                                         "env": {"git_commit": "abc"}}))
    (folder / "status.json").write_text(json.dumps({"run_id": rid, "status": status, "grid": grid, "params": grid,
                                                    "notebook": "notebooks/nb.ipynb", "error": error, "seconds": 1.0}))


def _claim(cid, status, why=""):
    return {"id": cid, "notebook": "nb", "text": f"{cid} text", "status": status, "evidence": {"x": 1}, "why_not": why}


def test_sweep_table_counts_held_failed_not_applicable_and_not_reached(tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    runs = [{"run_id": r, "params": {}} for r in ("a", "b", "c", "d")]
    (out / "sweep.json").write_text(json.dumps({"sweep": "s", "notebook": "notebooks/nb.ipynb", "runs": runs}))
    _fake_run(out, "a", {"tail": 0.0, "seed": 0}, "ok",
              [_claim("x", "held"), _claim("y", "not applicable", "tail below 2.5"), _claim("z", "held")])
    _fake_run(out, "b", {"tail": 3.3, "seed": 0}, "failed", [_claim("x", "failed")],
              error={"type": "ClaimFailed", "message": "claim 'x' failed"})
    _fake_run(out, "c", {"tail": 3.3, "seed": 1}, "failed", None, error={"type": "RuntimeError", "message": "boom"})
    # run d is planned but has no status.json: not counted
    table = claims.sweep_table(out).set_index("claim")
    assert table.loc["x", ["runs", "held", "failed", "not applicable", "not reached"]].tolist() == [3, 1, 1, 0, 1]
    assert table.loc["x", "failed where"] == "tail=3.3" and table.loc["x", "verdict"].startswith("FAILED on 1 of 3")
    assert table.loc["y", ["held", "not applicable", "not reached"]].tolist() == [0, 1, 2]
    assert table.loc["y", "why not"] == "tail below 2.5" and table.loc["y", "verdict"].startswith("never judged")
    assert table.loc["z", "verdict"] == "held on 1 of 3 runs, not reached on 2"
    assert table.loc["(error) RuntimeError: boom", "failed"] == 1
    assert list(table.index[:3]) == ["x", "y", "z"]  # the order the runs made them


def test_sweep_table_of_a_missing_or_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the sweep first"):
        claims.sweep_table(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    assert claims.sweep_table(tmp_path / "empty").empty


def test_evidence_export_and_load_round_trip(tmp_path):
    from helpers import evidence

    out = tmp_path / "sweep"
    out.mkdir()
    spec = tmp_path / "s.yaml"
    spec.write_text("notebook: notebooks/nb.ipynb\ngrid: {seed: [0, 1]}\n")
    runs = [{"run_id": r, "params": {"seed": s}} for r, s in (("a", 0), ("b", 1))]
    (out / "sweep.json").write_text(json.dumps({"sweep": "s", "spec": str(spec), "notebook": "notebooks/nb.ipynb",
                                                "parameters": {}, "grid": {"seed": [0, 1]}, "runs": runs}))
    for rid, seed, f1 in (("a", 0, 0.5), ("b", 1, 0.7)):
        _fake_run(out, rid, {"seed": seed}, "ok", [_claim("x", "held")],
                  results_list=[{"setup": "base", "macro_f1": 0.4}, {"setup": "w", "macro_f1": f1}])
    dest = evidence.export_sweep(out, tmp_path / "evidence")
    ev = evidence.load(dest)
    assert sorted(ev.table["macro_f1"]) == [0.4, 0.4, 0.5, 0.7] and ev.provenance["commit"] == "abc"
    assert ev.claims.set_index("claim").loc["x", "held"] == 2
    stats = evidence.seed_stats(ev.table, ["setup"], "macro_f1")
    assert evidence.pm(stats.loc["w", "mean"], stats.loc["w", "std"]) == "0.600 ± 0.141"
    prov = ev.provenance
    assert "threads" in prov and prov["packages"]["torch"] and "helpers/evidence.py" in prov["code"]["files"]
    (out / "b" / "status.json").unlink()
    with pytest.raises(ValueError, match="not done"):
        evidence.export_sweep(out, tmp_path / "evidence2")


def test_paired_gaps_are_per_seed_differences_from_the_baseline():
    import pandas as pd

    from helpers import evidence

    t = pd.DataFrame({"status": "ok", "tail": 3.3, "seed": [0, 0, 1, 1], "threshold": "tuned",
                      "setup": ["base", "w", "base", "w"], "macro_f1": [0.5, 0.6, 0.7, 0.9]})
    g = evidence.paired_gaps(t, "tail", "macro_f1", "base", "tuned").loc[(3.3, "w")]
    assert g["mean"] == pytest.approx(0.15) and g["std"] == pytest.approx(0.0707, abs=1e-4) and g["count"] == 2
