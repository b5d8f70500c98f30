"""Every relative link in the README and the docs/ pages resolves: the file (or folder) exists, and an
anchor (``page.md#section``) names a heading of that page, as GitHub renders it. Links inside code are
not links; web links are not fetched (the tests run offline)."""

import re
from pathlib import Path

import pytest

from helpers.results import repo_root

ROOT = repo_root()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCED = re.compile(r"```.*?```", re.S)
CODE_SPAN = re.compile(r"(?<!\[)`[^`\n]*`(?!\])")  # not the text of a link
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def links(markdown: str) -> list[str]:
    """The link targets of ``markdown``, outside fenced code and code spans (a code span that is a link's
    text is kept: ``[`evidence/`](evidence/)`` is a link)."""
    return LINK.findall(CODE_SPAN.sub(" ", FENCED.sub(" ", markdown)))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCED.sub(" ", page.read_text(encoding="utf-8"))
    return {slug(h) for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)}


def test_the_helpers():
    assert links("see [a](docs/a.md) and `[b](no.md)`, [`evidence/`](evidence/)\n```\n[c](x.md)\n```") == \
        ["docs/a.md", "evidence/"]
    assert slug("Measured on a GPU") == "measured-on-a-gpu"
    assert slug("Start here: what you see → likely cause") == "start-here-what-you-see--likely-cause"


def test_there_are_docs_pages():
    assert len(PAGES) > 1, "docs/*.md is missing"


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` that do not resolve, each with why."""
    broken = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file or folder")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    return broken


def test_broken_links_are_found(tmp_path):
    (tmp_path / "b.md").write_text("# Title\n\n## A section\n", encoding="utf-8")
    page = tmp_path / "a.md"
    page.write_text("[ok](b.md) [ok](b.md#a-section) [web](https://example.org/x) [self](#top)\n# Top\n"
                    "[gone](c.md) [bad anchor](b.md#nope)\n", encoding="utf-8")
    assert broken_links(page) == ["c.md: no such file or folder", "b.md#nope: no heading #nope in b.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = broken_links(page)
    assert not broken, f"{page.name}: broken links: {broken}"


def test_readme_links_every_docs_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(readme)}
    missing = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not missing, f"docs pages the README does not link: {missing}"
