"""The book runner: selection, side-by-side runs, the per-notebook table (tiny generated notebooks)."""

from __future__ import annotations

import json

import nbformat
import pytest

from helpers import book, kernels
from helpers.results import read_json


def _notebook(path, code: str, parameters: str = "") -> None:
    """A two-cell notebook: a tagged parameters cell (``output_dir``, and ``parameters``) and ``code``."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('output_dir: str = "out"  # where metrics.json goes\n' + parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


WRITES_RECORD = """import os
from helpers import results
results.log_fit("fake_setup", 1.25, epochs=3, device="cpu")
results.write_record(output_dir, "nb", {"threads": os.environ.get("OMP_NUM_THREADS")}, [])
"""


def test_select_notebooks_globs_paths_and_clear_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("01_a.ipynb", "02_b.ipynb", "03_c.ipynb"):
        _notebook(tmp_path / name, "pass")
    (tmp_path / "notes.txt").write_text("x")
    chosen = book.select_notebooks(["0[1-2]_*.ipynb", "03_c.ipynb", "01_a.ipynb"])
    assert [p.name for p in chosen] == ["01_a.ipynb", "02_b.ipynb", "03_c.ipynb"]  # each once, in the order given
    assert [p.stem for p in book.select_notebooks(["notebooks/0[1-2]_*.ipynb"])] == [
        p.stem for p in book.book_notebooks() if p.name[:2] in ("01", "02")]  # relative to the repository root too
    with pytest.raises(ValueError, match=r"no notebook matches '09_\*\.ipynb'"):
        book.select_notebooks(["09_*.ipynb"])
    with pytest.raises(ValueError, match="notes.txt is not a notebook"):
        book.select_notebooks(["notes.txt"])


def test_threads_split_between_workers():
    assert kernels.threads_per_worker(2, n_cores=2) == 1
    assert kernels.threads_per_worker(3, n_cores=16) == 5
    assert kernels.threads_per_worker(4, n_cores=2) == 1  # never 0
    assert kernels.thread_env(3) == {"OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3"} and kernels.thread_env(None) == {}
    with pytest.raises(ValueError, match="at least 1"):
        kernels.threads_per_worker(0)


def test_run_book_side_by_side_reports_training_and_failures(tmp_path, capfd):
    nbs = [tmp_path / "01_ok.ipynb", tmp_path / "02_fails.ipynb", tmp_path / "03_ok.ipynb"]
    _notebook(nbs[0], WRITES_RECORD)
    _notebook(nbs[1], 'raise ValueError("broken on purpose")')
    _notebook(nbs[2], WRITES_RECORD)
    rows = book.run_book(nbs, workers=2, out_root=tmp_path / "outputs", progress=False)
    assert [r["notebook"] for r in rows] == ["01_ok", "02_fails", "03_ok"]  # the order given, whatever finished first
    ok, failed, ok2 = rows
    assert ok["status"] == ok2["status"] == "ok" and failed["status"] == "failed"
    assert failed["error"] == "ValueError: broken on purpose" and failed["training_s"] is None
    assert ok["training_s"] == 1.25 and ok["fits"] == 1 and ok["other_s"] == pytest.approx(ok["wall_s"] - 1.25)
    record = read_json(tmp_path / "outputs" / "01_ok" / "metrics.json")
    assert record["params"]["threads"] == str(kernels.threads_per_worker(2))  # the kernel got its share of cores
    assert record["training"]["fits"][0]["setup"] == "fake_setup"
    assert (tmp_path / "outputs" / "02_fails" / "02_fails.ipynb").is_file()  # the traceback is in there
    err = capfd.readouterr().err
    assert "without encryption" not in err
    table = book.summary_table(rows)
    assert list(table.columns) == ["status", "wall_s", "training_s", "other_s", "fits", "threads"]
    printed = book.format_table(rows).splitlines()
    assert printed[0].split() == ["status", "wall_s", "training_s", "other_s", "fits", "threads"]
    assert printed[3].split()[:2] == ["02_fails", "failed"] and printed[3].split()[3:6] == ["-", "-", "-"]
    # the row's own other_s (wall_s - training_s, rounded once), as the table prints it: recomputing it from
    # the rounded wall_s could round the other way at a ...5 (7.05 -> 7.0 vs 7.1), whatever the run took
    assert printed[2].split()[3:5] == ["1.2", f"{ok['other_s']:.1f}"] and printed[2].split()[-2] == "1"


def test_main_rejects_an_unknown_selection(capsys):
    assert book.main(["no_such_*.ipynb", "--no-progress"]) == 2
    assert "no notebook matches 'no_such_*.ipynb'" in capsys.readouterr().err


def test_book_json_orders_long_notebooks_first(tmp_path):
    (tmp_path / book.TIMES_NAME).write_text(json.dumps({"notebooks": [{"notebook": "a", "wall_s": 3.0},
                                                                      {"notebook": "b", "wall_s": 9.0}]}))
    assert book._previous_times(tmp_path) == {"a": 3.0, "b": 9.0}
    (tmp_path / book.TIMES_NAME).write_text("not json")
    assert book._previous_times(tmp_path) == {}


RUN_THAT_CAN_FAIL = """from helpers import claims, results, plots
import matplotlib.pyplot as plt
ledger = claims.Ledger(output_dir, notebook="nb", echo=False)
fig = plt.figure()
plots.save_figure(fig, output_dir, "fig_" + str(fail))
ledger.claim("first", "the first claim", holds=True)
if fail:
    raise RuntimeError("stopped midway on purpose")
results.write_record(output_dir, "nb", {"fail": fail}, [], claims=ledger.records)
"""


def test_a_run_that_fails_midway_marks_its_folder_and_readers_refuse_the_earlier_record(tmp_path):
    from helpers import claims, results

    nb = tmp_path / "01_stale.ipynb"
    _notebook(nb, RUN_THAT_CAN_FAIL, parameters="fail: bool = False")
    out_root = tmp_path / "outputs"
    folder = out_root / "01_stale"
    assert book.run_book([nb], workers=1, out_root=out_root, progress=False)[0]["status"] == "ok"
    assert not (folder / results.INCOMPLETE_NAME).exists()  # a complete run leaves no marker
    assert results.read_record(folder)["params"] == {"fail": False}
    assert len(results.read_records(out_root)) == 0 and len(claims.read_claims(folder)) == 1

    # the same notebook again, stopping midway: the earlier metrics.json is still on disk
    row = book._run_one(nb, folder / nb.name, False, {"output_dir": str(folder), "fail": True}, None)
    assert row["status"] == "failed" and row["error"] == "RuntimeError: stopped midway on purpose"
    marker = results.read_json(folder / results.INCOMPLETE_NAME)
    assert marker["notebook"] == "nb" and "files older than 'started' are from an earlier run" in marker["note"]
    assert (folder / results.RECORD_NAME).exists() and (folder / "fig_False.png").exists()  # the earlier run's
    for read in (results.read_record, results.read_records):
        with pytest.raises(results.StaleOutputError) as exc:
            read(folder)
        msg = str(exc.value)
        assert "\n" not in msg and "01_stale holds a run of nb that started" in msg, msg
        assert f"did not complete (it failed or was interrupted before writing its record): its " \
               f"{results.RECORD_NAME} and figures, if any, are from an earlier run. Rerun the notebook" in msg
    assert [c["id"] for c in claims.read_claims(folder)] == ["first"]  # this run's claims, the failed run's own
    assert book._training(folder, 0.0) is None  # the book's table does not take the earlier run's training time
    (folder / claims.CLAIMS_NAME).unlink()
    with pytest.raises(results.StaleOutputError):
        claims.read_claims(folder)  # would fall back on the earlier run's metrics.json

    assert book.run_book([nb], workers=1, out_root=out_root, progress=False)[0]["status"] == "ok"
    assert not (folder / results.INCOMPLETE_NAME).exists() and results.read_record(folder)["params"]["fail"] is False


def test_only_matching_nothing_exits_2_like_an_empty_glob(capsys):
    assert book.main(["--only", "zzz", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: no notebooks match 'notebooks/[0-9][0-9]_*.ipynb' and --only 'zzz'"]


CTRL_C = """import os, signal, threading
# what a Ctrl-C in the terminal does: SIGINT to every process of the book's process group (the test
# starts the book in a session of its own; never signal group 1 or this kernel's own group)
group = os.getpgid(os.getppid())
assert os.getppid() > 1 and group > 1 and group != os.getpgid(0), (os.getppid(), group)
os.killpg(group, signal.SIGINT)
threading.Event().wait(300)  # never reached normally: the book stops this run on the interrupt
"""


def test_ctrl_c_during_the_book_prints_one_line_and_marks_nothing_complete(tmp_path):
    import signal
    import subprocess
    import sys

    from helpers.results import repo_root

    nb = tmp_path / "01_interrupted.ipynb"
    _notebook(nb, "from helpers import claims\nclaims.Ledger(output_dir, echo=False)\n" + CTRL_C)
    # its own session, so that the SIGINT the notebook sends reaches the book's processes, not pytest
    # SIGINT as a terminal leaves it: a shell's background job (`make test &`) inherits it ignored, and Python
    # keeps an ignored SIGINT ignored, so the book would never see the interrupt this test sends
    proc = subprocess.run([sys.executable, "-m", "helpers.book", str(nb), "--out", str(tmp_path / "out"),
                           "--no-progress", "--workers", "1"], cwd=repo_root(), capture_output=True, text=True,
                          start_new_session=True, timeout=600, env={**__import__("os").environ,
                                                                    "PYTHONPATH": str(repo_root())},
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "interrupted: the notebooks still running were stopped (a stopped run's output folder keeps its "
        "INCOMPLETE_RUN.json marker)"], proc.stderr
    assert (tmp_path / "out" / "01_interrupted" / "INCOMPLETE_RUN.json").is_file()


def test_pool_workers_ignore_sigint_so_only_the_main_process_reports_it():
    import signal

    previous = signal.getsignal(signal.SIGINT)
    try:
        book._ignore_sigint()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
