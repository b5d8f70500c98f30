"""Multi-seed numbers quoted in the book are recomputed from the committed evidence table, and every
number in the README's findings is one the book prints.

``evidence/imbalance/`` holds the results table of ``sweeps/imbalance.yaml`` with its spec, claims,
commit and environment (``python -m helpers.evidence outputs/sweeps/imbalance``). Every "mean ± std"
in the committed outputs of notebooks 04 and 05 and in the README's "What the book shows" must be
one of the figures recomputed here from that table (a mean ± standard deviation over seeds of a
metric per tail, threshold and setup, or of a paired difference from plain BCE).
"""

import json
import re

import nbformat
import pytest

from helpers import evidence, recipe, stats
from helpers.results import repo_root
from tests.notebook_runs import NOTEBOOKS

EVIDENCE = repo_root() / "evidence" / "imbalance"
PM = re.compile(r"[-+]?\d+\.\d+ ± \d+\.\d+")
DECIMAL = re.compile(r"(?<![\w.])\d*\.\d{2,}(?![\w]|\.\d)")


def _outputs_text(nb_path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    parts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            parts.append(o.get("text", ""))
            parts.extend(str(v) for k, v in o.get("data", {}).items() if k.startswith("text/"))
    return "\n".join(parts)


def _readme_findings() -> str:
    """The README's findings as written (the block generated from the evidence sets by helpers/recipe.py is
    left out: tests/test_recipe.py checks it against its rendering from evidence/)."""
    text = (repo_root() / "README.md").read_text(encoding="utf-8")
    start = text.index("## What the book shows")
    section = text[start:text.index("\n## ", start + 1)]
    if recipe.FINDINGS_BEGIN in section:
        head, rest = section.split(recipe.FINDINGS_BEGIN, 1)
        section = head + rest.split(recipe.FINDINGS_END, 1)[1]
    return section


@pytest.fixture(scope="module")
def ev():
    assert EVIDENCE.is_dir(), "evidence/imbalance is missing: python -m helpers.evidence outputs/sweeps/imbalance"
    return evidence.load(EVIDENCE)


@pytest.fixture(scope="module")
def recomputed(ev):
    """Every mean ± std the book may quote, recomputed from the committed table."""
    t = ev.table
    figures = set()
    for metric in ("macro_f1", "micro_f1", "map", "pred_pos_rate"):
        s = evidence.seed_stats(t, ["tail", "threshold", "setup"], metric)
        figures |= {evidence.pm(m, sd) for m, sd in zip(s["mean"], s["std"], strict=True)}
    for metric, thr in (("macro_f1", "0.5"), ("macro_f1", "tuned"), ("map", "0.5"), ("micro_f1", "0.5")):
        g = evidence.paired_gaps(t, "tail", metric, "bce_with_logits", thr)
        figures |= {evidence.pm(m, sd) for m, sd in zip(g["mean"], g["std"], strict=True)}
    return figures


CI = re.compile(r"\[[-+]\d+\.\d+, [-+]\d+\.\d+\]")


def test_report_intervals_and_verdicts_recompute(ev):
    """05's intervals and verdicts are those helpers.stats gives on the committed table: every interval it
    prints is one of the table's Holm-corrected or 95 % intervals, and its verdict counts match."""
    judged = stats.judge_table(ev.table, "tail", [("macro_f1", "0.5"), ("macro_f1", "tuned"), ("map", "0.5")],
                               "bce_with_logits")
    figures = {stats.fmt_ci(lo, hi) for lo, hi in zip(judged["low"], judged["high"], strict=True)}
    figures |= {stats.fmt_ci(lo, hi) for lo, hi in zip(judged["ci95_low"], judged["ci95_high"], strict=True)}
    text = _outputs_text(next(p for p in NOTEBOOKS if p.stem == "05_sweep_report"))
    counts = ", ".join(f"{v} {n}" for v, n in judged["verdict"].value_counts().items())
    assert f"verdicts: {counts}" in text, f"05 does not print the verdicts of the committed evidence ({counts})"
    table_cis = set(CI.findall(text.split("lead: the best")[1].split("illustration:")[0]))  # the judged table, sentences
    assert table_cis and table_cis <= figures, sorted(table_cis - figures)


def test_evidence_is_complete_with_its_provenance(ev):
    runs = ev.table.groupby("run_id")["status"].first()
    assert (runs == "ok").all(), f"failed runs in the evidence: {list(runs[runs != 'ok'].index)}"
    assert len(runs) == len(ev.manifest["runs"])
    assert ev.table.groupby("tail")["seed"].nunique().min() >= 5, "effects need 5 seeds or more per level"
    prov = ev.provenance
    assert prov["commit"] and prov["env"]["torch"]
    assert prov["packages"]["torch"] and prov["packages_match_runs"], "packages recorded from another environment"
    assert prov["threads"]["torch_threads"] and None not in prov["threads"]["torch_threads"]
    nb = ev.manifest["notebook"]
    assert nb in prov["code"]["files"] and "helpers/metrics.py" in prov["code"]["files"], "code hashes missing"
    assert (EVIDENCE / "spec.yaml").read_text() == (repo_root() / "sweeps" / "imbalance.yaml").read_text(), \
        "the committed spec and sweeps/imbalance.yaml differ: rerun the sweep and export it again"
    assert (ev.claims["failed"] == 0).all(), ev.claims[ev.claims["failed"] > 0]


@pytest.mark.parametrize("where", ["05_sweep_report", "04_pos_weight_imbalance", "README"])
def test_quoted_multi_seed_figures_recompute(recomputed, where):
    if where == "README":
        text = _readme_findings()
    else:
        nb = next((p for p in NOTEBOOKS if p.stem == where), None)
        assert nb is not None, f"{where} is not in the book"
        text = _outputs_text(nb)
    quoted = set(PM.findall(text))
    wrong = sorted(q for q in quoted if q.lstrip("+") not in recomputed)
    assert not wrong, f"{where} quotes multi-seed figures the evidence table does not give: {wrong}"
    if where == "05_sweep_report":
        assert quoted, f"{where} quotes no multi-seed figure"


INTERVAL = re.compile(r"[-+]\d+\.\d+ \[[-+]\d+\.\d+, [-+]\d+\.\d+\]")  # +0.011 [-0.051, +0.074]


def test_readme_intervals_are_notebook_05s():
    """The README's multi-seed findings quote paired differences with their Holm-corrected intervals exactly as
    notebook 05 prints them from the committed evidence (05's own test recomputes them from the table)."""
    quoted = set(INTERVAL.findall(_readme_findings()))
    assert quoted, "README quotes no multi-seed interval"
    printed = _outputs_text(next(p for p in NOTEBOOKS if p.stem == "05_sweep_report"))
    missing = sorted(q for q in quoted if q not in printed)
    assert not missing, f"README quotes intervals notebook 05 does not print: {missing}"


def test_readme_findings_are_numbers_the_book_prints():
    """Every decimal in a README finding (one bullet) appears in the committed outputs of a notebook that the
    finding names ("notebook 08"), or of any book notebook where it names none. Per finding, so that a
    one-seed figure its notebook no longer prints is caught even where the same digits appear in another
    notebook (0.471 did, in 08's cleanlab precision, after 08 ran on another CPU)."""
    text = PM.sub(" ", _readme_findings())  # the ± figures are checked against the evidence above
    outputs = {p.name[:2]: _outputs_text(p) for p in NOTEBOOKS}
    missing = []
    for finding in re.split(r"\n(?=- \*\*)", text):
        named = sorted(set(re.findall(r"notebooks? (\d\d)", finding)) & set(outputs)) or sorted(outputs)
        printed = "\n".join(outputs[n] for n in named)
        missing += [f"{n} (notebook {', '.join(named) if len(named) < len(outputs) else 'any'})"
                    for n in sorted(set(DECIMAL.findall(finding)))
                    if not re.search(rf"(?<![\d.]){re.escape(n)}(?!\d)", printed)]
    assert not missing, f"README findings quote numbers their notebooks do not print: {missing}"


GPU_EVIDENCE = repo_root() / "evidence" / "gpu_check"
NUMBER = re.compile(r"(?<![\w.,])(?:\d[\d,]*\.\d+|\d{1,3}(?:,\d{3})+)(?![\w]|[.,]\d)")  # 0.976, 36,380


def _evidence_numbers(folder) -> list[str]:
    """The figures the GPU run printed: its summary, its logs, and its claims' evidence (not every number
    in the metrics files, among which almost any figure would find a match)."""
    parts = [p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*.log"))]
    parts.append((folder / "summary.json").read_text(encoding="utf-8"))
    for p in sorted(folder.rglob("*.metrics.json")):
        parts.append(json.dumps([c.get("evidence") for c in json.loads(p.read_text(encoding="utf-8"))["claims"]]))
    return re.findall(r"\d[\d,]*(?:\.\d+)?", "\n".join(parts))


def _printed(quoted: str, numbers: list[str]) -> bool:
    """``quoted`` is one of ``numbers``, or one of them rounded to ``quoted``'s decimals."""
    places = len(quoted.split(".")[1]) if "." in quoted else 0
    q = float(quoted.replace(",", ""))
    return any(n == quoted or round(float(n.replace(",", "")), places) == q for n in numbers)


def test_gpu_page_figures_come_from_the_committed_gpu_run():
    """Every decimal in docs/gpu.md's "Measured on a GPU" (moved there from the README) is in evidence/gpu_check
    (as printed there, or rounded from a figure there): the GPU figures cannot be typed in or outlive a rerun."""
    text = (repo_root() / "docs" / "gpu.md").read_text(encoding="utf-8")
    start = text.index("## Measured on a GPU")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end > 0 else len(text)]
    summary = json.loads((GPU_EVIDENCE / "summary.json").read_text(encoding="utf-8"))
    assert summary["steps"] and all(s["status"] == "ok" for s in summary["steps"]), summary["steps"]
    assert summary["gpu"] in section and summary["seconds"] <= summary["budget_s"]
    numbers = _evidence_numbers(GPU_EVIDENCE)
    quoted = NUMBER.findall(section)
    assert quoted, "the GPU section quotes no figure"
    missing = sorted({q for q in quoted if not _printed(q, numbers)})
    assert not missing, f"README's GPU section quotes figures evidence/gpu_check does not hold: {missing}"


def test_printed_matches_only_roundings():
    assert _printed("0.79", ["0.7889714"]) and _printed("36,380", ["36,380"]) and _printed("1.22", ["1.22"])
    assert not _printed("0.78", ["0.7889714"]) and not _printed("0.9", ["0.7889714"])


def test_evidence_seed_run_finds_the_default_run_and_names_a_mismatch():
    import pandas as pd

    from tests.headline_sources import evidence_seed_run

    table = pd.DataFrame([{"status": "ok", "tail": t, "seed": s, "setup": "a", "macro_f1": 0.5 + s}
                          for t in (0.0, 3.3) for s in (0, 1)])
    manifest = {"sweep": "x", "parameters": {"epochs": 15}, "grid": {"tail": [0.0, 3.3], "seed": [0, 1]}}
    rows = evidence_seed_run(table, manifest, {"epochs": 15, "tail": 3.3, "seed": 0, "lr": 0.003})
    assert len(rows) == 1 and rows.iloc[0]["macro_f1"] == 0.5
    with pytest.raises(AssertionError, match="fixes epochs=15, but the notebook's default run has epochs=30"):
        evidence_seed_run(table, manifest, {"epochs": 30, "tail": 3.3, "seed": 0})
    with pytest.raises(AssertionError, match="no run with"):
        evidence_seed_run(table, manifest, {"epochs": 15, "tail": 2.0, "seed": 0})
