"""The front door: README and notebook 00 show the table held in helpers.frontdoor, its rows are
organised as the issue asks, every cause either names a run and a test or says "not shown in the
book", and every check_setup code it names is one the checker can report (whatever registry
helpers.diagnose provides; the codes another branch is adding excepted, until they exist)."""

import math

import nbformat
import pytest

from helpers import frontdoor
from helpers.frontdoor import Measure, MissingValue, check, claim, lookup, result
from helpers.results import repo_root


def test_readme_blocks_are_in_sync():
    text = (repo_root() / "README.md").read_text(encoding="utf-8")
    assert frontdoor.render_readme(text) == text, "README out of sync: run `.venv/bin/python -m helpers.frontdoor`"


def test_readme_order_what_commands_front_door_own_setup_recipe_findings():
    text = (repo_root() / "README.md").read_text(encoding="utf-8")
    marks = ["make book", "make test", frontdoor.BEGIN, "## Diagnose your own setup", frontdoor.RECIPE_BEGIN,
             "## What the book shows"]
    at = [text.index(m) for m in marks]
    assert at == sorted(at), dict(zip(marks, at, strict=True))


def test_front_door_opens_with_check_setup():
    table = frontdoor.markdown_table()
    assert table.startswith(frontdoor.FIRST_STEP) and "check_setup" in frontdoor.FIRST_STEP


def test_every_named_code_exists_in_diagnose():
    unknown = frontdoor.unknown_codes()
    assert not unknown, f"codes named in helpers/frontdoor.py that helpers.diagnose does not report: {unknown}"


def test_codes_being_added_are_still_missing():
    """Once the `diag` branch registers a code, take it out of CODES_BEING_ADDED (so the check above covers it)."""
    landed = sorted(set(frontdoor.CODES_BEING_ADDED) & frontdoor.known_codes())
    assert not landed, f"now reported by helpers.diagnose; remove from frontdoor.CODES_BEING_ADDED: {landed}"


def test_the_retired_chance_code_is_not_named():
    assert "LOSS_AT_CHANCE" not in frontdoor.mentioned_codes()


def _row(needle):
    rows = [s for s in frontdoor.SYMPTOMS if needle in s.symptom]
    assert len(rows) == 1, f"{needle!r}: {len(rows)} rows"
    return rows[0]


def _causes(needle):
    return " ".join(c.text for c in _row(needle).causes)


def test_required_symptoms_are_covered():
    for needle in ("predicts nothing", "every label", "0.693 (ln 2)", "identical every epoch", "NaN",
                   "high mAP but low F1", "good micro-F1, poor macro-F1", "training fine, test near chance",
                   "learns, but slowly", "got Long", "between 0 and 1", "unsafe to autocast"):
        _row(needle)


def test_rows_hold_the_causes_their_runs_show():
    assert "softmax" in _causes("predicts nothing") and "double sigmoid" in _causes("predicts nothing")
    ln2 = _causes("0.693 (ln 2)")
    assert "zero_grad" in ln2 and "rebuilt" not in ln2 and "too small" not in ln2  # stale: flat at 0.770
    assert "rebuilt" in _causes("identical every epoch")
    assert "another order at test time" in _causes("training fine, test near chance")
    assert "model.eval()" in _causes("learns, but slowly")
    assert "model.eval()" not in _causes("training fine")


def test_causes_no_run_produces_say_so():
    # every cause is now trained somewhere (notebook 12 trains those no other notebook does); a cause added
    # without a run must still say "not shown in the book"
    assert [c.text for s in frontdoor.SYMPTOMS for c in s.causes if not c.shown] == []
    assert frontdoor.NOT_SHOWN not in frontdoor.markdown_table()
    table = frontdoor.markdown_table()
    for s in frontdoor.SYMPTOMS:
        for c in s.causes:
            assert c.shown or (frontdoor.NOT_SHOWN in table), c.text
            assert not c.shown or c.section, f"{c.text}: a measured cause names its section"


def test_every_measure_names_an_existing_notebook_and_a_known_test():
    stems = {p.stem for p in (repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert {s.notebook for s in frontdoor.RECIPE} <= stems
    for symptom, cause, m in frontdoor.measures():
        assert m.notebook in stems, f"{symptom.symptom}: {m.notebook} is not in the book"
        assert cause.section[:2] == m.notebook[:2], f"{cause.text}: section {cause.section} vs {m.notebook}"
        assert m.test in ("<", ">", "~", "has") and m.what and m.run


def test_every_row_but_the_errors_has_a_control():
    for s in frontdoor.SYMPTOMS:
        assert s.controls or s.symptom.startswith("`RuntimeError"), f"{s.symptom}: no control run"


def test_pending_measures_say_what_to_record():
    pending = [m for _, _, m in frontdoor.measures() if m.pending]
    for m in pending:
        assert "record" in m.pending and m.notebook[:2] in m.pending


def test_notebook_00_shows_the_table():
    nb = nbformat.read(repo_root() / "notebooks" / "00_start_here.ipynb", as_version=4)
    shown = [o.get("data", {}).get("text/markdown", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert frontdoor.markdown_table() in shown


def test_where_measured_names_the_sections_of_a_code():
    assert frontdoor.where_measured("DOUBLE_SIGMOID") == ["02 double sigmoid"]
    assert frontdoor.where_measured("LOGITS_NONNEGATIVE") == ["12 the runs"]
    assert "07 optimizer over some parameters" in frontdoor.where_measured("NO_LEARNING")


def test_known_codes_falls_back_to_the_readme(monkeypatch):
    from helpers import diagnose

    monkeypatch.setattr(diagnose, "CODES", None, raising=False)
    codes = frontdoor.known_codes()
    assert {"DOUBLE_SIGMOID", "NO_LEARNING"} <= codes


RECORD = {"results": [{"setup": "a", "pred_pos_rate": 0.01, "map": 0.9, "macro_f1": 0.2},
                      {"setup": "b", "pred_pos_rate": 0.5}],
          "claims": [{"id": "c", "evidence": {"loss": 0.6935, "codes": ["LOSS_NON_FINITE"], "nested": {"x y": 3.0}}}],
          "raised": {"e": "RuntimeError: ... got Long"}}


def test_lookup_reads_entries_claims_and_keys():
    assert lookup(RECORD, result("a", "pred_pos_rate")) == 0.01
    assert lookup(RECORD, claim("c", "nested", "x y")) == 3.0
    assert lookup(RECORD, ("raised", "e")).endswith("got Long")
    with pytest.raises(MissingValue, match="0 entries match"):
        lookup(RECORD, result("zzz", "map"))
    with pytest.raises(MissingValue, match="not in the record"):
        lookup(RECORD, result("a", "train_loss"))


def test_lookup_reads_the_first_present_of_alternative_names():
    assert lookup(RECORD, claim(("renamed", "c"), ("last_loss", "loss"))) == 0.6935
    assert lookup(RECORD, ("results", {"setup": ("z", "b")}, "pred_pos_rate")) == 0.5
    with pytest.raises(MissingValue):
        lookup(RECORD, claim(("x", "y"), "loss"))


@pytest.mark.parametrize("measure,holds", [
    (Measure("n", "a", "rate", result("a", "pred_pos_rate"), "<", 0.02), True),
    (Measure("n", "b", "rate", result("b", "pred_pos_rate"), "<", 0.02), False),
    (Measure("n", "a", "gap", result("a", "map"), ">", 0.3, minus=result("a", "macro_f1")), True),
    (Measure("n", "a", "gap", result("a", "map"), ">", 0.8, minus=result("a", "macro_f1")), False),
    (Measure("n", "c", "loss", claim("c", "loss"), "~", 0.01, math.log(2)), True),
    (Measure("n", "c", "loss", claim("c", "loss"), "~", 0.0001, math.log(2)), False),
    (Measure("n", "c", "codes", claim("c", "codes"), "has", "LOSS_NON_FINITE"), True),
    (Measure("n", "c", "codes", claim("c", "codes"), "has", "LOSS_FLAT"), False),
    (Measure("n", "e", "error", ("raised", "e"), "has", "got Long"), True),
])
def test_check_applies_the_stated_test(measure, holds):
    assert check(measure, RECORD).holds is holds


def test_check_refuses_a_null_number_and_an_unknown_test():
    rec = {"v": None, "w": 1.0}
    with pytest.raises(MissingValue, match="null"):
        check(Measure("n", "r", "v", ("v",), "<", 1.0), rec)
    with pytest.raises(ValueError, match="unknown test"):
        check(Measure("n", "r", "w", ("w",), "<=", 1.0), rec)


def test_describe_gives_the_threshold_in_words():
    m = Measure("n", "r", "training loss", ("x",), "~", 0.01, math.log(2), "ln 2")
    assert m.describe() == "training loss within 0.01 of ln 2"
    assert Measure("n", "r", "rate", ("x",), "<", 0.02).describe() == "rate below 0.02"


def test_own_setup_block_checks_every_part_in_readme_and_notebook_00():
    """The copy-paste block checks the setup, the training loop and the predictions, and shows `probs=`
    for outputs that are probabilities; notebook 00 runs it on a user-style script."""
    text = (repo_root() / "README.md").read_text(encoding="utf-8")
    section = text.split("## Diagnose your own setup", 1)[1].split("\n## ", 1)[0]
    block = section.split("```python", 1)[1].split("```", 1)[0]
    nb = nbformat.read(repo_root() / "notebooks" / "00_start_here.ipynb", as_version=4)
    cell = next(c.source for c in nb.cells if c.cell_type == "code" and "Monitor(" in c.source)
    for code in (block, cell):
        for needle in ("check_setup(model, criterion, xb, yb, optimizer=optimizer, train_targets=Y_train)",
                       "Monitor(", "mon.update(loss=loss, probs=out", "mon.report()", "check_predictions("):
            assert needle in code, needle


def test_result_reads_the_entry_at_half_when_a_record_also_holds_tuned_scores():
    """Notebook 02 records each setup twice (threshold "0.5" and "tuned"); an older record, or 07's, once
    without a threshold: result() reads the 0.5 entry in both."""
    two = {"results": [{"setup": "a", "threshold": "0.5", "map": 0.5}, {"setup": "a", "threshold": "tuned", "map": 0.7}]}
    assert lookup(two, result("a", "map")) == 0.5
    assert lookup(two, result("a", "map", threshold="tuned")) == 0.7
    assert lookup({"results": [{"setup": "a", "map": 0.6}]}, result("a", "map")) == 0.6
    with pytest.raises(MissingValue, match="2 entries match"):
        lookup({"results": [{"setup": "a", "map": 0.6}, {"setup": "a", "map": 0.1}]}, result("a", "map"))
