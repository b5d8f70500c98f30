"""Prose that cannot contradict the run: no measured-looking number typed into a notebook's markdown.

A markdown cell may explain; a measured number belongs in the output of code (an f-string, or
``IPython.display.Markdown`` built from values) or in the text of a recorded claim, so it changes
when the run changes. This test fails when a markdown cell holds, in plain text, a decimal with two
or more decimal places (``0.731``, ``.25``). Parameter values and defaults go in code spans
(```alpha=0.25```), formulas in ``$…$``; both are ignored here, as are fenced code blocks.
"""

import re

import nbformat
import pytest

from tests.notebook_runs import NOTEBOOKS

FENCED = re.compile(r"```.*?```", re.S)
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
CODE_SPAN = re.compile(r"`[^`\n]+`")
DECIMAL = re.compile(r"(?<![\w.])\d*\.\d{2,}(?![\w]|\.\d)")  # 0.731, .25; not 2.13.0, not v1.25a


def plain_text(markdown: str) -> str:
    """The markdown without fenced code, math and code spans."""
    return CODE_SPAN.sub(" ", MATH.sub(" ", FENCED.sub(" ", markdown)))


def typed_decimals(markdown: str) -> list[str]:
    """Measured-looking decimals in the plain text of a markdown cell."""
    return DECIMAL.findall(plain_text(markdown))


def test_the_pattern():
    assert typed_decimals("MSE reaches 0.909 vs 0.907") == ["0.909", "0.907"]
    assert typed_decimals("alpha of .25 here") == [".25"]
    assert typed_decimals("a threshold of 0.5, a 60/20/20 split, 1,797 images, 15 epochs") == []
    assert typed_decimals("`alpha=0.25`, $\\sigma(0.731)$, torch 2.13.0") == []
    assert typed_decimals("```python\nx = 0.123\n```\nand `p = 0.25`") == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_typed_measurements_in_markdown(notebook):
    nb = nbformat.read(notebook, as_version=4)
    found = [(i, n, c.source[max(0, c.source.find(n) - 40):c.source.find(n) + len(n) + 20].replace("\n", " "))
             for i, c in enumerate(nb.cells) if c.cell_type == "markdown" for n in typed_decimals(c.source)]
    assert not found, (f"{notebook.name}: markdown with typed decimals (print measured numbers from code, put "
                       f"parameters in `code spans`, formulas in $…$):\n"
                       + "\n".join(f"  cell {i}: {n!r} in …{ctx}…" for i, n, ctx in found))
