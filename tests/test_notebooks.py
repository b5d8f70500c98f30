"""The book's conventions, checked on every notebook matched by one glob (no hand-kept list)."""

import ast
import functools
import re

import nbformat
import papermill as pm
import pytest

from helpers.results import repo_root

NOTEBOOKS = sorted((repo_root() / "notebooks").glob("*.ipynb"))


def _nb(path):
    return nbformat.read(path, as_version=4)


def _parameters_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"exactly one cell must be tagged 'parameters', found {len(cells)}"
    return cells[0]


def test_there_are_numbered_notebooks_and_no_strays():
    names = [p.name for p in NOTEBOOKS]
    assert len(names) >= 4
    for name in names:
        assert re.fullmatch(r"\d\d_[a-z0-9]+(_[a-z0-9]+)+\.ipynb", name), f"{name}: use NN_verb_topic.ipynb"
    assert len({n[:2] for n in names}) == len(names), "notebook numbers must be unique"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_layout_title_setup_parameters(path):
    nb = _nb(path)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {path.stem[:2]} ")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "helpers.setup_notebook()" in code[0].source, "first code cell: imports and helpers.setup_notebook()"
    assert "parameters" in code[1].metadata.get("tags", []), "second code cell: the parameters cell"
    _parameters_cell(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_is_typed_commented_and_seen_by_papermill(path):
    cell = _parameters_cell(_nb(path))
    tree = ast.parse(cell.source)
    declared = {}
    for node in tree.body:
        assert isinstance(node, ast.AnnAssign), f"{path.name}: parameters must be `name: type = literal  # help`"
        declared[node.target.id] = ast.literal_eval(node.value)
    lines = {ln.split(":")[0]: ln for ln in cell.source.splitlines() if ln.strip()}
    for name in declared:
        assert "  # " in lines[name], f"{path.name}: parameter {name} needs a comment (its help text)"
    inspected = pm.inspect_notebook(str(path))
    assert set(inspected) == set(declared), "papermill skips lines it cannot parse (e.g. a '=' in the comment)"
    for name, info in inspected.items():
        assert info["help"], f"{path.name}: {name} has no help text"
    assert declared["output_dir"] == f"outputs/{path.stem}"
    assert {"seed", "data"} <= set(declared)
    if "epochs" in declared:
        assert declared.get("device") == "auto"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_are_clean(path):
    nb = _nb(path)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        assert cell.execution_count is not None, f"code cell {i} was not executed: run `make notebooks`"
        for out in cell.outputs:
            assert out.output_type != "error", f"code cell {i} stores an error"
            assert not (out.output_type == "stream" and out.name == "stderr"), f"code cell {i} wrote to stderr"
            text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            assert "<Figure size" not in text or "image/png" in out.get("data", {}), f"cell {i}: bare Figure repr"
            assert str(repo_root()) not in text, f"code cell {i} prints a machine-specific path"


@functools.cache
def _sanitize_patterns():
    """The rules of tests/sanitize.cfg, as nbval reads them."""
    from nbval.plugin import get_sanitize_patterns

    return get_sanitize_patterns((repo_root() / "tests" / "sanitize.cfg").read_text())


def _sanitize(s):
    """``s`` as nbval compares it: every rule of tests/sanitize.cfg applied."""
    for regex, replace in _sanitize_patterns():
        s = re.sub(regex, replace, s)
    return s


def test_sanitize_file_masks_what_varies_and_keeps_integers():
    assert len(_sanitize_patterns()) == 6, "a rule was lost (e.g. an editor stripped the trailing space of 'replace: ')"

    a = "bce   0.907   28.73\nDevice: cpu\nsupport 214\n 45%|####  | 3/15 [00:01<00:02, 1.9epoch/s]"
    b = "bce   0.911    3.50\nDevice: cuda:0 (NVIDIA H100)\nsupport 214\n 0%|          | 0/15 [00:00<?, ?epoch/s]"
    assert _sanitize(a) == _sanitize(b)
    assert _sanitize("support 214") != _sanitize("support 215"), "integers are compared exactly"
    assert _sanitize("at 0x7f3a2b") == _sanitize("at 0x55d1c0") and "/PATH/" in _sanitize("in /home/me/book/x")


@pytest.mark.parametrize("other", [0.354, 0.35, 0.3541])
def test_a_finding_wraps_alike_whatever_the_last_digits(other):
    """A value that differs in its last digits between CPU kernels (AVX-512 0.3542, AVX2 0.354) must not move a
    word from one line of a wrapped table column to another: the columns interleave line by line, so the masked
    text would differ (notebook 06's ALL_ZERO_PHASE table failed nbval under AVX2 so). Values keep their
    trailing zeros."""
    from types import SimpleNamespace

    from helpers.diagnose import monitor
    from helpers.diagnose.report import Report

    def table(val_metric):
        out = []
        epochs = [{"val_pred_rate": 0.0, "val_metric": val_metric}, {"val_pred_rate": 0.2, "val_metric": 0.5}]
        monitor.all_zero_phase(SimpleNamespace(epochs=epochs), None, None, None, out)
        assert [f.code for f in out] == ["ALL_ZERO_PHASE"]
        return Report(findings=out, title="monitor").to_text()

    assert _sanitize(table(0.3542)) == _sanitize(table(other))
