"""helpers.sweep against inputs that used to do something wrong silently or fail poorly (issue 11):
another sweep's output folder, duplicate YAML keys, an unreachable or wrong scheduler during
``--rerun-failed``, unwritable outputs, NaN/inf in a grid, non-UTF-8 specs and folders as specs.

No test here starts a Dask cluster: every case fails before one would start, or fakes the cluster.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from helpers import sweep
from helpers.results import repo_root
from helpers.sweep import runner, storage
from tests.test_sweep import LIGHT, write_spec

FIXTURE = "tests/fixtures/sweep_fixture.ipynb"




def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fake_runs(spec: sweep.SweepSpec) -> list[sweep.Run]:
    """An earlier call's results: the first run ok, the others failed."""
    runs = sweep.plan(spec)
    for i, r in enumerate(runs):
        ok = i == 0
        metrics = {"results": [{"setup": "only", "micro_f1": 0.5}]}
        result = {"status": "ok" if ok else "failed", "finished": "earlier",
                  "error": None if ok else {"type": "RuntimeError", "message": f"earlier failure {i}"},
                  "files": [("metrics.json", json.dumps(metrics).encode())] if ok else []}
        storage._write_run(spec, r, result)
    return runs


# ---------------------------------------------------------------------------------------------
# 1. Another sweep's folder


def test_a_sweep_into_another_sweeps_folder_is_refused_unless_forced(tmp_path, capsys):
    first = write_spec(tmp_path, "first", parameters={"setups": ["only"]}, grid={"seed": [0, 1]})
    spec = sweep.load_spec(first)
    spec.output.mkdir(parents=True)
    (spec.output / storage.MANIFEST_NAME).write_text(json.dumps({"spec": str(spec.path), "notebook": LIGHT}))
    sweep.check_output(spec)  # the same sweep again: fine (resuming)

    other_spec = write_spec(tmp_path, "second", grid={"seed": [5]})  # same notebook, another spec
    other_nb = write_spec(tmp_path, "first", notebook=FIXTURE, grid={"seed": [5]})  # same spec path, other notebook
    for path in (other_spec, other_nb):
        with pytest.raises(sweep.OutputError, match=r"out: holds the runs of another sweep \(spec .*first.yaml"):
            sweep.run_sweep(path, workers=1, progress=False)
        for extra in ([], ["--dry-run"]):
            assert sweep.main([str(path), *extra]) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "pass --force" in err, err
    assert sweep.main([str(other_spec), "--dry-run", "--force"]) == 0
    assert "1 runs" in capsys.readouterr().out

    # No sweep.json (an older runner), but run folders of another notebook: refused as well.
    (spec.output / storage.MANIFEST_NAME).unlink()
    (spec.output / "seed-0__abc").mkdir()
    (spec.output / "seed-0__abc" / sweep.STATUS_NAME).write_text(json.dumps({"notebook": FIXTURE}))
    with pytest.raises(sweep.OutputError, match=r"holds runs of another notebook \(tests/fixtures/sweep_fixture"):
        sweep.check_output(sweep.load_spec(other_spec))
    sweep.check_output(sweep.load_spec(other_spec), force=True)


# ---------------------------------------------------------------------------------------------
# 2. Duplicate YAML keys


@pytest.mark.parametrize(("text", "key", "lines"), [
    (f"notebook: {LIGHT}\nparameters:\n  epochs: 2\n  epochs: 50\n", "epochs", "3 and 4"),
    (f"notebook: {LIGHT}\ngrid:\n  seed: [0]\ngrid:\n  x: [1.0]\n", "grid", "2 and 4"),
    (f"notebook: {LIGHT}\nnotebook: {FIXTURE}\n", "notebook", "1 and 2"),
])
def test_duplicate_yaml_keys_are_refused(tmp_path, text, key, lines):
    path = tmp_path / "dup.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(sweep.SpecError, match=rf"dup.yaml: duplicate key '{key}' on lines {lines}"):
        sweep.load_spec(path)


# ---------------------------------------------------------------------------------------------
# 3. --rerun-failed keeps the earlier rows until their replacements land


def test_rerun_failed_with_an_unreachable_cluster_keeps_the_earlier_rows(tmp_path, capsys):
    path = write_spec(tmp_path, parameters={"setups": ["only"]}, grid={"seed": [0, 1, 2]})
    spec = sweep.load_spec(path)
    runs = _fake_runs(spec)
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens
    assert sweep.main([str(path), "--rerun-failed", "--scheduler", address, "--no-progress"]) == 2
    assert f"error: no Dask scheduler at {address}" in capsys.readouterr().err
    df = pd.read_csv(spec.output / sweep.RESULTS_NAME)
    assert list(df.run_id) == [r.run_id for r in runs] and list(df.status) == ["ok", "failed", "failed"]
    assert df.error.iloc[1] == "RuntimeError: earlier failure 1"
    assert list(sweep.read_results(spec.output).status) == list(df.status)


def test_an_interrupted_rerun_keeps_the_earlier_rows(tmp_path, monkeypatch):
    path = write_spec(tmp_path, parameters={"setups": ["only"]}, grid={"seed": [0, 1, 2]})
    spec = sweep.load_spec(path)
    runs = _fake_runs(spec)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while the cluster starts

    monkeypatch.setattr(runner, "_dask_client", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(path, rerun_failed=True, progress=False)
    df = pd.read_csv(spec.output / sweep.RESULTS_NAME)
    assert list(df.run_id) == [r.run_id for r in runs] and list(df.status) == ["ok", "failed", "failed"]


# ---------------------------------------------------------------------------------------------
# 4. A scheduler address where no Dask scheduler answers


def test_a_refused_scheduler_fails_at_once_in_one_line(tmp_path):
    path = write_spec(tmp_path, grid={"seed": [0]})
    address = f"tcp://127.0.0.1:{_free_port()}"
    proc = subprocess.run([sys.executable, "-m", "helpers.sweep", str(path), "--scheduler", address,
                           "--no-progress"], cwd=repo_root(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: no Dask scheduler at {address} (Connection refused)"]


@pytest.mark.parametrize("reply", [b"", b"HTTP/1.1 400 Bad Request\r\n\r\n"])
def test_something_else_listening_fails_at_the_deadline(reply):
    """A listener that never speaks Dask (silent, or an HTTP server like the dashboard's port)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []

    def serve():
        conn, _ = server.accept()
        accepted.append(conn)
        conn.recv(4096)
        if reply:
            conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        with pytest.raises(sweep.SchedulerError, match=rf"^no Dask scheduler at {address} \(something listens there"):
            sweep.check_scheduler(address, timeout=1.0)
    finally:
        for conn in accepted:
            conn.close()
        server.close()


# ---------------------------------------------------------------------------------------------
# Section 3: output folders that cannot be written: exit 2 with the path


def test_unwritable_outputs_exit_2_with_the_path(tmp_path, capsys, monkeypatch):
    (tmp_path / "a_file").write_text("x")
    for out, words in ((tmp_path / "a_file", "it is a file, not a folder"),
                       (tmp_path / "a_file" / "sub", f"{tmp_path / 'a_file'} is a file, not a folder")):
        path = write_spec(tmp_path, grid={"seed": [0]}, output=str(out))
        for extra in ([], ["--dry-run"]):
            assert sweep.main([str(path), "--no-progress", *extra]) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and f"{out}: cannot write the sweep's output there: {words}" in err, err
    # A read-only folder (simulated: the tests may run as root, which writes anywhere).
    (tmp_path / "ro").mkdir()
    path = write_spec(tmp_path, grid={"seed": [0]}, output=str(tmp_path / "ro"))
    monkeypatch.setattr(storage.os, "access", lambda p, mode: Path(p) != tmp_path / "ro")
    assert sweep.main([str(path), "--no-progress"]) == 2
    assert f"{tmp_path / 'ro'}: cannot write the sweep's output there: it is not writable" in capsys.readouterr().err


def test_an_os_error_creating_the_folder_is_one_line(tmp_path, monkeypatch, capsys):
    path = write_spec(tmp_path, grid={"seed": [0]})

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert sweep.main([str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "out: cannot write the sweep's output there (Permission denied)" in err
