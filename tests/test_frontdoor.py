"""The front door: README and notebook 00 show the table held in helpers.frontdoor, and every
check_setup code it names is one the checker can report (whatever registry helpers.diagnose provides)."""

import nbformat

from helpers import frontdoor
from helpers.results import repo_root


def test_readme_blocks_are_in_sync():
    text = (repo_root() / "README.md").read_text(encoding="utf-8")
    assert frontdoor.render_readme(text) == text, "README out of sync: run `.venv/bin/python -m helpers.frontdoor`"


def test_front_door_table_comes_right_after_the_two_commands():
    text = (repo_root() / "README.md").read_text(encoding="utf-8")
    assert text.index("make test") < text.index(frontdoor.BEGIN) < text.index("## What the book shows")


def test_every_named_code_exists_in_diagnose():
    unknown = frontdoor.mentioned_codes() - frontdoor.known_codes()
    assert not unknown, f"codes named in helpers/frontdoor.py that helpers.diagnose does not report: {sorted(unknown)}"


def test_required_symptoms_are_covered():
    symptoms = " ".join(s.symptom for s in frontdoor.SYMPTOMS)
    for needle in ("all zeros", "every label", "0.693", "NaN", "high mAP but low F1", "good micro-F1, poor macro-F1",
                   "training loss falls, validation doesn't", "got Long", "between 0 and 1", "unsafe to autocast"):
        assert needle in symptoms, needle


def test_recipe_and_table_point_at_existing_notebooks():
    stems = {p.stem for p in (repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert {s.notebook for s in frontdoor.RECIPE} <= stems
    numbers = {s[:2] for s in stems}
    for row in frontdoor.SYMPTOMS:
        for where in row.where:
            assert where[:2] in numbers, f"{row.symptom}: {where} names no notebook"


def test_notebook_00_shows_the_table():
    nb = nbformat.read(repo_root() / "notebooks" / "00_start_here.ipynb", as_version=4)
    shown = [o.get("data", {}).get("text/markdown", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert frontdoor.markdown_table() in shown


def test_known_codes_falls_back_to_the_readme(monkeypatch):
    from helpers import diagnose

    monkeypatch.setattr(diagnose, "CODES", None, raising=False)
    codes = frontdoor.known_codes()
    assert {"DOUBLE_SIGMOID", "NO_LEARNING"} <= codes
