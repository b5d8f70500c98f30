"""The results of a check: :class:`Finding` (one problem, with its code from the registry) and
:class:`Report` (the findings and the facts measured; a plain-text table, an HTML table in a
notebook, ``.to_dict()`` for JSON)."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from helpers.diagnose.registry import RULES, SEVERITIES
from helpers.results import jsonable


@dataclass(frozen=True)
class Finding:
    """One problem: its ``code`` (a key of :data:`CODES`), ``severity`` ("error", "warning" or
    "info"), a ``message`` naming what was seen (shapes, dtypes, ranges, numbers) and a ``fix``
    (a short code line)."""

    code: str
    severity: str
    message: str
    fix: str = ""

    def __post_init__(self) -> None:
        if self.code not in RULES:
            raise ValueError(f"unknown finding code {self.code!r}; known codes: {sorted(RULES)}")
        if self.severity not in RULES[self.code].severities:
            raise ValueError(f"{self.code} findings are {'/'.join(RULES[self.code].severities)}, "
                             f"not {self.severity!r}")
        see = RULES[self.code].see
        if see and "Next: notebook" not in self.message:  # the next step: where the book measures the cause
            object.__setattr__(self, "message", f"{self.message} Next: notebook {see}.")

    @property
    def see(self) -> str:
        """The notebook and section that measures this finding's cause."""
        return RULES[self.code].see

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message, "fix": self.fix,
                "see": self.see}


_ORDER = {s: i for i, s in enumerate(SEVERITIES)}
_TITLE_FAMILIES = {"check_setup": ("targets", "outputs", "loss", "pos_weight", "optimizer", "probe"),
                   "check_predictions": ("predictions",), "monitor": ("monitor",)}
_COLOURS = {"error": "#b00020", "warning": "#a15c00", "info": "#3465a4"}


@dataclass
class Report:
    """What a check found: ``findings`` (errors first) and ``facts`` (what it measured: loss type,
    shapes, first loss, probe losses, timing). Iterate it for the findings. ``title`` names the
    check in the headline (``check_setup``, ``check_predictions``, ``monitor``)."""

    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    title: str = "check_setup"

    @property
    def ok(self) -> bool:
        """True when no finding is an error."""
        return not any(f.severity == "error" for f in self.findings)

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def by_severity(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if f.severity == severity]

    def get(self, code: str) -> Finding | None:
        """The first finding with ``code``, or None."""
        return next((f for f in self.findings if f.code == code), None)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __contains__(self, item: object) -> bool:
        return item in self.codes if isinstance(item, str) else item in self.findings

    def counts(self) -> dict[str, int]:
        return {s: len(self.by_severity(s)) for s in SEVERITIES}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (non-finite floats become None)."""
        return {"ok": self.ok, "counts": self.counts(), "findings": [f.to_dict() for f in self.findings],
                "facts": jsonable(self.facts, fallback=str)}

    def _headline(self) -> str:
        c = self.counts()
        parts = [f"{c['error']} error{'s' * (c['error'] != 1)}", f"{c['warning']} warning{'s' * (c['warning'] != 1)}",
                 f"{c['info']} info"]
        f = self.facts
        ctx = ", ".join(str(v) for v in (
            f.get("loss"),
            f"batch {f['batch_size']} x {f['n_labels']} labels" if "batch_size" in f and "n_labels" in f else None,
            f.get("device"),
            f"{f['elapsed_s']:.2f} s" if "elapsed_s" in f else None,
        ) if v)
        return f"{self.title}: {', '.join(parts)}" + (f" ({ctx})" if ctx else "")

    def clean_line(self) -> str:
        """What a report without findings says: how many known mistakes were looked for, not a verdict."""
        families = _TITLE_FAMILIES.get(self.title)
        if families is None:
            return "No findings."
        n = sum(r.family in families for r in RULES.values())
        return f"No findings: none of the {n} known mistakes {self.title} looks for was found."

    def to_text(self, width: int = 120) -> str:
        """The findings as a plain-text table ``width`` characters wide (what ``print`` shows)."""
        lines = [self._headline()]
        if not self.findings:
            lines.append(self.clean_line())
            return "\n".join(lines)
        code_w = max(len(c) for c in self.codes)
        rest = max(width - 8 - code_w - 6, 40)
        widths = (8, code_w, rest * 3 // 5, rest - rest * 3 // 5)
        header = ("severity", "code", "message", "fix")
        lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        for f in self.findings:
            cols = [[f.severity], [f.code], textwrap.wrap(f.message, widths[2]) or [""],
                    textwrap.wrap(f.fix, widths[3], break_long_words=False, break_on_hyphens=False) or [""]]
            for k in range(max(map(len, cols))):
                cells = [(c[k] if k < len(c) else "") for c in cols]
                lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython's plain-text display (a terminal, or a notebook's text/plain): the table print() gives,
        not the dataclass repr."""
        p.text(self.to_text())

    def _repr_html_(self) -> str:
        esc = html.escape
        head = f"<p><b>{esc(self._headline())}</b></p>"
        if not self.findings:
            return head + f"<p>{esc(self.clean_line())}</p>"
        cell = 'style="text-align:left;vertical-align:top;padding:2px 8px"'
        rows = [f"<tr><th {cell}>severity</th><th {cell}>code</th><th {cell}>message</th><th {cell}>fix</th></tr>"]
        for f in self.findings:
            colour = _COLOURS[f.severity]
            rows.append(
                f'<tr><td {cell}><span style="color:{colour};font-weight:bold">{esc(f.severity)}</span></td>'
                f"<td {cell}><code>{esc(f.code)}</code></td><td {cell}>{esc(f.message)}</td>"
                f"<td {cell}><code>{esc(f.fix)}</code></td></tr>"
            )
        return head + "<table>" + "".join(rows) + "</table>"


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first, then warnings, then info (stable)."""
    return sorted(findings, key=lambda f: _ORDER[f.severity])
