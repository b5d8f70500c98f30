"""The public peer benchmark (helpers/diagnose/benchmark.py, cases in tests/peer_cases/): every
ported case and its clean twin run through the checkers, the table is produced, and each case's
current score is pinned, so that a regression (a hit turned miss, a new false alarm) fails, and so
does an improvement (a known miss turned hit): then update SCORES and KNOWN_MISSES.

These are the scores on the ``peer`` branch's checker; the ``diag`` branch adds LOSS_AT_PRIOR,
LOSS_AT_LN2, LOSS_FLAT, SINGLE_LABEL_TARGETS on one-hot rows and tuple/dict output handling, so the
integrator re-scores after merging (``python -m helpers.diagnose.benchmark``) and updates both.
"""

from __future__ import annotations

import types

import pytest
import torch
from torch import nn

from helpers.diagnose import benchmark
from helpers.diagnose.benchmark import Setup

# case: (detected, diagnosed, fix named, alarms on the clean twin, alarms on a not-a-bug "buggy" setup)
SCORES: dict[str, tuple[bool, bool, bool, set[str], set[str]]] = {
    "br_041": (True, True, False, set(), set()),
    "br_042": (True, True, False, set(), set()),
    "br_060": (True, False, False, set(), set()),
    "br_066": (False, False, False, set(), set()),
    "br_080": (True, True, False, set(), set()),
    "dl_31627380": (False, True, False, set(), set()),
    "dl_31880720": (True, True, False, set(), set()),
    "dl_34673164": (True, True, True, set(), set()),
    "dl_38648195": (True, True, True, set(), set()),
    "dl_44066044": (True, True, True, set(), set()),
    "dl_44164749": (False, True, False, set(), set()),
    "dl_45337371": (True, True, False, set(), set()),
    "dl_45442843": (True, True, True, set(), set()),
    "dl_48385830": (True, True, False, set(), set()),
    "dl_50079585": (True, True, False, set(), set()),
    "dl_50481178": (False, False, False, set(), set()),
    "dl_51930566": (False, False, False, set(), set()),
    "dl_59325381": (False, False, False, set(), set()),
    "tc_forum84911": (True, True, False, {"OPTIMIZER_PARAMS"}, set()),
    "tc_so60335387": (False, False, False, set(), set()),
}

# the cases with a bug (ALARM True) that the checker does not diagnose today, and why
KNOWN_MISSES = {
    "br_060": "the outputs are constant (softmax over a size-1 axis), but CONSTANT_OUTPUT and the other output "
              "checks are skipped for single-label class-index targets; the monitor sees only the symptom "
              "(LOSS_AT_LN2, LOSS_FLAT, GRAD_VANISHING; check_setup: NO_LEARNING)",
    "br_066": "ARGMAX_AS_MULTILABEL now covers an argmax over a single output column (all predictions 0 while some "
              "scores are positive read both as logits and as probabilities), but this head's initial scores lie in "
              "[0.24, 0.32]: as probabilities all-0 is the right answer, so the rule cannot tell; the near-0 "
              "logits are no collapse (COLLAPSED_PREDICTIONS info), so nothing warns",
    "dl_51930566": "a sigmoid head under a single-label categorical cross-entropy: no code names it, and the output "
                   "checks are skipped for one-hot single-label targets; nothing fires",
    "dl_59325381": "labels divided by 255 become class 0 for every row: no code flags class targets that are all one "
                   "class (single-label checks are skipped); nothing fires",
    "tc_so60335387": "no code names accumulated gradients (a missing zero_grad); in the 300 shrunk steps at lr 1e-4 "
                     "the accumulation speeds Adam up instead of hurting, so the monitor is quiet",
}


@pytest.fixture(scope="module")
def scores():
    return benchmark.run_benchmark()


def test_every_case_is_scored_and_the_table_is_printed(scores):
    names = [s.name for s in scores]
    assert sorted(names) == sorted(SCORES), "a case was added or removed: record its score in SCORES"
    text = benchmark.table(scores)
    for name in names:
        assert f"| {name} |" in text
    assert "| **total** |" in text
    assert not any(s.buggy.crash or s.clean.crash for s in scores), [
        (s.name, s.buggy.crash, s.clean.crash) for s in scores if s.buggy.crash or s.clean.crash]


def test_each_case_keeps_its_recorded_score(scores):
    got = {s.name: (s.detected, s.diagnosed, s.fix_named, set(s.clean_alarms), set(s.misfires)) for s in scores}
    changed = {n: (SCORES[n], got[n]) for n in SCORES if got.get(n) != SCORES[n]}
    assert not changed, ("scores changed (recorded, now): update SCORES / KNOWN_MISSES if this is an "
                         f"intended change of the checker: {changed}")


def test_known_misses_are_exactly_the_undiagnosed_bugs(scores):
    misses = {s.name for s in scores if s.alarm and not s.diagnosed}
    assert misses == set(KNOWN_MISSES), (
        f"newly diagnosed (remove from KNOWN_MISSES): {sorted(set(KNOWN_MISSES) - misses)}; "
        f"newly missed (a regression): {sorted(misses - set(KNOWN_MISSES))}")


def test_cases_carry_their_provenance():
    for name, mod in benchmark.load_cases().items():
        assert mod.SOURCE in ("mehilshah/Bug_Reproducibility_DL_Bugs", "OrderLab/TrainCheck-Evaluation-Workloads",
                              "Wardat-ISU/DeepLocalize"), name
        assert mod.PATH and mod.POST.startswith("https://") and mod.BUG and mod.FIX and mod.PORT, name
        assert not mod.ALARM or mod.FIX_KEYWORDS, f"{name}: a bug case needs the words of its fix"


def _case(buggy, clean, **attrs) -> types.ModuleType:
    mod = types.ModuleType("fake_case")
    defaults = dict(SOURCE="x", PATH="x", POST="https://x", SCOPE="multi-label", BUG="b", FIX="f",
                    EXPECTED=("SOFTMAX_ON_MULTILABEL",), FIX_KEYWORDS=("BCEWithLogits",), ALARM=True, PORT="p")
    for k, v in {**defaults, **attrs, "buggy": buggy, "clean": clean}.items():
        setattr(mod, k, v)
    return mod


def _softmax_setup() -> Setup:
    torch.manual_seed(0)
    x = torch.randn(32, 6)
    y = (torch.rand(32, 4) < 0.5).float()
    return Setup(nn.Sequential(nn.Linear(6, 4), nn.Softmax(dim=1)), nn.BCELoss(), x, y)


def _logits_setup() -> Setup:
    torch.manual_seed(0)
    x = torch.randn(32, 6)
    y = (x[:, :4] > 0).float()
    return Setup(nn.Linear(6, 4), nn.BCEWithLogitsLoss(), x, y)


def test_a_case_that_crashes_is_scored_not_detected_and_reported():
    def raises() -> Setup:
        raise RuntimeError("the setup itself fails")

    def not_a_model() -> Setup:  # check_setup raises TypeError on it
        return Setup("model", nn.BCEWithLogitsLoss(), torch.randn(4, 3), torch.ones(4, 3))  # type: ignore[arg-type]

    scores = benchmark.run_benchmark({"a": _case(raises, _logits_setup), "b": _case(not_a_model, _logits_setup)})
    for s in scores:
        assert s.buggy.crash and not (s.detected or s.diagnosed or s.fix_named), s
    text = benchmark.table(scores)
    assert "crash in a (buggy): RuntimeError: the setup itself fails" in text
    assert "crash in b (buggy): TypeError" in text


def test_scoring_levels_and_false_alarms_on_a_known_case():
    good = benchmark.run_benchmark({"c": _case(_softmax_setup, _logits_setup)})[0]
    assert good.detected and good.diagnosed and good.clean_alarms == []
    no_fix = benchmark.run_benchmark({"d": _case(_softmax_setup, _softmax_setup, FIX_KEYWORDS=("no such words",))})[0]
    assert no_fix.diagnosed and not no_fix.fix_named and "SOFTMAX_ON_MULTILABEL" in no_fix.clean_alarms
    t = benchmark.totals([good, no_fix])
    assert (t["detected"], t["diagnosed"], t["fix_named"], t["clean_twins_with_alarms"]) == (2, 2, len(
        [s for s in (good, no_fix) if s.fix_named]), 1)


def test_load_cases_refuses_an_incomplete_case(tmp_path, monkeypatch):
    pkg = tmp_path / "fake_cases"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "half.py").write_text("SOURCE = 'x'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="half lacks"):
        benchmark.load_cases("fake_cases")


def test_score_lines_print_the_recorded_scores(scores):
    def codes(c):
        return "{" + ", ".join(f'"{x}"' for x in sorted(c)) + "}" if c else "set()"

    expected = [f'    "{n}": ({d}, {g}, {f}, {codes(ca)}, {codes(m)}),' for n, (d, g, f, ca, m) in SCORES.items()]
    assert benchmark.score_lines(scores).splitlines() == expected


def test_docs_show_the_table_of_a_fresh_run(scores):
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "benchmark.md"
    shown = benchmark.table_in(doc.read_text(encoding="utf-8"))
    assert shown == benchmark.table(scores), (
        "docs/benchmark.md's table is stale: PYTHONPATH=$PWD .venv/bin/python -m helpers.diagnose.benchmark "
        "--update docs/benchmark.md")


def test_update_markdown_rewrites_only_the_block(tmp_path):
    doc = tmp_path / "b.md"
    doc.write_text(f"intro\n{benchmark.TABLE_START}\nold\n{benchmark.TABLE_END}\nafter\n")
    benchmark.update_markdown(doc, "| new |")
    assert doc.read_text() == f"intro\n{benchmark.TABLE_START}\n| new |\n{benchmark.TABLE_END}\nafter\n"
    (tmp_path / "none.md").write_text("no block")
    with pytest.raises(SystemExit, match="no .* block"):
        benchmark.update_markdown(tmp_path / "none.md", "x")
