"""helpers.results.write_bytes_atomic, the one atomic writer: file modes follow the umask, and a
temp file left by a writer killed mid-write is recognised and removed, never taken for output."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from helpers import results
from helpers.results import repo_root

_KILLED_WRITER = """
import os, sys
from helpers import results
def stop_here(fd):  # after the temp file exists, before the rename
    print("writing", flush=True)
    sys.stdin.read()  # the test kills this process here
os.fsync = stop_here
results.write_bytes_atomic(sys.argv[1], b"half")
"""


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_get_the_umasks_usual_mode(tmp_path, umask):
    results.write_bytes_atomic(tmp_path / "a.json", b"{}")
    assert _mode(tmp_path / "a.json") == 0o644  # not mkstemp's 0600
    umask(0o027)
    results.write_json_atomic(tmp_path / "b.json", {"x": 1})
    assert _mode(tmp_path / "b.json") == 0o640
    umask(0o002)
    results.write_bytes_atomic(tmp_path / "a.json", b"{}")  # replacing a file: the new one's mode
    assert _mode(tmp_path / "a.json") == 0o664


def test_a_killed_writers_temp_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "results.csv"
    target.write_bytes(b"old")
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)], cwd=repo_root(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "writing\n"  # blocks until the writer is inside the write
    proc.kill()
    proc.wait(timeout=60)
    (left,) = tmp_path.glob(".results.csv.*.tmp")
    assert f".{proc.pid}-" in left.name and target.read_bytes() == b"old"  # the old file is intact

    alive = tmp_path / f".results.csv.{os.getpid()}-{results._host_tag()}-0123abcd.tmp"  # a live writer's
    elsewhere = tmp_path / f".results.csv.{proc.pid}-ffffff-0123abcd.tmp"  # another machine's (shared disk)
    unrelated = tmp_path / ".notes.tmp"
    for p in (alive, elsewhere, unrelated):
        p.write_bytes(b"x")
    results.write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new" and not left.exists()
    assert alive.exists() and elsewhere.exists() and unrelated.exists()

    # Under a lock that excludes other writers (the sweep runner's), every temp of the writer goes,
    # the old mkstemp-named ones too.
    legacy = tmp_path / ".results.csv.k3j_9x2a.tmp"
    legacy.write_bytes(b"x")
    removed = results.remove_stale_temps(tmp_path, any_pid=True)
    assert set(removed) == {alive, elsewhere, legacy} and unrelated.exists()


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    target.write_bytes(b"old")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(results.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        results.write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]
