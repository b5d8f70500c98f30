"""helpers.stats: paired t-intervals, Holm, verdicts and sentences, checked against scipy and hand-worked inputs."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from helpers import stats as S


def test_t_interval_by_hand():
    # d = 1..5: mean 3, sd sqrt(2.5), sem sqrt(0.5); t(0.975, 4) = 2.776445 -> half-width 1.963243
    low, high = S.t_interval([1, 2, 3, 4, 5])
    assert low == pytest.approx(3 - 1.963243, abs=1e-6) and high == pytest.approx(3 + 1.963243, abs=1e-6)
    assert S.p_value([1, 2, 3, 4, 5]) == pytest.approx(0.013236, abs=1e-6)  # t = 4.2426, df 4
    assert S.t_interval([0.2, 0.2, 0.2]) == (0.2, 0.2) and S.p_value([0.2, 0.2]) == 0.0 and S.p_value([0, 0]) == 1.0
    assert all(np.isnan(S.t_interval([0.3])))
    with pytest.raises(ValueError, match="NaN"):
        S.t_interval([0.1, float("nan")])


def test_paired_test_and_interval_match_scipy_ttest_rel():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.normal(0.8, 0.05, 7)
        b = a + rng.normal(0.01, 0.02, 7)
        res = sps.ttest_rel(b, a)
        assert S.p_value(b - a) == pytest.approx(res.pvalue, rel=1e-9)
        ci = res.confidence_interval(0.9)
        assert S.t_interval(b - a, 0.9) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_holm_known_input():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    assert S.holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert S.holm([0.5, 0.9]).tolist() == pytest.approx([1.0, 1.0])  # capped at 1
    assert S.holm([0.01, np.nan]).tolist()[0] == pytest.approx(0.01) and np.isnan(S.holm([0.01, np.nan])[1])
    assert S.holm_levels([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx(
        [1 - 0.05 / 3, 1 - 0.05 / 1, 1 - 0.05 / 2, 1 - 0.05 / 4])


def test_verdicts_are_exclusive_and_follow_the_rule():
    assert S.verdict(0.05, 0.03, 0.07, 0.01, 0.001) == S.DIFFERENCE
    assert S.verdict(0.005, 0.001, 0.009, 0.01, 0.001) == S.EQUIVALENT  # excludes 0 but inside +-SESOI
    assert S.verdict(0.0, -0.004, 0.004, 0.01, 0.9) == S.EQUIVALENT
    assert S.verdict(0.017, -0.024, 0.058, 0.01, 0.3) == S.INCONCLUSIVE
    assert S.verdict(0.008, 0.002, 0.014, 0.01, 0.01) == S.INCONCLUSIVE  # excludes 0, mean below the SESOI
    assert S.verdict(0.05, 0.03, 0.07, 0.01, 0.2) == S.INCONCLUSIVE  # Holm stopped before this one
    assert S.verdict(0.05, float("nan"), float("nan"), 0.01, float("nan")) == S.INCONCLUSIVE
    with pytest.raises(ValueError, match="positive"):
        S.verdict(0.0, -1, 1, 0.0, 0.5)


def test_old_rule_case_is_no_longer_a_difference():
    """0.001 +- 0.001 over 5 seeds was 'a difference' under |mean| > 1 sd; it is below any SESOI of 0.01."""
    d = [0.0, 0.001, 0.001, 0.002, 0.001]
    j = S.judge({"x": d}, sesoi=0.01)
    assert j.loc["x", "verdict"] == S.EQUIVALENT


def test_judge_corrects_across_the_table():
    rng = np.random.default_rng(1)
    strong = 0.05 + rng.normal(0, 0.01, 5)
    weak = 0.02 + rng.normal(0, 0.012, 5)
    alone = S.judge({"weak": weak}, sesoi=0.01)
    many = S.judge({"strong": strong, "weak": weak, **{f"null{i}": rng.normal(0, 0.02, 5) for i in range(8)}},
                   sesoi=0.01)
    assert many.loc["strong", "verdict"] == S.DIFFERENCE
    assert many.loc["weak", "level"] > alone.loc["weak", "level"] == pytest.approx(0.95)
    assert many.loc["weak", "high"] - many.loc["weak", "low"] > alone.loc["weak", "high"] - alone.loc["weak", "low"]
    assert (many["p_holm"] >= many["p"]).all() and set(many["verdict"]) <= set(S.VERDICTS)
    assert many.loc["weak", "ci95_low"] == pytest.approx(alone.loc["weak", "low"])
    with pytest.raises(ValueError, match="smallest effect"):
        S.judge({"x": [0.1, 0.2]}, metric="accuracy")
    j = S.judge({("a", "map"): [0.1, 0.2], ("b", "macro_f1"): [0.1, 0.1]},
                metric={("a", "map"): "map", ("b", "macro_f1"): "macro_f1"})
    assert j["sesoi"].tolist() == [S.SESOI["map"], S.SESOI["macro_f1"]] and isinstance(j.index, pd.MultiIndex)


def test_paired_differences_from_a_results_table():
    rows = []
    for tail in (0.0, 3.3):
        for seed in range(3):
            for setup, base in (("base", 0.5), ("w", 0.6)):
                for thr in ("0.5", "tuned"):
                    rows.append({"status": "ok", "tail": tail, "seed": seed, "setup": setup, "threshold": thr,
                                 "macro_f1": base + 0.01 * seed + (0.1 if thr == "tuned" else 0) + tail})
    rows.append({"status": "ok", "tail": 3.3, "seed": 3, "setup": "w", "threshold": "tuned", "macro_f1": 9.0})
    d = S.paired_differences(pd.DataFrame(rows), "tail", "macro_f1", "base", "tuned")
    assert set(d) == {(0.0, "w"), (3.3, "w")}
    assert d[(3.3, "w")].tolist() == pytest.approx([0.1, 0.1, 0.1])  # seed 3 has no base: left out
    assert list(S.paired_differences(pd.DataFrame(rows), [], "macro_f1", "base", "0.5")) == [("w",)]
    with pytest.raises(ValueError, match="no 'nope'"):
        S.paired_differences(pd.DataFrame(rows), "tail", "macro_f1", "nope")


def test_sentence_says_the_numbers_and_the_seeds():
    j = S.judge({"x": [0.01, 0.03, 0.02, 0.05, -0.02]}, sesoi=0.01)
    s = S.sentence(j.loc["x"], "w minus base, tuned macro-F1")
    assert "5 seeds" in s and s.endswith(").") and "inconclusive" in s and "+0.018" in s
    assert S.fmt_ci(j.loc["x", "low"], j.loc["x", "high"]) in s
    one = S.judge({"y": [0.2]}, sesoi=0.01)
    assert "1 seed" in S.sentence(one.loc["y"], "y") and "inconclusive" in S.sentence(one.loc["y"], "y")
    d = S.judge({"z": [0.05, 0.06, 0.055, 0.052, 0.058]}, sesoi=0.01)
    assert "a difference (the interval excludes 0" in S.sentence(d.loc["z"], "z")


def test_judge_table_corrects_across_views_and_levels():
    rng = np.random.default_rng(2)
    rows = []
    for tail in (0.0, 3.3):
        for seed in range(5):
            for setup, shift in (("base", 0.0), ("w", 0.05 if tail else 0.0), ("v", 0.0)):
                for thr in ("0.5", "tuned"):
                    for_metric = {"macro_f1": 0.7 + shift + rng.normal(0, 0.005), "map": 0.8 + rng.normal(0, 0.002)}
                    rows.append({"status": "ok", "tail": tail, "seed": seed, "setup": setup, "threshold": thr,
                                 **for_metric})
    j = S.judge_table(pd.DataFrame(rows), "tail", [("macro_f1", "0.5"), ("macro_f1", "tuned"), ("map", "0.5")], "base")
    assert j.index.names == ["view", "tail", "setup"] and len(j) == 12
    assert j.loc[("macro_f1 tuned", 3.3, "w"), "verdict"] == S.DIFFERENCE
    assert j.loc[("map at 0.5", 0.0, "v"), "verdict"] == S.EQUIVALENT
    assert j["level"].max() == pytest.approx(1 - 0.05 / 12) and (j["n"] == 5).all()
