"""helpers.sweep: spec validation, run folders and results table, local and external Dask
clusters, interruption and resumption, failing runs, many kernels starting at once.

The sweeps run the fixture notebooks in tests/fixtures/ (``sweep_fixture.ipynb`` writes its record
through helpers.results; ``sweep_fixture_light.ipynb`` writes the same format with the standard
library, so that the many-run tests stay quick). Run through .venv/bin/pytest: papermill's
``python3`` kernel is then the venv's python.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import sweep
from helpers.results import repo_root

FIXTURE = "tests/fixtures/sweep_fixture.ipynb"
LIGHT = "tests/fixtures/sweep_fixture_light.ipynb"
BIN = Path(sys.executable).parent


def write_spec(tmp_path: Path, name: str = "spec", **spec) -> Path:
    spec.setdefault("notebook", LIGHT)
    spec.setdefault("output", str(tmp_path / "out"))
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def statuses(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob(f"*/{sweep.STATUS_NAME}")}


# ---------------------------------------------------------------------------------------------
# Validation: clear messages naming the file and key, and nothing created


@pytest.mark.parametrize(
    ("spec", "key", "words"),
    [
        ({"grid": {"sed": [1, 2]}}, "grid.sed", "unknown parameter"),
        ({"parameters": {"x": "big"}}, "parameters.x", "declares x as float"),
        ({"parameters": {"x": "1e-3"}}, "parameters.x", "write 1.0e-3"),
        ({"grid": {"seed": [1, 2.5]}}, "grid.seed[1]", "declares seed as int"),
        ({"grid": {"seed": [True]}}, "grid.seed[0]", "booleans, not numbers"),
        ({"grid": {"fail": [0, 1]}}, "grid.fail[0]", "declares fail as bool"),
        ({"grid": {"setups": ["a"]}}, "grid.setups[0]", "declares setups as list"),
        ({"grid": {"seed": []}}, "grid.seed", "empty list"),
        ({"grid": {"seed": 3}}, "grid.seed", "must be a list"),
        ({"grid": {"seed": [1, 2, 1]}}, "grid", "duplicate run"),
        ({"grid": {"x": [1, 1.0]}}, "grid", "duplicate run"),
        ({"parameters": {"seed": 1}, "grid": {"seed": [2]}}, "grid.seed", "either fixed or swept"),
        ({"parameters": {"output_dir": "elsewhere"}}, "parameters.output_dir", "set by the runner"),
        ({"grid": {"output_dir": ["a", "b"]}}, "grid.output_dir", "set by the runner"),
        ({"notebook": "notebooks/nope.ipynb"}, "notebook", "does not exist"),
        ({"notebook": None}, "notebook", "missing"),
        ({"notebok": LIGHT}, "notebok", "unknown key"),
        ({"parameters": ["seed", 1]}, "parameters", "must be a mapping"),
    ],
)
def test_spec_errors_name_file_and_key_and_start_nothing(tmp_path, spec, key, words):
    path = write_spec(tmp_path, "bad", **spec)
    with pytest.raises(sweep.SpecError) as exc:
        sweep.run_sweep(path, workers=1, progress=False)
    msg = str(exc.value)
    assert "bad.yaml" in msg and f": {key}:" in msg and words in msg, msg
    assert not (tmp_path / "out").exists()


def test_spec_error_for_a_declaration_papermill_cannot_read(tmp_path):
    import nbformat

    nb = nbformat.read(repo_root() / LIGHT, as_version=4)
    nb.cells[1].source += "\nthreshold: float | None = None  # papermill's inspector skips this line"
    nb_path = tmp_path / "odd.ipynb"
    nbformat.write(nb, nb_path)
    path = write_spec(tmp_path, notebook=str(nb_path), parameters={"threshold": 0.5})
    with pytest.raises(sweep.SpecError, match=r"Optional\[float\]"):
        sweep.load_spec(path)


@pytest.mark.parametrize(
    ("annotation", "default", "good", "bad"),
    [
        ("Optional[float]", "None", [None, 0.5, 2], ["a", True]),
        ("float", "None", [None, 1.5], ["1.5"]),
        ("list[int]", "[1]", [[], [1, 2]], [1, "a"]),
        ("None", "3", [4], [4.5, None]),  # no annotation: the default's type
        ("None", "None", [1, "a", None, [1]], []),  # nothing to go by: anything
        ("str", '"a"', ["b"], [1, None]),
    ],
)
def test_values_are_checked_against_the_declaration(annotation, default, good, bad):
    decl = {"name": "p", "inferred_type_name": annotation, "default": default, "help": ""}
    for v in good:
        assert sweep._check_value("s.yaml", "parameters.p", v, decl) == v
    for v in bad:
        with pytest.raises(sweep.SpecError, match=r"^s\.yaml: parameters\.p: "):
            sweep._check_value("s.yaml", "parameters.p", v, decl)


def test_cli_reports_spec_errors_with_status_2(tmp_path, capsys):
    path = write_spec(tmp_path, grid={"seed": []})
    assert sweep.main([str(path)]) == 2
    assert "grid.seed: empty list" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_plan_ids_are_readable_stable_and_typed(tmp_path):
    path = write_spec(tmp_path, parameters={"setups": ["only"]}, grid={"x": [2, 0.5], "seed": [3]})
    spec = sweep.load_spec(path)
    assert spec.grid["x"] == [2.0, 0.5] and isinstance(spec.grid["x"][0], float)  # int accepted for float
    runs = sweep.plan(spec)
    assert [r.run_id.split("__")[0] for r in runs] == ["x-2.0_seed-3", "x-0.5_seed-3"]
    r = runs[0]
    assert r.params == {"setups": ["only"], "x": 2.0, "seed": 3}
    assert r.run_id.endswith("__" + sweep.params_hash(r.params)[:8])
    assert r.folder == tmp_path / "out" / r.run_id and r.previous is None
    assert sweep.plan(sweep.load_spec(path))[0].run_id == r.run_id  # stable across loads
    assert sweep.load_spec(path, output="elsewhere").output == repo_root() / "elsewhere"
    default = write_spec(tmp_path, "mysweep", output=None)
    default.write_text(default.read_text().replace("output: null\n", ""))
    assert sweep.load_spec(default).output == repo_root() / "outputs" / "sweeps" / "mysweep"


def test_dry_run_lists_runs_and_creates_nothing(tmp_path, capsys):
    path = write_spec(tmp_path, grid={"seed": [0, 1], "fail": [False, True]})
    assert sweep.main([str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "4 runs" in out and out.count("  run  ") == 4 and "seed=1 fail=true" in out
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# The worker-side task, in process: kernel start-up failures are retried, real failures not


def _task(params: dict, notebook: str = LIGHT) -> dict:
    return {"run_id": "t", "notebook": notebook, "params": params, "threads": {},
            "notebook_text": (repo_root() / notebook).read_text()}


def test_execute_run_retries_a_kernel_that_died_before_the_first_cell(monkeypatch):
    import papermill

    real, calls = papermill.execute_notebook, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(*args, **kwargs)

    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    res = sweep.execute_run(_task({"seed": 1, "setups": ["only"]}))
    assert res["status"] == "ok" and res["attempts"] == 2, res["error"]
    files = dict(res["files"])
    assert set(files) == {"sweep_fixture_light.ipynb", "metrics.json"}
    assert json.loads(files["metrics.json"])["results"][0]["setup"] == "only"
    assert not Path(res["worker_output_dir"]).exists()  # the temporary folder is gone


def test_kernel_start_failure_detection(tmp_path):
    import papermill

    nb = tmp_path / "nb.ipynb"
    died = RuntimeError("Kernel died before replying to kernel_info")
    assert sweep._is_kernel_start_failure(died, nb)  # no notebook saved yet, message matches
    assert not sweep._is_kernel_start_failure(FileNotFoundError("no such file"), nb)
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "execution_count": None}]}))
    assert sweep._is_kernel_start_failure(TimeoutError("whatever"), nb)  # saved, nothing ran
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "execution_count": 1}]}))
    assert not sweep._is_kernel_start_failure(died, nb)  # died mid-notebook: a real failure
    pm_err = papermill.PapermillExecutionError(0, 1, "raise ValueError", "ValueError", "boom", [])
    assert not sweep._is_kernel_start_failure(pm_err, tmp_path / "missing.ipynb")


# ---------------------------------------------------------------------------------------------
# Sweeps on a LocalCluster


def test_local_sweep_writes_runs_table_and_isolates_failures(tmp_path, capsys):
    path = write_spec(tmp_path, notebook=FIXTURE, parameters={"label": "t"},
                      grid={"seed": [0, 1], "fail": [False, True]})
    res = sweep.run_sweep(path, workers=2, progress=False)
    out = tmp_path / "out"
    assert res.counts == {"total": 4, "ok": 2, "failed": 2, "not_run": 0, "skipped_ok": 0, "skipped_failed": 0}

    st = statuses(out)
    assert len(st) == 4
    for rid, s in st.items():
        folder = out / rid
        assert s["status"] == ("failed" if s["params"]["fail"] else "ok")
        assert s["params_hash"] == sweep.params_hash(s["params"]) and rid.endswith(s["params_hash"][:8])
        assert {"started", "finished", "seconds", "host", "pid"} <= set(s) and s["seconds"] > 0
        assert (folder / "sweep_fixture.ipynb").exists()  # executed notebook, also for failures
        if s["status"] == "ok":
            assert {"metrics.json", "figure.png"} <= {p.name for p in folder.iterdir()}
            assert (folder / "figure.png").read_bytes().startswith(b"\x89PNG")
            rec = json.loads((folder / "metrics.json").read_text())
            assert rec["params"]["label"] == "t" and rec["omp_num_threads"] == str(max(1, sweep._host_threads()[1] // 2))
        else:
            assert s["error"]["type"] == "ValueError"
            assert s["error"]["message"] == f"fixture failed on purpose (seed={s['params']['seed']})"
            executed = json.loads((folder / "sweep_fixture.ipynb").read_text())
            assert any(o.get("ename") == "ValueError" for c in executed["cells"] for o in c.get("outputs", []))

    df = pd.read_csv(out / "results.csv")
    assert len(df) == 2 * 2 + 2  # two setups per ok run, one row per failed run
    assert list(df.columns[:5]) == ["run_id", "status", "label", "seed", "fail"]
    assert "per_label" not in df.columns and {"micro_f1", "loss", "epochs", "seconds", "error"} <= set(df.columns)
    ok = df[df.status == "ok"].set_index(["seed", "setup"])
    assert ok.loc[(1, "setup_b"), "micro_f1"] == pytest.approx(0.21)
    failed = df[df.status == "failed"]
    assert failed.setup.isna().all() and failed.error.str.contains("failed on purpose").all()
    pd.testing.assert_frame_equal(sweep.read_results(out), df, check_dtype=False)

    printed = capsys.readouterr().out
    assert "ok 2, failed 2" in printed and "results.csv" in printed
    assert printed.count("sweep_fixture.ipynb  ValueError: fixture failed on purpose") == 2

    # Rerun: everything skipped (failures reported as failed); no cluster needed.
    again = sweep.run_sweep(path, workers=2, progress=False)
    assert again.counts["skipped_ok"] == 2 and again.counts["skipped_failed"] == 2 and again.counts["ok"] == 0
    assert len(again.failed) == 2 and statuses(out) == st
    assert "--rerun-failed" in capsys.readouterr().out
    assert sweep.main([str(path), "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert dry.count("skip (done)") == 2 and dry.count("skip (failed)") == 2


def test_rerun_failed_retries_only_failures(tmp_path):
    path = write_spec(tmp_path, grid={"seed": [0, 1, 2]})
    out = tmp_path / "out"
    spec = sweep.load_spec(path)
    runs = sweep.plan(spec)
    # An earlier call: seed 0 ok, seed 1 failed, seed 2 never finished (files but no status).
    fake = {"status": "failed", "error": {"type": "RuntimeError", "message": "earlier"}, "files": [("stale.txt", b"x")]}
    sweep._write_run(spec, runs[1], fake)
    (runs[2].folder).mkdir(parents=True)
    (runs[2].folder / "metrics.json").write_text("half written")
    first = sweep.run_sweep(path, workers=1, progress=False)
    assert first.counts == {"total": 3, "ok": 2, "failed": 0, "not_run": 0, "skipped_ok": 0, "skipped_failed": 1}
    before = statuses(out)
    res = sweep.run_sweep(path, workers=1, rerun_failed=True, progress=False)
    assert res.counts["ok"] == 1 and res.counts["skipped_ok"] == 2 and res.ok
    after = statuses(out)
    changed = [rid for rid in after if after[rid] != before[rid]]
    assert changed == [runs[1].run_id]
    assert not (runs[1].folder / "stale.txt").exists()  # files from the failed attempt are gone
    df = pd.read_csv(out / "results.csv")
    assert (df.status == "ok").all() and df.groupby("run_id").size().tolist() == [2, 2, 2]


def _claims_notebook(tmp_path: Path) -> Path:
    """The light fixture with claims before its record: one always checked, one under an ``if``
    with an f-string message, one without a message, and a non-claim error for x == 3."""
    import nbformat

    nb = nbformat.read(repo_root() / LIGHT, as_version=4)
    nb.cells[1].source += "\nflag: bool = True  # check the conditional claim"
    nb.cells[2:2] = [nbformat.v4.new_code_cell(src) for src in (
        'assert seed >= 0, "seeds are not negative"',
        'if flag:\n    assert x > 0, f"x is positive: {x}"',
        "%time y = 1\nassert x < 10",
        'if x == 3:\n    raise ValueError("not a claim")',
    )]
    path = tmp_path / "claims.ipynb"
    nbformat.write(nb, path)
    return path


def test_claims_table_names_the_claim_each_failed_run_failed(tmp_path):
    nb = _claims_notebook(tmp_path)
    claims = sweep.notebook_claims(nb)
    assert [(c["claim"], c["condition"]) for c in claims] == [
        ("seeds are not negative", None), ("x is positive: …", "flag"), ("assert x < 10", None)]
    path = write_spec(tmp_path, notebook=str(nb), parameters={"setups": ["only"]},
                      grid={"x": [-1.0, 3.0, 5.0, 20.0], "seed": [0]})
    res = sweep.run_sweep(path, workers=2, progress=False)
    assert res.counts["ok"] == 1 and res.counts["failed"] == 3, res.summary()
    table = sweep.claims_table(tmp_path / "out").set_index("claim")
    assert list(table.columns) == [c for c in sweep.CLAIM_COLUMNS if c != "claim"]
    assert (table.notebook == "claims").all() and (table.runs == 4).all()
    assert table.loc["seeds are not negative", "verdict"] == "held on all 4 runs"
    x_pos = table.loc["x is positive: …"]
    assert (x_pos.asserted, x_pos.failed, x_pos.reached) == ("if flag", 1, 4)  # x=3 failed in a later cell
    assert x_pos.verdict == "failed on 1 of 4 runs" and x_pos["failed where"] == "x=-1.0"
    no_msg = table.loc["assert x < 10"]  # matched by the line its traceback points at
    assert (no_msg.failed, no_msg.reached, no_msg["failed where"]) == (1, 3, "x=20.0")  # x=-1 stopped before it
    assert no_msg.verdict == "failed on 1 of 3 runs"
    other = table.loc["(not a claim) ValueError: not a claim"]
    assert (other.failed, other["failed where"]) == (1, "x=3.0")
    assert sweep._where([{"x": 1, "seed": 0}, {"x": 1, "seed": 1}, {"x": 2, "seed": 0}]) == "x=1 (2); x=2"
    assert sweep._where([{"seed": 3}]) == "seed=3"


def test_claims_table_of_clean_runs_says_held_or_conditional(tmp_path, recwarn):
    nb = _claims_notebook(tmp_path)
    path = write_spec(tmp_path, notebook=str(nb), parameters={"setups": ["only"], "x": 5.0, "flag": False},
                      grid={"seed": [0, 1]})
    with socket.socket() as busy:  # another cluster's HTTP port (Dask's default): no warning about it
        with contextlib.suppress(OSError):
            busy.bind(("127.0.0.1", 8787))
            busy.listen()
        assert sweep.run_sweep(path, workers=1, progress=False).ok
    assert not [w for w in recwarn if "already in use" in str(w.message)]
    table = sweep.claims_table(tmp_path / "out").set_index("claim")
    assert table.loc["seeds are not negative", "verdict"] == "held on all 2 runs"
    assert table.loc["x is positive: …", "verdict"] == "did not fail in 2 runs (conditional)"
    assert (table.failed == 0).all() and (table["failed where"] == "").all()
    (tmp_path / "no-runs-yet").mkdir()
    assert sweep.claims_table(tmp_path / "no-runs-yet").empty
    with pytest.raises(FileNotFoundError, match="run the sweep first"):
        sweep.claims_table(tmp_path / "nowhere")


def test_many_kernels_start_at_once(tmp_path):
    path = write_spec(tmp_path, parameters={"setups": ["only"]}, grid={"seed": list(range(8))})
    res = sweep.run_sweep(path, workers=4, progress=False)
    assert res.counts["ok"] == 8, res.summary()
    st = statuses(tmp_path / "out")
    kernels = {json.loads((tmp_path / "out" / rid / "metrics.json").read_text())["env"]["kernel_pid"] for rid in st}
    assert len(kernels) == 8 and len({s["pid"] for s in st.values()}) <= 4
    df = pd.read_csv(tmp_path / "out" / "results.csv")
    assert sorted(df.seed) == list(range(8)) and df.run_id.is_unique


# ---------------------------------------------------------------------------------------------
# An external cluster: scheduler and worker as separate processes on loopback


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def dask_cluster(tmp_path):
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = open(tmp_path / "dask.log", "w")  # noqa: SIM115 - closed in the finalizer
    procs = [subprocess.Popen([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=log, stderr=subprocess.STDOUT)]
    try:
        procs.append(subprocess.Popen([BIN / "dask", "worker", address, "--nthreads", "1", "--nworkers", "1",
                                       "--no-dashboard", "--local-directory", str(tmp_path / "dask")],
                                      stdout=log, stderr=subprocess.STDOUT))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            _stop(p)
        log.close()


def test_sweep_on_an_external_scheduler(tmp_path, dask_cluster):
    path = write_spec(tmp_path, parameters={"setups": ["only"]}, grid={"seed": [0, 1], "fail": [False, True]})
    res = sweep.run_sweep(path, scheduler=dask_cluster, progress=False)
    assert res.counts["ok"] == 2 and res.counts["failed"] == 2
    st = statuses(tmp_path / "out")
    assert len({s["pid"] for s in st.values()}) == 1  # the one external worker did them all
    assert all(s["threads"] == sweep._host_threads()[1] for s in st.values())  # 1 worker thread on this host
    df = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(df) == 4 and df.run_id.is_unique


# ---------------------------------------------------------------------------------------------
# Interrupt (SIGINT) and kill (SIGKILL) the CLI midway, then resume


def _start_cli(path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "helpers.sweep", str(path), "--workers", "1", "--no-progress"],
                            cwd=repo_root(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _wait_for_statuses(out: Path, n: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while len(list(out.glob(f"*/{sweep.STATUS_NAME}"))) < n:
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "no run finished in time"
        time.sleep(0.05)


def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_interrupt_and_kill_lose_no_completed_run(tmp_path, capsys):
    import psutil

    path = write_spec(tmp_path, parameters={"setups": ["only"], "sleep": 0.3}, grid={"seed": [0, 1, 2, 3]})
    out = tmp_path / "out"

    # Ctrl-C after the first run lands: clean stop, summary of what completed, status 130.
    proc = _start_cli(path)
    _wait_for_statuses(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    text, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, text
    assert "INTERRUPTED" in text and "rerun the same command" in text, text
    first = statuses(out)
    assert 1 <= len(first) < 4 and all(s["status"] == "ok" for s in first.values()), (first, text)
    assert set(pd.read_csv(out / "results.csv").run_id) == set(first), text
    assert f"ok {len(first)}, failed 0" in text, text

    # SIGKILL after one more run lands: nothing cleans up, the workers and kernels go by themselves.
    proc = _start_cli(path)
    _wait_for_statuses(out, len(first) + 1, proc)
    children = _descendants(proc.pid)
    proc.kill()
    proc.communicate(timeout=30)
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"left running after SIGKILL: {alive}"
    second = statuses(out)
    assert len(second) > len(first) and all(second[rid] == s for rid, s in first.items()), (first, second)

    # Resume (the CLI's main, in this process): only the missing runs execute; each run once in results.csv.
    assert sweep.main([str(path), "--workers", "1", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert f"ok {4 - len(second)}, failed 0" in text and f"skipped {len(second)} done earlier" in text, text
    final = statuses(out)
    assert len(final) == 4 and all(final[rid] == s for rid, s in second.items())
    df = pd.read_csv(out / "results.csv")
    assert sorted(df.seed) == [0, 1, 2, 3] and df.run_id.is_unique and (df.status == "ok").all()
    assert not list(out.rglob("*.tmp"))  # no half-written files left behind
    pids = [(d, re.fullmatch(r"helpers-sweep-(\d+)-\w+", d.name)) for d in Path(tempfile.gettempdir()).iterdir()]
    stale = [d for d, m in pids if m and not psutil.pid_exists(int(m.group(1)))]
    assert not stale, stale  # temporary folders of killed workers are cleaned up by the next run
