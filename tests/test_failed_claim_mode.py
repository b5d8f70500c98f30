"""What a failed claim does (helpers.claims.Ledger's on_failure, the notebooks' on_failed_claim):
"stop" raises at the claim, "end" records it, goes on and fails at the last cell, "record" records it,
prints it and goes on, "auto" follows the data ("end" on the book's, "record" on a reader's).

The end-to-end tests run notebook 02 with papermill on yeast (../shared/data/multilabel/yeast.npz),
where a double-sigmoid claim set for the book's scenes really fails: with on_failed_claim "auto" the
run reaches its last cell and claims.json records the failure; with "end" it reaches its last cell and
fails there; with "stop" it stops at the claim."""

from __future__ import annotations

import json

import nbformat
import papermill as pm
import pytest

from helpers import claims, param_sweep, results
from helpers.book import run_notebook


def test_stop_is_the_default_and_raises_at_the_failed_claim_after_recording_it(tmp_path):
    led = claims.Ledger(tmp_path, notebook="nb", echo=False)
    assert led.mode == "stop"
    led.claim("a", "A holds", holds=True)
    with pytest.raises(claims.ClaimFailed, match="claim 'b' failed"):
        led.claim("b", "B holds", holds=False, evidence={"b": 0.1})
    on_disk = json.loads((tmp_path / "claims.json").read_text())
    assert [c["status"] for c in on_disk["claims"]] == ["held", "failed"] and on_disk["on_failure"] == "stop"


def test_record_prints_the_failure_goes_on_and_finish_lists_it_without_raising(tmp_path, capsys):
    led = claims.Ledger(tmp_path, notebook="nb", on_failure="record", echo=False)
    led.claim("a", "A holds", holds=False, evidence={"a": 0.25})  # no exception
    led.claim("b", "B holds", holds=True)
    led.claim("c", "C holds", holds=lambda: False)
    led.claim("d", "D holds", holds=True, applies=False, why_not="no D here")
    out = capsys.readouterr().out
    assert "✘ FAILED [a] A holds  (a=0.25)" in out  # printed although echo=False: nothing else would show it
    assert "the run goes on: on_failed_claim resolved to 'record'" in out and "'record' was given" in out
    assert "[b]" not in out  # echo=False still silences the claims that held
    assert [c["status"] for c in claims.read_claims(tmp_path)] == ["failed", "held", "failed", "not applicable"]
    assert led.failed() == ["a", "c"]
    assert led.finish() is None
    summary = capsys.readouterr().out
    assert "claims: 1 held, 2 failed, 1 not applicable (on_failed_claim: record)" in summary
    assert "✘ FAILED: a, c" in summary


@pytest.mark.parametrize(("data", "mode"), [("scenes", "end"), ("many_scenes", "end"),
                                            ("../shared/data/multilabel/yeast.npz", "record"),
                                            ("my_data.csv", "record"), ("scenes.npz", "record")])
def test_auto_ends_on_the_books_data_and_records_on_a_readers(data, mode):
    led = claims.Ledger(None, on_failure="auto", data=data, echo=False)
    assert led.mode == mode
    assert ("is the book's own data" if mode == "end" else "is not the book's own data") in led.mode_why


@pytest.mark.parametrize(("data", "mode"), [(["yeast", "scene"], "end"), (["yeast", "my_data.npz"], "record"),
                                            ([], "record"), ("yeast", "end"), ("scenes", "record")])
def test_auto_follows_the_data_a_notebook_names_as_its_own(data, mode):
    """Notebook 11's data are a list of the shared benchmarks, all of them the book's own (book_data)."""
    led = claims.Ledger(None, on_failure="auto", data=data, book_data=("yeast", "scene"), echo=False)
    assert led.mode == mode
    assert claims.resolve_on_failure("auto", ["scenes", "many_scenes"])[0] == "end"  # a list of the default ones
    assert claims.resolve_on_failure("record", ["yeast"], book_data=("yeast",))[0] == "record"  # given, not auto


def test_auto_on_the_books_data_fails_at_the_end_and_on_a_readers_file_goes_on(capsys):
    book = claims.Ledger(None, on_failure="auto", data="scenes", echo=False)
    book.claim("x", "X", holds=False)  # recorded, printed, and the run goes on ...
    book.claim("y", "Y", holds=True)
    book.claim("z", "Z", holds=False)
    out = capsys.readouterr().out
    assert "✘ FAILED [x] X" in out and "✘ FAILED [z] Z" in out
    assert out.count("↳ the run goes on to its last cell, which fails naming this claim") == 2
    with pytest.raises(claims.ClaimFailed) as e:  # ... and fails at its last cell, naming every failed claim
        book.finish()
    assert str(e.value).startswith(f"{claims.ENDED_WITH_FAILURES} 2 failed claim(s): x, z")
    assert "claims: 1 held, 2 failed, 0 not applicable (on_failed_claim: end)" in capsys.readouterr().out
    reader = claims.Ledger(None, on_failure="auto", data="yeast.npz", echo=False)
    reader.claim("x", "X", holds=False)
    reader.finish()  # no exception: a finding about the reader's data
    assert "data='yeast.npz' is not the book's own data" in capsys.readouterr().out


def test_end_mode_given_outright_behaves_as_auto_on_the_books_data(tmp_path):
    led = claims.Ledger(tmp_path, on_failure="end", echo=False)
    led.claim("a", "A", holds=False)
    assert json.loads((tmp_path / "claims.json").read_text())["on_failure"] == "end"
    with pytest.raises(claims.ClaimFailed, match="1 failed claim\\(s\\): a"):
        led.finish()


def test_finish_without_failures_prints_the_counts_and_in_stop_mode_refuses_a_caught_failure(capsys):
    led = claims.Ledger(None, echo=False)
    led.claim("a", "A", holds=True)
    led.finish()
    assert capsys.readouterr().out.strip() == "claims: 1 held, 0 failed, 0 not applicable (on_failed_claim: stop)"
    with pytest.raises(claims.ClaimFailed):
        led.claim("b", "B", holds=False)
    with pytest.raises(claims.ClaimFailed, match="1 claim\\(s\\) failed in a run that stops on a failed claim: b"):
        led.finish()  # a ClaimFailed caught by the notebook does not make the run pass


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"on_failure": "continue"}, "on_failure='continue': give one of 'stop', 'end', 'record', 'auto'"),
    ({"on_failure": None}, "on_failure=None: give one of"),
    ({"on_failure": "auto"}, "on_failure='auto' follows the run's data: pass data="),
])
def test_a_wrong_mode_is_refused_in_one_line(kwargs, message):
    with pytest.raises(ValueError) as e:
        claims.Ledger(None, **kwargs)
    assert message in str(e.value) and "\n" not in str(e.value)


# ---------------------------------------------------------------------------------------------
# End to end: notebook 02 on a reader's data (yeast), where double-sigmoid claims set for the
# book's scenes fail (e.g. its outputs are not all pulled to 0.5: yeast has labels present in most rows)

NOTEBOOK = results.repo_root() / "notebooks" / "02_wrong_loss_failure.ipynb"
YEAST = next((f for f in param_sweep.data_files() if f.name == "yeast.npz"), None)
READER = {"epochs": 10, "setups": ["bce_with_logits", "double_sigmoid"]}  # 10 epochs: the claims apply


def _run(out, **parameters):
    if YEAST is None:
        pytest.skip("../shared/data/multilabel/yeast.npz is not here")
    return run_notebook(NOTEBOOK, out / NOTEBOOK.name, threads=1,
                        parameters={"data": str(YEAST), **READER, **parameters, "output_dir": str(out)})


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The run at the default on_failed_claim ("auto", so "record" on yeast): its folder and notebook."""
    out = tmp_path_factory.mktemp("reader_run")
    return out, nbformat.read(_run(out), as_version=4)


def _text(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []))


def test_on_a_readers_data_failed_claims_are_recorded_and_the_run_reaches_its_last_cell(recorded):
    out, nb = recorded
    saved = json.loads((out / "claims.json").read_text())
    failed = [c["id"] for c in saved["claims"] if c["status"] == "failed"]
    assert saved["on_failure"] == "record" and "is not the book's own data" in saved["on_failure_why"]
    assert failed, "no claim failed on yeast: this test needs one that does"
    assert results.incomplete_run(out) is None  # metrics.json was written: the run completed
    assert [c["id"] for c in claims.read_claims(out / "metrics.json")] == [c["id"] for c in saved["claims"]]
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert last.source.startswith("ledger.finish()") and last.execution_count is not None
    assert f"✘ FAILED: {', '.join(failed)}" in _text(last)
    shown = "".join(_text(c) for c in nb.cells if c.cell_type == "code")
    for cid in failed:  # each failure is shown where it happens, with the reason the run goes on
        assert f"✘ FAILED [{cid}]" in shown
    assert shown.count("↳ the run goes on: on_failed_claim resolved to 'record'") == len(failed)


def test_the_same_run_with_stop_stops_at_its_first_failed_claim(recorded, tmp_path):
    saved = json.loads((recorded[0] / "claims.json").read_text())["claims"]
    first = next(i for i, c in enumerate(saved) if c["status"] == "failed")
    with pytest.raises(pm.PapermillExecutionError) as e:
        _run(tmp_path, on_failed_claim="stop")
    assert e.value.ename == "ClaimFailed" and f"claim {saved[first]['id']!r} failed" in e.value.evalue
    stopped = json.loads((tmp_path / "claims.json").read_text())
    assert stopped["on_failure"] == "stop"
    assert [(c["id"], c["status"]) for c in stopped["claims"]] == [(c["id"], c["status"]) for c in saved[:first + 1]]
    assert results.incomplete_run(tmp_path) is not None  # no metrics.json: the folder is marked incomplete


def test_the_same_run_with_end_reaches_its_last_cell_and_fails_there(recorded, tmp_path):
    saved = json.loads((recorded[0] / "claims.json").read_text())["claims"]
    failed = [c["id"] for c in saved if c["status"] == "failed"]
    with pytest.raises(pm.PapermillExecutionError) as e:
        _run(tmp_path, on_failed_claim="end")
    assert e.value.ename == "ClaimFailed"
    assert e.value.evalue.startswith(f"{claims.ENDED_WITH_FAILURES} {len(failed)} failed claim(s): {', '.join(failed)}")
    ended = json.loads((tmp_path / "claims.json").read_text())
    assert ended["on_failure"] == "end"
    assert [(c["id"], c["status"]) for c in ended["claims"]] == [(c["id"], c["status"]) for c in saved]
    assert results.incomplete_run(tmp_path) is None  # metrics.json was written before the last cell failed
