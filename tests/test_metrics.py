"""helpers.metrics: evaluate on hand-made examples, thresholds, tables, and no warnings."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import metrics as M

# Predictions at 0.5: [[1,0,0],[0,1,1],[1,0,0],[0,0,1]]
Y_TRUE = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
Y_PROB = np.array([[0.9, 0.2, 0.4], [0.1, 0.8, 0.6], [0.7, 0.3, 0.2], [0.2, 0.1, 0.95]])


def test_evaluate_hand_example():
    r = M.evaluate(Y_TRUE, Y_PROB)
    # per label: (tp, fp, fn) = (2,0,0), (1,0,1), (1,1,1) -> F1 1, 2/3, 1/2
    assert r["micro_f1"] == pytest.approx(8 / 11)  # tp 4, fp 1, fn 2
    assert r["macro_f1"] == pytest.approx((1 + 2 / 3 + 1 / 2) / 3)
    assert r["samples_f1"] == pytest.approx((2 / 3 + 2 / 3 + 2 / 3 + 1) / 4)
    assert r["hamming_loss"] == pytest.approx(3 / 12)
    assert r["element_accuracy"] == pytest.approx(9 / 12)
    assert r["subset_accuracy"] == pytest.approx(1 / 4)
    assert r["pred_pos_rate"] == pytest.approx(5 / 12)
    assert r["true_pos_rate"] == pytest.approx(6 / 12)
    # AP: labels 0 and 1 ranked perfectly; label 2 ranks T, F, T, F -> 1/2 * 1 + 1/2 * 2/3
    assert [p["ap"] for p in r["per_label"]] == pytest.approx([1.0, 1.0, 5 / 6])
    assert r["map"] == pytest.approx((1 + 1 + 5 / 6) / 3)
    assert r["map_labels"] == 3
    lab1 = r["per_label"][1]
    assert lab1 == {"label": 1, "precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "ap": 1.0,
                    "support": 2, "threshold": 0.5}


def test_evaluate_is_plain_json():
    r = M.evaluate(torch.as_tensor(Y_TRUE, dtype=torch.float32), torch.as_tensor(Y_PROB), label_names=list("abc"))
    json.dumps(r, allow_nan=False)
    for k, v in r.items():
        if k != "per_label":
            assert type(v) in (float, int), k
    assert [p["label"] for p in r["per_label"]] == ["a", "b", "c"]
    assert all(type(p["support"]) is int and type(p["f1"]) is float for p in r["per_label"])


def test_micro_vs_macro():
    # a frequent label predicted perfectly, a rare label never predicted
    y = np.zeros((10, 2), dtype=int)
    y[:9, 0] = 1
    y[9, 1] = 1
    p = np.where(y[:, [0]] == 1, [[0.9, 0.1]], [[0.1, 0.1]])
    r = M.evaluate(y, p)
    assert r["micro_f1"] == pytest.approx(18 / 19)
    assert r["macro_f1"] == pytest.approx(0.5)


def test_accuracy_paradox():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 10)) < 0.05).astype(int)
    r = M.evaluate(y, np.zeros(y.shape))
    assert r["element_accuracy"] == pytest.approx(1 - y.mean()) and r["element_accuracy"] > 0.9
    assert r["micro_f1"] == 0.0 and r["macro_f1"] == 0.0 and r["samples_f1"] == 0.0
    assert r["pred_pos_rate"] == 0.0


def test_per_label_thresholds():
    r = M.evaluate(Y_TRUE, Y_PROB, threshold=[0.5, 0.25, 0.7])
    # label 1 at 0.25 predicts rows 1, 2 -> perfect; label 2 at 0.7 predicts row 3 only -> tp1 fn1
    assert [p["f1"] for p in r["per_label"]] == pytest.approx([1.0, 1.0, 2 / 3])
    assert [p["threshold"] for p in r["per_label"]] == [0.5, 0.25, 0.7]
    with pytest.raises(ValueError, match="one value per label"):
        M.evaluate(Y_TRUE, Y_PROB, threshold=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        M.evaluate(Y_TRUE, Y_PROB, threshold=1.5)


def test_map_excludes_labels_without_positives():
    y = Y_TRUE.copy()
    y[:, 2] = 0
    r = M.evaluate(y, Y_PROB)
    assert r["per_label"][2]["ap"] is None and r["per_label"][2]["support"] == 0
    assert r["map"] == pytest.approx(1.0) and r["map_labels"] == 2
    none = M.evaluate(np.zeros((4, 3)), Y_PROB)
    assert none["map"] is None and none["map_labels"] == 0


def test_evaluate_emits_no_warnings():
    y = np.array([[0, 0, 1], [0, 0, 0], [0, 0, 1]])  # label 0, 1 no positives; row 1 empty
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for p in (np.zeros((3, 3)), np.ones((3, 3)), np.full((3, 3), 0.5)):
            r = M.evaluate(y, p)
            M.per_label_frame(r)
            M.summary_frame([{"setup": "x", **r}])
        M.tune_thresholds(y, np.zeros((3, 3)))


def test_evaluate_validation_messages():
    with pytest.raises(ValueError, match=r"y_true has shape \(4, 3\) but y_prob has shape \(4, 2\)"):
        M.evaluate(Y_TRUE, Y_PROB[:, :2])
    bad = Y_PROB.copy()
    bad[0, 0], bad[1, 1] = np.nan, np.nan
    with pytest.raises(ValueError, match="2 NaN value"):
        M.evaluate(Y_TRUE, bad)
    logits = Y_PROB.copy()
    logits[0, 0], logits[1, 1], logits[2, 2] = 2.3, -0.4, 1.0001
    with pytest.raises(ValueError, match=r"3 value\(s\) of 12 outside \[0, 1\].*not logits"):
        M.evaluate(Y_TRUE, logits)
    with pytest.raises(ValueError, match="0/1 labels"):
        M.evaluate(Y_TRUE * 2, Y_PROB)
    with pytest.raises(ValueError, match=r"\(N, L\)"):
        M.evaluate(Y_TRUE[:, 0], Y_PROB[:, 0])
    with pytest.raises(ValueError, match="label_names has 2 names for 3 labels"):
        M.evaluate(Y_TRUE, Y_PROB, label_names=["a", "b"])


def test_per_label_frame():
    df = M.per_label_frame(M.evaluate(Y_TRUE, Y_PROB, label_names=["cat", "dog", "owl"]))
    assert list(df.index) == ["cat", "dog", "owl"] and df.index.name == "label"
    assert list(df.columns) == ["precision", "recall", "f1", "ap", "support", "threshold"]
    assert df.loc["owl", "f1"] == pytest.approx(0.5)


def test_summary_frame():
    a = {"setup": "bce_with_logits", **M.evaluate(Y_TRUE, Y_PROB)}
    b = {"setup": "cross_entropy", **M.evaluate(np.zeros((4, 3)), Y_PROB)}
    df = M.summary_frame([a, b])
    assert list(df.index) == ["bce_with_logits", "cross_entropy"] and df.index.name == "setup"
    assert list(df.columns) == list(M.HEADLINE)
    assert df.loc["bce_with_logits", "micro_f1"] == pytest.approx(8 / 11)
    assert pd.isna(df.loc["cross_entropy", "map"])
    with pytest.raises(ValueError, match="no 'setup' key"):
        M.summary_frame([M.evaluate(Y_TRUE, Y_PROB)])


def test_tune_thresholds_known_best():
    y = np.array([[1, 0, 1], [1, 0, 1], [0, 0, 0], [0, 0, 0]])
    p = np.array([[0.35, 0.9, 0.9], [0.30, 0.8, 0.8], [0.20, 0.1, 0.6], [0.10, 0.2, 0.2]])
    t = M.tune_thresholds(y, p)
    # label 0: any threshold in (0.20, 0.30] is perfect -> the middle of that run of the grid;
    # label 1: no positives -> stays 0.5; label 2: (0.6, 0.8] is perfect -> its middle
    assert 0.20 < t[0] <= 0.30 and t[1] == 0.5 and 0.6 < t[2] <= 0.8
    run0 = M.DEFAULT_GRID[(M.DEFAULT_GRID > 0.20) & (M.DEFAULT_GRID <= 0.30)]
    assert t[0] == run0[(len(run0) - 1) // 2]
    assert M.evaluate(y, p, threshold=t)["per_label"][2]["f1"] == 1.0
    assert M.tune_thresholds(y, p, grid=[0.1, 0.25, 0.9]).tolist() == pytest.approx([0.25, 0.5, 0.25])
    with pytest.raises(ValueError, match="grid"):
        M.tune_thresholds(y, p, grid=[])


def test_tune_thresholds_ties_keep_the_run_closest_to_half():
    y = np.array([[1, 1], [0, 0], [1, 1], [0, 0]])
    p = np.array([[0.9, 0.9], [0.1, 0.1], [0.8, 0.8], [0.2, 0.2]])
    # best F1 on (0.2, 0.8]: the run holds 0.5, so its middle is chosen
    grid = [0.1, 0.3, 0.5, 0.7, 0.85]
    assert M.tune_thresholds(y, p, grid=grid).tolist() == [0.5, 0.5]
    # two separate best runs: the one nearer 0.5 wins
    y2 = np.array([[1, 0], [0, 0], [1, 0], [0, 1]])
    p2 = np.array([[0.9, 0.1], [0.5, 0.1], [0.9, 0.1], [0.1, 0.1]])
    assert M.tune_thresholds(y2, p2, grid=[0.05, 0.4, 0.6, 0.95])[0] == 0.6


def test_default_grid_reaches_the_tails_and_holds_half():
    g = M.DEFAULT_GRID
    assert g[0] == pytest.approx(0.001) and g[-1] == pytest.approx(0.999) and 0.5 in g.tolist()
    assert (np.diff(g) > 0).all() and (g < 0.05).sum() >= 50 and (g > 0.95).sum() >= 50
    with pytest.raises(ValueError, match="low < high"):
        M.threshold_grid(11, 0.5, 0.2)


def test_tune_thresholds_not_clipped_at_the_old_grid_ends():
    """A rare label whose positives score 0.01-0.03 (a plain-BCE rare label) tunes below 0.05, and one whose
    negatives reach 0.97 (a reweighted label) tunes above 0.95: the 0.05-0.95 grid clipped both."""
    rng = np.random.default_rng(0)
    n = 400
    y = np.zeros((n, 2), dtype=int)
    y[:8, 0] = 1
    y[:40, 1] = 1
    p = np.empty((n, 2))
    p[:, 0] = np.where(y[:, 0] == 1, rng.uniform(0.01, 0.03, n), rng.uniform(0.0, 0.008, n))
    p[:, 1] = np.where(y[:, 1] == 1, rng.uniform(0.985, 1.0, n), rng.uniform(0.0, 0.975, n))
    t = M.tune_thresholds(y, p)
    assert 0.008 < t[0] <= 0.01 + 1e-9 and 0.975 < t[1] <= 0.985
    assert M.evaluate(y, p, threshold=t)["macro_f1"] == 1.0
    old = M.tune_thresholds(y, p, grid=np.round(np.linspace(0.05, 0.95, 19), 10))
    assert old[0] >= 0.05 and old[1] == 0.95 and M.evaluate(y, p, threshold=old)["macro_f1"] < 1.0


def test_tune_thresholds_falls_back_below_min_positives():
    y = np.zeros((100, 3), dtype=int)
    y[:2, 0] = 1  # 2 positives
    y[:6, 1] = 1  # 6 positives
    rng = np.random.default_rng(3)
    p = np.clip(0.5 * y + 0.3 * rng.random((100, 3)), 0, 1)
    tuned_all = M.tune_thresholds(y, p, min_positives=1)
    assert tuned_all[0] != 0.5 and tuned_all[1] != 0.5 and tuned_all[2] == 0.5  # label 2 has no positive
    t = M.tune_thresholds(y, p, min_positives=5, fallback=0.3)
    assert t[0] == 0.3 and t[1] == tuned_all[1] and t[2] == 0.3
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="min_positives"):
            M.tune_thresholds(y, p, min_positives=bad)
    with pytest.raises(ValueError, match="fallback"):
        M.tune_thresholds(y, p, fallback=1.5)


def test_tune_thresholds_matches_a_brute_force_search():
    """The sorted-score search gives the same best F1 as comparing every threshold with every score."""
    rng = np.random.default_rng(7)
    for _ in range(30):
        n, n_labels = int(rng.integers(10, 80)), int(rng.integers(2, 5))
        y = (rng.random((n, n_labels)) < rng.random()).astype(int)
        p = np.round(rng.random((n, n_labels)), 2)  # ties between scores
        grid = np.round(np.linspace(0.0, 1.0, 41), 10)
        t = M.tune_thresholds(y, p, grid=grid)
        for j in range(n_labels):
            if y[:, j].sum() == 0:
                continue
            f1 = [f1_binary(y[:, j], p[:, j] >= g) for g in grid]
            assert f1_binary(y[:, j], p[:, j] >= t[j]) == pytest.approx(max(f1))


def f1_binary(y, pred):
    from sklearn.metrics import f1_score

    return f1_score(y, pred.astype(int), zero_division=0.0)


def test_tune_thresholds_default_grid_is_clean():
    rng = np.random.default_rng(1)
    y = (rng.random((500, 10)) < 0.2).astype(int)
    p = np.clip(0.3 * y + rng.random((500, 10)) * 0.7, 0, 1)
    t = M.tune_thresholds(y, p)
    assert t.shape == (10,) and set(t.tolist()) <= set(M.DEFAULT_GRID.tolist())
    # the tuned thresholds can't do worse than 0.5 on the split they were tuned on
    assert M.evaluate(y, p, threshold=t)["macro_f1"] >= M.evaluate(y, p)["macro_f1"]


def test_evaluate_matches_sklearn_called_per_label():
    """evaluate scores all labels' AP in one call and takes macro-F1 as the per-label mean: both must equal
    scikit-learn's own per-label calls, on random cases with ties, empty labels and one positive label."""
    from sklearn.metrics import average_precision_score, f1_score

    rng = np.random.default_rng(0)
    for trial in range(150):
        n, n_labels = int(rng.integers(5, 60)), int(rng.integers(2, 8))
        y = (rng.random((n, n_labels)) < rng.random()).astype(np.float32)
        if trial % 5 == 0:
            y[:, 1:] = 0  # at most one label with a positive
        p = rng.random((n, n_labels)).astype(np.float32)
        if trial % 3 == 0:
            p = np.round(p, 1)  # ties
        r = M.evaluate(y, p)
        pred = (p >= 0.5).astype(int)
        assert r["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro", zero_division=0.0), abs=1e-12)
        cols = np.flatnonzero(y.sum(0) > 0)
        expected = [average_precision_score(y[:, j], p[:, j]) for j in cols]
        assert [x["ap"] for x in r["per_label"] if x["ap"] is not None] == pytest.approx(expected, abs=1e-12)
        assert (r["map"] is None) == (len(cols) == 0)


def test_epoch_scores_equal_evaluate():
    rng = np.random.default_rng(1)
    for trial in range(100):
        n, n_labels = int(rng.integers(5, 80)), int(rng.integers(2, 9))
        y = (rng.random((n, n_labels)) < rng.random()).astype(np.float32)
        if trial % 4 == 0:
            y[:, 1:] = 0
        p = np.round(rng.random((n, n_labels)), 1 + trial % 2).astype(np.float32)
        full, fast = M.evaluate(y, p), M.epoch_scores(y, p)
        for key in ("micro_f1", "macro_f1", "map", "pred_pos_rate"):
            assert fast[key] == pytest.approx(full[key], abs=1e-12), (trial, key)
        assert fast["labels_f1_zero"] == sum(r["precision"] == 0 and r["recall"] == 0 for r in full["per_label"])
    with pytest.raises(ValueError, match="shape"):
        M.epoch_scores(np.zeros((4, 3)), np.zeros((4, 2)))


def test_epoch_scores_of_a_nan_model_are_nan_not_a_crash():
    # a model whose weights went NaN mid-training: the loop records NaN scores and what p >= 0.5 predicts (nothing)
    y = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    p = np.full((3, 2), np.nan, dtype=np.float32)
    m = M.epoch_scores(y, p)
    assert np.isnan(m["micro_f1"]) and np.isnan(m["macro_f1"]) and np.isnan(m["map"])
    assert m["pred_pos_rate"] == 0.0
    p[0, 0] = 0.9  # partly NaN is still not a score
    assert np.isnan(M.epoch_scores(y, p)["macro_f1"]) and M.epoch_scores(y, p)["pred_pos_rate"] == pytest.approx(1 / 6)
