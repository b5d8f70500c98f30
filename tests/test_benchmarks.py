"""helpers.benchmarks: notebook 11's recipe network, its scoring, the best same-run learner and the goal
judged over seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import benchmarks as BM
from helpers import stats
from helpers.data import DataError, MultiLabelData


def _data(seed=0, n=300, f=6, L=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)).astype(np.float32)
    Y = (X[:, :L] + 0.3 * rng.normal(size=(n, L)) > 0.8).astype(np.float32)
    a, b = int(0.6 * n), int(0.8 * n)
    return MultiLabelData("toy", "tabular", X[:a], Y[:a], X[a:b], Y[a:b], X[b:], Y[b:], [f"l{j}" for j in range(L)])


def test_recipe_model_starts_at_the_training_prior():
    d = _data()
    p = d.Y_train.mean(0)
    with torch.no_grad():
        probs = torch.sigmoid(BM.head(BM.recipe_model(d)).bias).numpy()
        default = torch.sigmoid(BM.head(BM.recipe_model(d, prior_bias=False)).bias).numpy()
    assert np.allclose(probs, p, atol=1e-5)
    assert not np.allclose(default, p, atol=1e-2)  # PyTorch's default init is not the prior


def test_scores_use_a_validation_threshold_per_metric():
    d = _data()
    rng = np.random.default_rng(1)
    p_val = np.clip(d.Y_val * 0.3 + rng.uniform(0, 0.25, d.Y_val.shape), 0, 1)  # positives score above 0.25
    p_test = np.clip(d.Y_test * 0.3 + rng.uniform(0, 0.25, d.Y_test.shape), 0, 1)
    s = BM.scores(d.Y_val, p_val, d.Y_test, p_test)
    assert s["tuned"]["micro_f1"] == pytest.approx(1.0) and s["tuned"]["hamming_loss"] == 0.0
    assert s["tuned"]["micro_f1_threshold"] < 0.5 and s["0.5"]["micro_f1"] < 0.9  # 0.5 misses most positives
    assert s["tuned"]["map"] == s["0.5"]["map"] == pytest.approx(1.0)


def test_best_sklearn_takes_the_best_per_metric_and_names_it():
    rows = {"a": {"micro_f1": 0.6, "hamming_loss": 0.10, "macro_f1": 0.5, "map": 0.7},
            "b": {"micro_f1": 0.7, "hamming_loss": 0.12, "macro_f1": 0.4, "map": 0.6}}
    best = BM.best_sklearn(rows)
    assert (best["micro_f1"], best["micro_f1_learner"]) == (0.7, "b")
    assert (best["hamming_loss"], best["hamming_loss_learner"]) == (0.10, "a")  # lowest Hamming loss
    assert best["macro_f1_learner"] == "a" and best["map_learner"] == "a"


def _table(net_micro, best_micro, net_ham, best_ham, density=0.2):
    rows = []
    for seed, (nm, bm, nh, bh) in enumerate(zip(net_micro, best_micro, net_ham, best_ham, strict=True)):
        rows += [{"data": "toy", "seed": seed, "setup": BM.NETWORK, "threshold": "tuned", "micro_f1": nm,
                  "hamming_loss": nh, "density": density, "status": "ok"},
                 {"data": "toy", "seed": seed, "setup": BM.BEST, "threshold": "tuned", "micro_f1": bm,
                  "hamming_loss": bh, "density": density, "status": "ok"}]
    return pd.DataFrame(rows)


def _goal(t, tmp_path):
    """The goal's comparisons as helpers.recipe judges them (set real_benchmarks), on a toy table."""
    import dataclasses

    from helpers import recipe

    t.to_csv(tmp_path / "results.csv", index=False)
    es = dataclasses.replace(recipe.get_set("real_benchmarks"), folders=(str(tmp_path),), kind="table")
    j = recipe.judge_set(es)
    j["goal met"] = BM.goal_met(j)
    return j.set_index("view")


MICRO, HAMMING = "micro-F1 (threshold from validation)", "Hamming loss"


def test_goal_met_reads_each_metric_in_its_direction(tmp_path):
    t = _table([0.80, 0.81, 0.82, 0.80, 0.81], [0.70, 0.70, 0.71, 0.69, 0.70],
               [0.10, 0.11, 0.10, 0.10, 0.11], [0.15, 0.15, 0.16, 0.15, 0.15])
    g = _goal(t, tmp_path)
    assert g.loc[MICRO, "mean"] > 0 and g.loc[HAMMING, "mean"] < 0  # network minus best: better in both
    assert g["goal met"].all() and (g["verdict"] == stats.DIFFERENCE).all()
    assert g.loc[HAMMING, "sesoi"] == pytest.approx(0.01 * 0.2)  # 0.01 x the label density, as declared
    assert g.loc[MICRO, "sesoi"] == 0.01


def test_goal_not_met_when_the_network_is_behind(tmp_path):
    t = _table([0.60, 0.61, 0.60, 0.62, 0.60], [0.70, 0.70, 0.71, 0.69, 0.70],
               [0.20, 0.21, 0.20, 0.20, 0.21], [0.15, 0.15, 0.16, 0.15, 0.15])
    g = _goal(t, tmp_path)
    assert not g["goal met"].any()
    assert g.loc[MICRO, "mean"] < 0 and g.loc[HAMMING, "mean"] > 0 and (g["verdict"] == stats.DIFFERENCE).all()
    # the same numbers through helpers.stats directly: network minus best in micro-F1
    d = t[t.setup == BM.NETWORK]["micro_f1"].to_numpy() - t[t.setup == BM.BEST]["micro_f1"].to_numpy()
    assert g.loc[MICRO, "mean"] == pytest.approx(d.mean())


def test_goal_met_within_the_sesoi_even_when_behind(tmp_path):
    """Non-inferiority: a network a little behind (well inside the SESOI) meets the goal."""
    net = [0.700, 0.701, 0.699, 0.700, 0.701]
    t = _table(net, [x + 0.001 for x in net], [0.150, 0.151, 0.150, 0.149, 0.150], [0.150] * 5)
    g = _goal(t, tmp_path)
    assert g.loc[MICRO, "mean"] < 0 and bool(g.loc[MICRO, "goal met"])


def test_unknown_benchmark_is_a_one_line_error(tmp_path):
    (tmp_path / "yeast.npz").write_bytes(b"")
    with pytest.raises(DataError, match=r"'nope' is not in .*\['yeast'\]"):
        BM.data_path("nope", tmp_path)
    assert BM.data_path("yeast", tmp_path) == tmp_path / "yeast.npz"


def test_recipe_claims_judge_every_data_set_against_a_constant_score():
    class Check:
        def __init__(self, codes, ok=True):
            self.codes, self.ok = codes, ok

    sets = {"a": _data(0), "b": _data(1)}
    chance = {n: float(d.Y_test.mean(0)[d.Y_test.sum(0) > 0].mean()) for n, d in sets.items()}
    tuned = pd.DataFrame({"map": [chance["a"] + 0.2, chance["b"] + 0.1]},
                         index=pd.MultiIndex.from_tuples([("a", BM.NETWORK), ("b", BM.NETWORK)], names=["data", "setup"]))
    cc = BM.recipe_claims({"a": Check([]), "b": Check(["LR_HIGH"])}, tuned, sets)
    clean, learns = cc["check_setup_clean_on_every_benchmark"], cc["network_learns_every_benchmark"]
    assert clean["holds"] and clean["evidence"] == {"a": "none", "b": "LR_HIGH"}
    assert learns["holds"] and learns["evidence"]["b"] == {"map": chance["b"] + 0.1, "constant": chance["b"]}
    assert not BM.recipe_claims({"a": Check(["X"], ok=False)}, tuned, sets)["check_setup_clean_on_every_benchmark"]["holds"]
    tuned.loc[("b", BM.NETWORK), "map"] = chance["b"] - 0.01  # no better than a constant score on one set
    assert not BM.recipe_claims({}, tuned, sets)["network_learns_every_benchmark"]["holds"]
