"""The threshold-rule evidence set's maker (helpers.threshold_rules): rules, judging, files, provenance."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers import make_evidence, threshold_rules
from helpers.results import repo_root


def _probs(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_val = (rng.random((300, 4)) < [0.5, 0.2, 0.05, 0.02]).astype(int)
    y_test = (rng.random((300, 4)) < [0.5, 0.2, 0.05, 0.02]).astype(int)
    out = {"Y_val": y_val, "Y_test": y_test}
    for k, setup in enumerate(threshold_rules.SETUPS):  # informative but miscalibrated scores: low for rare labels
        out[setup + "/val"] = np.clip(0.3 * y_val + 0.1 * rng.random(y_val.shape) + 0.05 * k, 0, 1)
        out[setup + "/test"] = np.clip(0.3 * y_test + 0.1 * rng.random(y_test.shape) + 0.05 * k, 0, 1)
    return out


def test_rules_are_scored_per_setup_and_judged_against_the_logit_grid():
    table = pd.DataFrame([r for s in range(5) for r in threshold_rules.rule_rows(s, _probs(s))])
    rules = {"fixed 0.5", "old grid 0.05-0.95"} | {f"logit grid, min {k}" for k in threshold_rules.FALLBACKS}
    assert set(table["rule"]) == rules and len(table) == 5 * 2 * len(rules)
    # 0.5 is above every score of a positive here, so the fixed rule finds nothing and tuning wins
    fixed = table[table["rule"] == "fixed 0.5"]["macro_f1"]
    tuned = table[table["rule"] == threshold_rules.REFERENCE]["macro_f1"]
    assert fixed.max() < tuned.min()
    judged = threshold_rules.judge(table)
    assert len(judged) == 2 * (len(rules) - 1) and set(judged.index.names) == {"setup", "rule"}
    assert judged.loc[(threshold_rules.SETUPS[0], "fixed 0.5"), "verdict"] == "a difference"
    text = threshold_rules.report(table, judged)
    assert text.count("\n- ") == len(judged) and "minus logit grid, min 1, test macro-F1" in text


def test_make_writes_the_set_with_its_provenance_and_keeps_the_committed_columns(tmp_path):
    dest = tmp_path / "thresholds"
    sizes = {"n_train": 300, "n_val": 200, "n_test": 200, "epochs": 1, "tail": 1.0}
    assert threshold_rules.make(dest, seeds=(0, 1), workers=2, sizes=sizes) == dest
    assert sorted(p.name for p in dest.iterdir()) == sorted(threshold_rules.FILES)  # no staging folder left
    table = pd.read_csv(dest / "results.csv")
    committed = pd.read_csv(repo_root() / "evidence" / "thresholds" / "results.csv", nrows=1)
    assert list(table.columns) == list(committed.columns) and sorted(table["seed"].unique()) == [0, 1]
    prov = json.loads((dest / "provenance.json").read_text())
    assert prov["runs"] == 2 and prov["run_seconds"] > 0 and prov["sizes"]["n_train"] == 300
    assert prov["torch_threads"] == 1 and "helpers/metrics.py" in prov["code"]["files"]
    with pytest.raises(ValueError, match="is a file"):
        (tmp_path / "f").write_text("x")
        threshold_rules.make(tmp_path / "f", seeds=(0,), sizes=sizes)


def test_make_evidence_regenerates_every_committed_set_with_a_results_table():
    made = {p.parent.name for p in (repo_root() / "evidence").glob("*/results.csv")}
    assert made <= set(make_evidence.ALL), f"evidence sets make evidence does not make: {sorted(made - set(make_evidence.ALL))}"
    assert "thresholds" in make_evidence.MADE_BY
