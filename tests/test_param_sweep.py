"""make test-params (helpers.param_sweep): the values tried per parameter, the classification of a
run's outcome, and the printed table, on the tiny fixture notebook (no notebook is run here)."""

from __future__ import annotations

import os

import pytest

from helpers import claims
from helpers import param_sweep as ps
from helpers.results import repo_root

FIXTURE = repo_root() / "tests" / "fixtures" / "sweep_fixture_light.ipynb"


def test_parameters_come_from_papermills_inspection_with_literal_defaults():
    params = ps.parameters(FIXTURE)
    assert params["seed"] == {"type": "int", "default": 0}
    assert params["x"] == {"type": "float", "default": 1.0}
    assert params["fail"] == {"type": "bool", "default": False}
    assert params["setups"] == {"type": "list", "default": ["setup_a", "setup_b"]}


def test_values_follow_from_type_default_other_defaults_and_the_extra_table(tmp_path):
    data = [tmp_path / "a.npz", tmp_path / "b.npz"]
    got = {(c.parameter, repr(c.value), c.expected) for c in ps.cases([FIXTURE], data=data)}
    by_param: dict[str, list[tuple[str, str]]] = {}
    for name, value, expected in sorted(got):
        by_param.setdefault(name, []).append((value, expected))
    assert by_param["fail"] == [("'yes'", "bad"), ("True", "valid")]  # the other boolean, a wrong type
    assert by_param["x"] == [("'x'", "bad"), ("0.0", "valid")]  # 0.0 also the default of `sleep`
    assert ("1.0", "valid") in by_param["sleep"]  # the default of `x`, another float parameter
    assert sorted(by_param["setups"]) == [("'x'", "bad"), ("['setup_a']", "valid"), ("['setup_b']", "valid"),
                                          ("[]", "bad")]  # each subset, none empty
    assert ("-1", "bad") in by_param["seed"] and ("1", "valid") in by_param["seed"]  # from the EXTRA table
    assert ("1.5", "bad") in by_param["seed"] and ("0", "valid") not in by_param["seed"]  # never the default
    assert by_param["output_dir"] == [(repr(ps.EXISTING_FILE), "bad")]  # the runner's own parameter
    values = ps.values_for("data", "str", "scenes", {}, data)
    assert values[:3] == [(ps.CSV_DATA, "valid"), (None, "bad"), ("missing.npz", "bad")]
    assert [v for v, _ in values[3:5]] == [os.path.relpath(p, repo_root()) for p in data]  # as notebooks read it


def test_larger_int_defaults_of_other_parameters_are_not_tried():
    others = {"epochs": {"type": "int", "default": 15}, "n_train": {"type": "int", "default": 2000},
              "cardinality_epochs": {"type": "int", "default": 8}}
    values = [v for v, _ in ps.values_for("epochs", "int", 15, others)]
    assert 8 in values and 2000 not in values and 1 in values


def test_subsets_of_long_lists_are_singletons_and_leave_one_out():
    assert ps._subsets(["a", "b", "c"]) == [["a"], ["b"], ["c"], ["a", "b"], ["a", "c"], ["b", "c"]]
    five = list("abcde")
    subsets = ps._subsets(five)
    assert len(subsets) == 10 and ["a"] in subsets and ["b", "c", "d", "e"] in subsets


CASE = ps.Case(FIXTURE, "epochs", 1.5, "bad")


@pytest.mark.parametrize(("case", "error", "claims", "outcome", "good", "detail"), [
    (ps.Case(FIXTURE, "tail", 3.3, "valid"), None,
     [{"status": "held"}, {"status": "held"}, {"status": "not applicable"}], "ok", True, "2 held, 1 n.a."),
    (CASE, None, [], "ok", False, "0 held, 0 n.a.; a wrong value was accepted"),
    (CASE, {"ename": "ParameterError", "evalue": "parameter `epochs`: got 1.5 (float); give a whole number"}, [],
     "refused", True, "ParameterError: parameter `epochs`: got 1.5 (float); give a whole number"),
    (ps.Case(FIXTURE, "tail", 3.3, "valid"),
     {"ename": "ClaimFailed", "evalue": "claim 'long_tail_mean_ir_10x' failed: ..."}, [{"status": "failed"}],
     "FAILED claim", False, "claim 'long_tail_mean_ir_10x' failed: ..."),
    # 'stop' asks for exactly that: the run stops at the first failed claim, naming it (a finding)
    (ps.Case(FIXTURE, "on_failed_claim", "stop", "valid"),
     {"ename": "ClaimFailed", "evalue": "claim 'b' failed: ...\nmore"}, [{"id": "b", "status": "failed"}],
     "FAILED claim", True, "stopped as asked; claim 'b' failed: ..."),
    (ps.Case(FIXTURE, "on_failed_claim", "end", "valid"),
     {"ename": "ClaimFailed", "evalue": "claim 'b' failed: ..."}, [{"id": "b", "status": "failed"}],
     "FAILED claim", False, "claim 'b' failed: ..."),
    (ps.Case(FIXTURE, "data", "../shared/data/multilabel/yeast.npz", "valid"), None,
     [{"id": "a", "status": "held"}, {"id": "b", "status": "failed"}, {"id": "c", "status": "failed"},
      {"id": "d", "status": "not applicable"}],
     ps.OK_FAILED, True, "1 held, 2 failed (b, c), 1 n.a."),  # a reader's data: recorded, the run went on
    (ps.Case(FIXTURE, "data", ps.CSV_DATA, "valid"), None, [{"id": "b", "status": "failed"}],
     ps.OK_FAILED, True, "0 held, 1 failed (b), 0 n.a."),
    (ps.Case(FIXTURE, "on_failed_claim", "record", "valid"), None, [{"id": "b", "status": "failed"}],
     ps.OK_FAILED, True, "0 held, 1 failed (b), 0 n.a.; recorded on the book's own data"),
    # the book's data at a valid value: "end" ran every cell and failed at the last, naming the claim: a finding
    (ps.Case(FIXTURE, "n_train", 300, "valid"),
     {"ename": "ClaimFailed", "evalue": f"{claims.ENDED_WITH_FAILURES} 1 failed claim(s): b (on_failed_claim 'end')"},
     [{"id": "a", "status": "held"}, {"id": "b", "status": "failed"}],
     ps.OK_FAILED, True, "1 held, 1 failed (b), 0 n.a.; the last cell failed naming them"),
    (ps.Case(FIXTURE, "data", "many_scenes", "valid"), None, [{"id": "b", "status": "failed"}],
     ps.OK_FAILED, True, "0 held, 1 failed (b), 0 n.a.; recorded on the book's own data"),
    (ps.Case(FIXTURE, "epochs", "x", "bad"),
     {"ename": "ClaimFailed", "evalue": f"{claims.ENDED_WITH_FAILURES} 1 failed claim(s): b"},
     [{"id": "b", "status": "failed"}], ps.OK_FAILED, False, "0 held, 1 failed (b), 0 n.a.; a wrong value was accepted"),
    (ps.Case(FIXTURE, "on_failed_claim", "continue", "bad"), None, [{"id": "b", "status": "failed"}],
     ps.OK_FAILED, False, "0 held, 1 failed (b), 0 n.a.; a wrong value was accepted"),
    (CASE, {"ename": "TypeError", "evalue": "'float' object cannot be interpreted as an integer"}, [],
     "crash", False, "TypeError: 'float' object cannot be interpreted as an integer"),
    (CASE, {"ename": "ValueError", "evalue": "epochs\nline two\nthe last line"}, [], "crash", False,
     "ValueError: the last line"),
    (ps.Case(FIXTURE, "output_dir", ps.EXISTING_FILE, "bad"),
     {"ename": "FileExistsError", "evalue": "[Errno 17] File exists: '/tmp/x/008_01_output_dir/a_file'"}, [],
     "crash", False, "FileExistsError: [Errno 17] File exists: '/tmp/x/008_01_output_dir/a_file'"),
])
def test_outcomes_are_classified(case, error, claims, outcome, good, detail):
    got = ps.classify(case, error, claims)
    assert got == {"outcome": outcome, "detail": detail, "good": good}


def test_a_stop_asked_for_counts_as_a_finding_not_a_defect():
    row = {"notebook": "12_x", "parameter": "on_failed_claim", "value": "'stop'", "expected": "valid",
           "outcome": "FAILED claim", "detail": "stopped as asked; claim 'b' failed", "good": True, "wall_s": 1.0}
    assert ps.format_table(ps.table([row])).splitlines()[-1] == (
        "1 runs: 1 FAILED claim; 0 not good; findings: 1 valid values with failed claims")


def test_table_is_printed_with_counts_and_not_good_rows_flagged():
    rows = [{"notebook": "01_x", "parameter": "tail", "value": "3.3", "expected": "valid", "outcome": "ok",
             "detail": "5 held, 2 n.a.", "good": True, "wall_s": 10.0},
            {"notebook": "01_x", "parameter": "epochs", "value": "1.5", "expected": "bad", "outcome": "crash",
             "detail": "TypeError: boom", "good": False, "wall_s": 2.0}]
    frame = ps.table(rows)
    assert list(frame.columns) == ps.COLUMNS
    lines = ps.format_table(frame).splitlines()
    assert lines[0].split()[:6] == ["notebook", "parameter", "value", "expected", "outcome", "detail"]
    assert lines[1].split()[-2:] == ["yes", "10.0"] and lines[2].split()[-2:] == ["NO", "2.0"]
    assert lines[-1] == "2 runs: 1 ok, 1 crash; 1 not good"


def test_runs_never_go_into_the_books_outputs(tmp_path):
    with pytest.raises(ValueError, match="never into the book's outputs/"):
        ps.run_cases([CASE], repo_root() / "outputs" / "params")


def test_list_numbers_the_cases_and_pick_selects_them(capsys):
    assert ps.main([str(FIXTURE), "--list", "--params", "fail"]) == 0
    assert capsys.readouterr().out.splitlines() == ["   0  sweep_fixture_light  fail=True  (valid)",
                                                    "   1  sweep_fixture_light  fail='yes'  (bad)"]
    assert ps.main([str(FIXTURE), "--list", "--params", "fail", "--pick", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == ["   1  sweep_fixture_light  fail='yes'  (bad)"]
    assert ps.main([str(FIXTURE), "--list", "--params", "fail", "--pick", "7"]) == 2
    assert "--pick '7': give case numbers from 0 to 1" in capsys.readouterr().err


def test_demo_csv_loads_as_multilabel_data(tmp_path):
    from helpers import data

    d = data.load_data(ps.write_demo_csv(tmp_path / "demo.csv"))
    assert d.kind == "tabular" and d.n_labels == 4 and len(d.X_train) + len(d.X_val) + len(d.X_test) == 400


def test_a_message_names_a_parameter_as_a_word_not_inside_a_path_or_longer_name():
    assert ps.names("epochs", "parameter `epochs`: got 1.5") and ps.names("n_train", "n_train=10,000,000: too big")
    assert ps.names("tail", "use a larger n_train or a smaller tail.")
    assert not ps.names("output_dir", "File exists: '/tmp/run_output_dir/a_file'")
    assert not ps.names("epochs", "cardinality_epochs must be >= 1") and not ps.names("tail", "see details")


def test_on_failed_claim_values_are_each_mode_and_wrong_ones():
    values = ps.values_for("on_failed_claim", "str", "auto", {})
    assert values == [("stop", "valid"), ("end", "valid"), ("record", "valid"), ("continue", "bad"), (None, "bad"),
                      (3, "bad")]


def test_a_run_with_failed_claims_recorded_is_counted_as_its_own_outcome():
    rows = [{"notebook": "02_x", "parameter": "data", "value": "yeast.npz", "expected": "valid",
             "outcome": ps.OK_FAILED, "detail": "3 held, 4 failed (a, b, c, d), 7 n.a.", "good": True, "wall_s": 60.0}]
    assert ps.format_table(ps.table(rows)).splitlines()[-1] == ("1 runs: 1 ok with failed claims; 0 not good; "
                                                                 "findings: 1 valid values with failed claims")


def test_an_empty_list_is_valid_only_where_a_notebook_documents_it():
    assert ([], ps.VALID) in ps.values_for("label_counts", "list", [20, 50, 100], {})
    assert ([], ps.BAD) in ps.values_for("setups", "list", ["a", "b"], {})


def test_resume_reuses_a_row_only_for_the_same_case_at_the_same_commit(tmp_path, monkeypatch):
    import json

    other = ps.Case(CASE.notebook, CASE.parameter, "another value", CASE.expected)
    row = {"notebook": "x", "parameter": CASE.parameter, "value": CASE.shown, "expected": CASE.expected,
           "outcome": "ok", "detail": "1 held, 0 n.a.", "good": True, "wall_s": 1.0}
    monkeypatch.setattr(ps.results, "git_commit", lambda: "abc123")
    for i, (case, commit) in enumerate([(CASE, "abc123"), (CASE, "old000"), (CASE, "abc123")]):
        (tmp_path / f"case_{i:03d}").mkdir()
        saved = {"key": ps.case_key(case), "commit": commit, "row": row}
        (tmp_path / f"case_{i:03d}" / ps.ROW_NAME).write_text(json.dumps(saved))
    (tmp_path / "case_003").mkdir()
    (tmp_path / "case_003" / ps.ROW_NAME).write_text("{not json")
    # case 0: same case, same commit (reused); 1: another commit; 2: the folder holds another case; 3: unreadable
    done = ps.finished_rows([CASE, CASE, other, CASE], tmp_path)
    assert done == {0: row}


def test_resume_needs_the_folder_of_the_runs(capsys):
    assert ps.main([str(FIXTURE), "--params", "fail", "--resume"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err


def test_a_run_writes_its_row_and_resuming_runs_nothing_again(tmp_path):
    case = ps.Case(FIXTURE, "x", 2.0, ps.VALID)
    first = ps.run_cases([case], tmp_path, progress=False)
    assert (tmp_path / "case_000" / ps.ROW_NAME).is_file()
    (tmp_path / "case_000" / FIXTURE.name).unlink()  # a second run would write it again
    again = ps.run_cases([case], tmp_path, progress=False, resume=True)
    assert again.equals(first)
    assert not (tmp_path / "case_000" / FIXTURE.name).exists()


def test_book_and_parameter_runs_import_the_checkout_that_holds_the_notebook(tmp_path, monkeypatch):
    """A run from a second checkout (a worktree sharing one .venv) must import that checkout's helpers."""
    import papermill as pm

    from helpers import book, kernels

    seen = []
    monkeypatch.setattr(kernels, "kernel_manager_class", lambda env=None: seen.append(dict(env or {})))
    monkeypatch.setattr(pm, "execute_notebook", lambda *a, **k: None)
    monkeypatch.setattr(book, "strip_run_metadata", lambda *a, **k: None)
    book.run_notebook(FIXTURE, tmp_path / "out.ipynb")
    ps._run_case_row(ps.Case(FIXTURE, "x", 2.0, ps.VALID), tmp_path / "case", None)
    assert len(seen) == 2
    for env in seen:
        assert env["PYTHONPATH"].split(os.pathsep)[0] == str(repo_root())


def test_a_picked_case_keeps_its_number_and_done_tables_the_runs_so_far(tmp_path, capsys):
    out = tmp_path / "runs"
    assert ps.main([str(FIXTURE), "--params", "x", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    last = len(listed) - 1
    assert last > 0 and listed[last].endswith("x='x'  (bad)")  # the fixture does not check x: it crashes
    assert ps.main([str(FIXTURE), "--params", "x", "--pick", str(last), "--out", str(out)]) == 1
    assert (out / f"case_{last:03d}" / ps.ROW_NAME).is_file() and not (out / "case_000").exists()
    capsys.readouterr()
    assert ps.main([str(FIXTURE), "--params", "x", "--out", str(out), "--done", "--table", str(tmp_path / "t")]) == 1
    text = capsys.readouterr().out
    assert f"1 runs: 1 crash; 1 not good (of {len(listed)} cases listed)" in text
    assert (tmp_path / "t" / "table.txt").read_text().startswith("commit ")
    assert ps.main([str(FIXTURE), "--params", "x", "--done"]) == 2
    assert "--done needs --out" in capsys.readouterr().err


def test_rows_from_another_checkout_are_tabled_at_their_commit(tmp_path, monkeypatch, capsys):
    import json

    row = {"notebook": FIXTURE.stem, "parameter": "x", "value": "2.0", "expected": ps.VALID, "outcome": "ok",
           "detail": "1 held, 0 n.a.", "good": True, "wall_s": 1.0}
    cases = ps.cases([FIXTURE], ["x"])
    i = next(k for k, c in enumerate(cases) if c.value == 0.0)
    key = {**ps.case_key(cases[i]), "notebook": "/elsewhere/notebooks/" + FIXTURE.name}  # an older key: a path
    (tmp_path / f"case_{i:03d}").mkdir()
    (tmp_path / f"case_{i:03d}" / ps.ROW_NAME).write_text(json.dumps({"key": key, "commit": "abc123def456", "row": row}))
    monkeypatch.setattr(ps.results, "git_commit", lambda: "fff000fff000")
    assert ps.finished_rows(cases, tmp_path) == {}  # another commit than this checkout's
    assert ps.finished_rows(cases, tmp_path, commit="abc123") == {i: row}
    assert ps.main([str(FIXTURE), "--params", "x", "--out", str(tmp_path), "--done", "--at", "abc123",
                    "--table", str(tmp_path / "t")]) == 0
    assert (tmp_path / "t" / "table.txt").read_text().startswith("commit abc123")
    assert ps.main([str(FIXTURE), "--params", "x", "--out", str(tmp_path), "--at", "abc123"]) == 2
    assert "--at goes with --done" in capsys.readouterr().err


def _save_row(folder, number, case, commit, outcome, detail="", wall_s=1.0):
    """Write the ``row.json`` a run of the fixture's parameter ``x`` leaves in ``folder/case_NNN``."""
    import json

    row = {"notebook": FIXTURE.stem, "parameter": "x", "value": case.shown, "expected": case.expected,
           "outcome": outcome, "detail": detail, "good": outcome != "crash", "wall_s": wall_s}
    (folder / f"case_{number:03d}").mkdir(parents=True)
    (folder / f"case_{number:03d}" / ps.ROW_NAME).write_text(
        json.dumps({"key": ps.case_key(case), "commit": commit, "row": row}))


def test_rows_of_several_runs_are_tabled_together_by_case_each_naming_its_commit(tmp_path, capsys):
    """--done --from DIR@COMMIT ...: the case list changed between the runs (other folder numbers); a case is
    found by its key, a later run replaces an earlier one, and each row names its commit."""
    cases = ps.cases([FIXTURE], ["x"])
    first, second = tmp_path / "old", tmp_path / "new"
    _save_row(first, 7, cases[0], "aaa1111222", "crash")  # another number than its place in today's list
    _save_row(first, 8, cases[1], "aaa1111222", "ok")
    _save_row(first, 9, cases[1], "zzz9999999", "crash")  # another commit than the one named: not read
    _save_row(second, 0, cases[0], "bbb3333444", "ok")  # the rerun replaces the first run's row
    found = ps.rows_from(cases, [(first, "aaa1111"), (second, "bbb3333")])
    assert sorted(found) == [0, 1]
    assert (found[0]["outcome"], found[0]["commit"]) == ("ok", "bbb3333")
    assert (found[1]["outcome"], found[1]["commit"]) == ("ok", "aaa1111")
    table_dir = tmp_path / "t"
    assert ps.main([str(FIXTURE), "--params", "x", "--done", "--from", f"{first}@aaa1111", "--from",
                    f"{second}@bbb3333", "--table", str(table_dir)]) == 0
    text = capsys.readouterr().out
    assert f"2 runs: 2 ok; 0 not good (of {len(cases)} cases listed)" in text
    assert f"not run yet: {len(cases) - 2} cases" in text or len(cases) == 2
    assert (table_dir / "table.txt").read_text().startswith("commit aaa1111, bbb3333")
    assert list(ps.pd.read_csv(table_dir / "table.csv")["commit"]) == ["bbb3333", "aaa1111"]
    assert ps.main([str(FIXTURE), "--params", "x", "--done", "--from", str(first)]) == 2
    assert "give DIR@COMMIT" in capsys.readouterr().err
    assert ps.main([str(FIXTURE), "--params", "x", "--from", f"{first}@aaa1111"]) == 2
    assert "--from goes with --done" in capsys.readouterr().err


def test_a_written_table_carries_its_rows_forward_when_the_run_folders_are_gone(tmp_path, capsys):
    """--done --from-table CSV: the rows of an earlier table (its run folders lost with their machine) are
    tabled again as they were, each with its commit, and a --from run replaces its row case by case."""
    import shutil

    cases = ps.cases([FIXTURE], ["x"])
    assert len(cases) >= 2
    runs, rerun = tmp_path / "runs", tmp_path / "rerun"

    def save(folder, number, case, commit, outcome):
        _save_row(folder, number, case, commit, outcome, detail="d", wall_s=2.5)

    for i, c in enumerate(cases):
        save(runs, i, c, "aaa1111222", "crash" if i == 0 else "ok")
    first = tmp_path / "first"
    assert ps.main([str(FIXTURE), "--params", "x", "--done", "--from", f"{runs}@aaa1111", "--table", str(first)]) == 1
    shutil.rmtree(runs)  # the folders are gone; the table is the record
    again = tmp_path / "again"
    assert ps.main([str(FIXTURE), "--params", "x", "--done", "--from-table", str(first / "table.csv"),
                    "--table", str(again)]) == 1
    assert (again / "table.csv").read_bytes() == (first / "table.csv").read_bytes()
    assert (again / "table.txt").read_text() == (first / "table.txt").read_text()
    save(rerun, 0, cases[0], "bbb3333444", "ok")
    capsys.readouterr()
    assert ps.main([str(FIXTURE), "--params", "x", "--done", "--from-table", str(first / "table.csv"),
                    "--from", f"{rerun}@bbb3333", "--table", str(again)]) == 0
    frame = ps.pd.read_csv(again / "table.csv")
    assert list(frame["commit"]) == ["bbb3333"] + ["aaa1111"] * (len(cases) - 1)
    assert list(frame["outcome"]) == ["ok"] * len(cases)
    assert (again / "table.txt").read_text().startswith("commit aaa1111, bbb3333")
    assert f"{len(cases)} runs: {len(cases)} ok; 0 not good" in capsys.readouterr().out
    # wrong tables are refused in one line naming the file
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    assert ps.main([str(FIXTURE), "--params", "x", "--done", "--from-table", str(tmp_path / "other.csv")]) == 2
    assert "not a table.csv of this module (no column notebook" in capsys.readouterr().err
    one_run = ps.pd.read_csv(first / "table.csv").assign(commit="")
    one_run.to_csv(tmp_path / "one_run.csv", index=False)
    assert ps.main([str(FIXTURE), "--params", "x", "--done", "--from-table", str(tmp_path / "one_run.csv")]) == 2
    assert "name no commit" in capsys.readouterr().err
    assert ps.main([str(FIXTURE), "--params", "x", "--done", "--from-table", str(tmp_path / "nope.csv")]) == 2
    assert "--from-table" in capsys.readouterr().err
    assert ps.main([str(FIXTURE), "--params", "x", "--from-table", str(first / "table.csv")]) == 2
    assert "--from-table goes with --done" in capsys.readouterr().err


def test_not_in_lists_only_the_cases_a_table_lacks(tmp_path, capsys):
    """--not-in CSV: the cases with no row in the table, each keeping its number in the full list."""
    cases = ps.cases([FIXTURE], ["x"])
    rows = [{"notebook": FIXTURE.stem, "parameter": "x", "value": c.shown, "expected": c.expected,
             "outcome": "ok", "detail": "", "good": True, "wall_s": 1.0, "commit": "aaa1111"} for c in cases[1:]]
    ps.table(rows).to_csv(tmp_path / "t.csv", index=False)
    assert ps.main([str(FIXTURE), "--params", "x", "--list", "--not-in", str(tmp_path / "t.csv")]) == 0
    assert capsys.readouterr().out.splitlines() == [f"   0  {FIXTURE.stem}  x={cases[0].shown}  ({cases[0].expected})"]
    rows.append({**rows[0], "value": cases[0].shown, "expected": cases[0].expected})
    ps.table(rows).to_csv(tmp_path / "t.csv", index=False)
    assert ps.main([str(FIXTURE), "--params", "x", "--not-in", str(tmp_path / "t.csv")]) == 0
    assert "nothing to run" in capsys.readouterr().err
    assert ps.main([str(FIXTURE), "--params", "x", "--not-in", str(tmp_path / "nope.csv")]) == 2
    assert "--not-in" in capsys.readouterr().err
    assert ps.main([str(FIXTURE), "--params", "x", "--done", "--not-in", str(tmp_path / "t.csv")]) == 2
    assert "use --done --from-table" in capsys.readouterr().err


def test_not_in_with_table_finishes_the_table(tmp_path, capsys):
    """--not-in CSV --table DIR: the cases the table lacks are run, and the table written holds its rows and
    the new ones in the list's order, each naming its commit."""
    from helpers import results

    cases = ps.cases([FIXTURE], ["x"])
    rows = [{"notebook": FIXTURE.stem, "parameter": "x", "value": c.shown, "expected": c.expected,
             "outcome": "ok", "detail": "", "good": c.expected == ps.VALID, "wall_s": 1.0, "commit": "aaa1111"}
            for c in cases[:-1]]
    ps.table(rows).to_csv(tmp_path / "t.csv", index=False)
    dest = tmp_path / "done"
    assert ps.main([str(FIXTURE), "--params", "x", "--not-in", str(tmp_path / "t.csv"), "--out",
                    str(tmp_path / "runs"), "--table", str(dest)]) == 1  # the fixture's last case crashes
    frame = ps.pd.read_csv(dest / "table.csv", keep_default_na=False)
    assert list(frame["value"]) == [c.shown for c in cases]
    assert list(frame["commit"]) == ["aaa1111"] * (len(cases) - 1) + [results.git_commit()[:7]]
    assert frame["outcome"].iloc[-1] == "crash"
    assert (dest / "table.txt").read_text().startswith(
        "commit " + ", ".join(sorted({"aaa1111", results.git_commit()[:7]})))
    assert not (tmp_path / "runs" / "case_000").exists()  # the cases the table holds were not run


COMMITTED = repo_root() / "evidence" / "test_params"


@pytest.fixture(scope="module")
def book_cases():
    """Today's list of cases of every numbered notebook (papermill reads each notebook's parameters: once)."""
    return ps.cases(ps.book_notebooks())


def _committed_frame():
    return ps.pd.read_csv(COMMITTED / "table.csv", dtype=str, keep_default_na=False)


def _case_counts(cases, frame):
    """How often each case key (notebook, parameter, value as shown, expected) is in today's list and in the
    table (long values are shown cut, so some keys repeat)."""
    from collections import Counter

    current = Counter((c.notebook.stem, c.parameter, c.shown, c.expected) for c in cases)
    rows = Counter(zip(frame["notebook"], frame["parameter"], frame["value"], frame["expected"], strict=True))
    return current, rows


def test_the_committed_table_is_carried_forward_unchanged(book_cases):
    """evidence/test_params/table.csv read back with --from-table gives the same rows (the matching by shown
    value, cut values included, loses or moves none)."""
    found = ps.rows_from_table(book_cases, COMMITTED / "table.csv")
    frame = _committed_frame()
    assert len(found) == len(frame)
    again = ps.table(found[i] for i in sorted(found)).astype(str)
    frame["wall_s"] = frame["wall_s"].astype(float).astype(str)
    ps.pd.testing.assert_frame_equal(again.reset_index(drop=True), frame.astype(str).reset_index(drop=True))


def test_the_committed_table_names_current_cases_and_its_summary_counts_its_rows(book_cases):
    """evidence/test_params: every row is a case of today's list (a renamed parameter or value makes it stale),
    and the summary printed in table.txt is the one its rows give."""
    frame = _committed_frame()
    frame["good"] = frame["good"].map({"True": True, "False": False})
    frame["wall_s"] = frame["wall_s"].astype(float)
    current, rows = _case_counts(book_cases, frame)
    stale = [r for r in rows if r not in current]
    assert not stale, f"evidence/test_params has rows for cases no longer made: {stale[:3]}"
    twice = [r for r, n in rows.items() if n > current[r]]  # (long values are shown cut, so some keys repeat)
    assert not twice, f"cases appear more often in evidence/test_params than in today's list: {twice[:3]}"
    summary = ps.format_table(ps.table(frame.to_dict("records"))).splitlines()[-1]
    assert summary in (COMMITTED / "table.txt").read_text(encoding="utf-8")


def test_the_committed_table_is_complete_and_every_case_good(book_cases):
    """#19's bar, kept: every case of today's list has its row in evidence/test_params, and every row is good
    (a valid value ran to its last cell or was refused in one line, a wrong one refused in one line). A new
    parameter or value fails here until its cases are run: ``make test-params PARAM_NOT_IN=...`` runs only those."""
    frame = _committed_frame()
    current, rows = _case_counts(book_cases, frame)
    missing = sorted((current - rows).elements())
    assert not missing, (f"{len(missing)} case(s) have no row in evidence/test_params, e.g. {missing[:3]}: run "
                         "make test-params PARAM_NOT_IN=evidence/test_params/table.csv PARAM_OUT=/some/folder")
    bad = frame.loc[frame["good"] != "True", ["notebook", "parameter", "value", "outcome"]]
    assert bad.empty, f"rows that are not good:\n{bad.to_string()}"
