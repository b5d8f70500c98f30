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
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import sweep
from helpers.results import repo_root
from helpers.sweep import execution, storage
from helpers.sweep import spec as spec_mod

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
        assert spec_mod._check_value("s.yaml", "parameters.p", v, decl) == v
    for v in bad:
        with pytest.raises(sweep.SpecError, match=r"^s\.yaml: parameters\.p: "):
            spec_mod._check_value("s.yaml", "parameters.p", v, decl)


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
    assert set(files) == {"sweep_fixture_light.ipynb", "metrics.json", "claims.json"}
    assert json.loads(files["metrics.json"])["results"][0]["setup"] == "only"
    assert not Path(res["worker_output_dir"]).exists()  # the temporary folder is gone


def test_kernel_start_failure_detection(tmp_path):
    import papermill

    nb = tmp_path / "nb.ipynb"
    died = RuntimeError("Kernel died before replying to kernel_info")
    assert execution._is_kernel_start_failure(died, nb)  # no notebook saved yet, message matches
    assert not execution._is_kernel_start_failure(FileNotFoundError("no such file"), nb)
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "execution_count": None}]}))
    assert execution._is_kernel_start_failure(TimeoutError("whatever"), nb)  # saved, nothing ran
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "execution_count": 1}]}))
    assert not execution._is_kernel_start_failure(died, nb)  # died mid-notebook: a real failure
    pm_err = papermill.PapermillExecutionError(0, 1, "raise ValueError", "ValueError", "boom", [])
    assert not execution._is_kernel_start_failure(pm_err, tmp_path / "missing.ipynb")


def test_kernel_threads_share_or_fixed():
    from helpers.sweep.runner import kernel_threads

    assert kernel_threads({"a": 2, "b": 8}, None) == {"a": 2, "b": 8}
    assert kernel_threads({"a": 2, "b": 8}, 1) == {"a": 1, "b": 1}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "1"])
def test_run_sweep_refuses_a_bad_thread_count(tmp_path, bad):
    path = write_spec(tmp_path, notebook=FIXTURE, parameters={"label": "t"}, grid={"seed": [0]})
    with pytest.raises(ValueError, match="threads must be a whole number of at least 1"):
        sweep.run_sweep(path, workers=1, progress=False, threads=bad)
    assert not (tmp_path / "out").exists()  # refused before anything is written


# ---------------------------------------------------------------------------------------------
# Sweeps on a LocalCluster


def test_threads_fixes_each_kernels_torch_threads(tmp_path):
    """One worker would give its kernel every core; threads=1 gives it one (what make evidence uses)."""
    path = write_spec(tmp_path, notebook=FIXTURE, parameters={"label": "t"}, grid={"seed": [0]})
    sweep.run_sweep(path, workers=1, progress=False, threads=1)
    (st,) = statuses(tmp_path / "out").values()
    rec = json.loads((tmp_path / "out" / st["run_id"] / "metrics.json").read_text())
    assert st["status"] == "ok" and st["threads"] == 1 and rec["omp_num_threads"] == "1"


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
            assert rec["params"]["label"] == "t" and rec["omp_num_threads"] == str(max(1, execution._host_threads()[1] // 2))
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
    storage._write_run(spec, runs[1], fake)
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


def test_claims_json_travels_back_also_from_a_run_that_failed_at_a_claim(tmp_path, monkeypatch, recwarn):
    path = write_spec(tmp_path, parameters={"setups": ["only"]}, grid={"x": [1.0, -1.0]})
    with socket.socket() as busy:  # another cluster's HTTP port (Dask's default): no warning about it
        with contextlib.suppress(OSError):
            busy.bind(("127.0.0.1", 8787))
            busy.listen()
        res = sweep.run_sweep(path, workers=2, progress=False)
    assert not [w for w in recwarn if "already in use" in str(w.message)]
    assert res.counts["ok"] == 1 and res.counts["failed"] == 1, res.summary()
    by_x = {s["params"]["x"]: (tmp_path / "out" / rid, s) for rid, s in statuses(tmp_path / "out").items()}
    ok_folder, ok_status = by_x[1.0]
    failed_folder, failed_status = by_x[-1.0]
    assert "claims.json" in ok_status["files"] and "claims.json" in failed_status["files"]
    assert failed_status["error"]["type"] == "AssertionError"
    from helpers.claims import read_claims

    assert [c["status"] for c in read_claims(ok_folder)] == ["held"]
    failed = read_claims(failed_folder)  # the failing run's file names the claim it failed
    assert [(c["id"], c["status"]) for c in failed] == [("x_positive", "failed")]
    assert not (failed_folder / "metrics.json").exists()

    # claims_table is helpers.claims.sweep_table (resolved when called).
    import helpers.claims

    seen = []
    monkeypatch.setattr(helpers.claims, "sweep_table", lambda out: seen.append(out) or "table", raising=False)
    assert sweep.claims_table(tmp_path / "out") == "table" and seen == [tmp_path / "out"]


def test_collect_files_sends_claims_and_metrics_even_over_the_size_limit(tmp_path, monkeypatch):
    for name, size in (("nb.ipynb", 10), ("a_big_figure.png", 100), ("claims.json", 5), ("metrics.json", 5)):
        (tmp_path / name).write_bytes(b"x" * size)
    monkeypatch.setattr(execution, "MAX_RESULT_BYTES", 30)
    files, left_out = execution._collect_files(tmp_path, "nb.ipynb")
    assert [rel for rel, _ in files] == ["nb.ipynb", "metrics.json", "claims.json"]
    assert len(left_out) == 1 and left_out[0].startswith("a_big_figure.png")


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
    assert all(s["threads"] == execution._host_threads()[1] for s in st.values())  # 1 worker thread on this host
    df = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(df) == 4 and df.run_id.is_unique


# ---------------------------------------------------------------------------------------------
# Interrupt (SIGINT) and kill (SIGKILL) the CLI midway, then resume


def _start_cli(path: Path) -> subprocess.Popen:
    # A process started as a background job of a non-interactive shell (a CI step, `cmd &` in a
    # script) has SIGINT ignored, and its children inherit that: the CLI would then ignore our
    # Ctrl-C, as it should under nohup. A handler (unlike "ignore") is reset to the default at exec,
    # so one is installed while the CLI starts, whatever started pytest.
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen([sys.executable, "-m", "helpers.sweep", str(path), "--workers", "1", "--no-progress"],
                                cwd=repo_root(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, old)


# Every wait below is on a pipe or a blocking call, with a generous deadline only against a hang
# (never a sleep that guesses how long a process takes): the CLI prints a line per finished run,
# the fixture waits on a named pipe per seed until the test opens it, and a killed writer is
# stopped inside the write by blocking on its stdin, after telling the test so on its stdout.
HANG = 180.0


class Lines:
    """The lines a child process prints, read on a thread, handed out in order."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.queue, self.seen = proc, queue.Queue(), []
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.queue.put(line)
        self.queue.put(None)

    def expect(self, pattern: str) -> str:
        """Block until a line matches ``pattern`` (fail if the process ends first or hangs)."""
        while True:
            try:
                line = self.queue.get(timeout=HANG)
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in {HANG:.0f} s; got {''.join(self.seen)}") from None
            assert line is not None, f"ended before printing {pattern!r}:\n{''.join(self.seen)}"
            self.seen.append(line)
            if re.search(pattern, line):
                return line

    def rest(self) -> str:
        self.thread.join(timeout=HANG)
        assert not self.thread.is_alive(), "output did not end"
        return "".join(self.seen) + "".join(iter(self.queue.get_nowait, None))


def _open_gate(gates: Path, seed: int) -> None:
    """Let the run of ``seed`` finish: opening the pipe blocks until its kernel opens the other end."""
    t = threading.Thread(target=lambda: open(gates / f"seed-{seed}", "w").close(), daemon=True)
    t.start()
    t.join(timeout=HANG)
    assert not t.is_alive(), f"the run of seed {seed} never reached its gate"


def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


_KILLED_WRITER = """
import os, sys
from helpers import results
def stop_here(fd):  # inside write_bytes_atomic, after the temp file exists, before its rename
    print("writing", flush=True)
    sys.stdin.read()  # the test kills this process here
os.fsync = stop_here
results.write_bytes_atomic(sys.argv[1], b"half")
"""


def _kill_a_writer_midway(target: Path) -> None:
    """What SIGKILL does to the sweep when it lands between an atomic write's temp file and its
    rename (the flake of issue #11): a process killed there, deterministically."""
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=repo_root())
    assert Lines(proc).expect("^writing")
    proc.kill()
    proc.wait(timeout=HANG)
    assert list(target.parent.glob(f".{target.name}.*.tmp")), "the killed writer left no temp file"


def test_interrupt_and_kill_lose_no_completed_run(tmp_path, capsys):
    import psutil

    gates = tmp_path / "gates"
    gates.mkdir()
    for seed in (1, 2, 3):
        os.mkfifo(gates / f"seed-{seed}")
    path = write_spec(tmp_path, parameters={"setups": ["only"], "gate": str(gates)}, grid={"seed": [0, 1, 2, 3]})
    out = tmp_path / "out"

    # Ctrl-C once seed 0 has landed and seed 1 waits at its gate: clean stop, summary, status 130.
    proc = _start_cli(path)
    lines = Lines(proc)
    lines.expect(r"^\s+ok\s+seed-0_")
    children = _descendants(proc.pid)  # the worker, its kernel (blocked at seed 1's gate), the fork server
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=HANG) == 130
    text = lines.rest()
    gone, alive = psutil.wait_procs(children, timeout=HANG)
    assert not alive, f"left running after Ctrl-C: {alive}"
    killed = {p.pid for p in children}
    assert "INTERRUPTED" in text and "rerun the same command" in text and "ok 1, failed 0" in text, text
    first = statuses(out)
    assert [s["params"]["seed"] for s in first.values()] == [0] and all(s["status"] == "ok" for s in first.values())
    assert set(pd.read_csv(out / "results.csv").run_id) == set(first), text

    # SIGKILL once seed 1 has landed and seed 2 waits: nothing cleans up; workers and kernels go by themselves.
    proc = _start_cli(path)
    lines = Lines(proc)
    _open_gate(gates, 1)
    lines.expect(r"^\s+ok\s+seed-1_")
    children = _descendants(proc.pid)
    killed |= {p.pid for p in children}
    proc.kill()
    proc.wait(timeout=HANG)
    lines.rest()
    gone, alive = psutil.wait_procs(children, timeout=HANG)
    assert not alive, f"left running after SIGKILL: {alive}"
    second = statuses(out)
    assert sorted(s["params"]["seed"] for s in second.values()) == [0, 1]
    assert all(second[rid] == s for rid, s in first.items())

    # A sweep killed inside an atomic write leaves its temp file: the next run removes it.
    _kill_a_writer_midway(out / "results.csv")
    _kill_a_writer_midway(next(iter(out / rid for rid in second)) / "metrics.json")
    (out / ".results.csv.k3j_9x2a.tmp").write_text("left by tempfile.mkstemp before the fix")

    # Resume (the CLI's main, in this process): only the missing runs execute; each run once in results.csv.
    for seed in (2, 3):
        (gates / f"seed-{seed}").unlink()
    assert sweep.main([str(path), "--workers", "1", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "ok 2, failed 0" in text and "skipped 2 done earlier" in text, text
    final = statuses(out)
    assert len(final) == 4 and all(final[rid] == s for rid, s in second.items())
    df = pd.read_csv(out / "results.csv")
    assert sorted(df.seed) == [0, 1, 2, 3] and df.run_id.is_unique and (df.status == "ok").all()
    assert not list(out.rglob("*.tmp"))  # no half-written files left behind
    # The temporary folders of the workers stopped above are cleaned up by the next run (only theirs
    # are checked: other sweeps on this machine may be killing workers of their own right now).
    pids = [(d, re.fullmatch(r"helpers-sweep-(\d+)-\w+", d.name)) for d in Path(tempfile.gettempdir()).iterdir()]
    stale = [d for d, m in pids if m and int(m.group(1)) in killed]
    assert not stale, stale


def test_a_sweeps_kernels_import_the_helpers_of_the_notebooks_checkout(tmp_path, tmp_path_factory, monkeypatch):
    """A sweep run from a second checkout (a git worktree, sharing the first's virtual environment and its
    editable install) must run that checkout's helpers, the code its records name."""
    from helpers.kernels import project_path_env

    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = project_path_env(tmp_path / "notebooks")
    assert env["PYTHONPATH"].split(os.pathsep) == [str(tmp_path), "/elsewhere"]
    monkeypatch.delenv("PYTHONPATH")
    assert project_path_env(tmp_path / "notebooks") == {"PYTHONPATH": str(tmp_path)}
    assert project_path_env(None) == {}
    assert project_path_env(tmp_path_factory.mktemp("bare")) == {}  # no checkout above it
