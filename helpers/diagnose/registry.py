"""The registry of finding codes: one entry per rule, the single source of the docs.

Each rule is a small function decorated with :func:`rule`, which records its code, the severities
it may report, its family (the module it lives in), a one-line doc and its fix. The code table in
the package docstring (:func:`code_table`) and the README's list of codes (:func:`readme_codes`)
are generated from here, and tests check both against it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass

SEVERITIES = ("error", "warning", "info")
FAMILIES = ("targets", "outputs", "loss", "pos_weight", "optimizer", "probe", "predictions", "monitor")


@dataclass(frozen=True)
class Rule:
    """One code: what it means (``doc``), how bad it can be (``severities``), the usual ``fix``,
    its ``family`` and the function that checks it."""

    code: str
    severities: tuple[str, ...]
    family: str
    doc: str
    fix: str
    func: Callable | None = None


RULES: dict[str, Rule] = {}


def rule(code: str, severity: str, doc: str, fix: str) -> Callable[[Callable], Callable]:
    """Register the decorated function as the rule for ``code`` (``severity``: "error",
    "warning/info"...). A code is registered once; the family is the function's module."""
    severities = tuple(severity.split("/"))
    if not set(severities) <= set(SEVERITIES):
        raise ValueError(f"{code}: unknown severity {severity!r}")

    def deco(func: Callable) -> Callable:
        family = func.__module__.rsplit(".", 1)[-1]
        if family not in FAMILIES:
            raise ValueError(f"{code}: rule in module {func.__module__}, not a known family {FAMILIES}")
        if code in RULES:
            raise ValueError(f"code {code} is registered twice ({RULES[code].func} and {func})")
        RULES[code] = Rule(code, severities, family, " ".join(doc.split()), fix, func)
        func.code = code
        return func

    return deco


def codes() -> dict[str, str]:
    """code -> its one-line doc."""
    return {c: r.doc for c, r in RULES.items()}


def code_severities() -> dict[str, tuple[str, ...]]:
    return {c: r.severities for c, r in RULES.items()}


def code_table() -> str:
    """Every registered code as an RST simple table (family order), for the package docstring."""
    widths = (max(len(c) for c in RULES) + 2, 15, 12, 52, 38)
    header = ("code", "severity", "family", "triggered when", "fix")
    border = "  ".join("=" * w for w in widths)
    lines = ["Codes", "=====", "",
             "Severity: ``error`` -- training is broken or raises; ``warning`` -- it runs but will train badly or "
             "report misleading metrics; ``info`` -- worth knowing, often intended.", "",
             border, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(), border]
    for fam in FAMILIES:
        for r in (r for r in RULES.values() if r.family == fam):
            cols = [[r.code], ["/".join(r.severities)], [r.family], textwrap.wrap(r.doc, widths[3]),
                    textwrap.wrap(f"``{r.fix}``", widths[4], break_long_words=False, break_on_hyphens=False)]
            for k in range(max(map(len, cols))):
                cells = [(c[k] if k < len(c) else "") for c in cols]
                lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    lines.append(border)
    return "\n".join(lines)


def readme_codes() -> str:
    """The README's list of codes, one line per family (what tests compare the README with)."""
    out = []
    for fam in FAMILIES:
        names = [f"`{r.code}`" for r in RULES.values() if r.family == fam]
        if names:
            out.append(f"- {fam}: {', '.join(names)}")
    return "\n".join(out)
