"""helpers.baselines: the scikit-learn learners of the real-benchmark comparison, their scores and the
thresholds chosen on validation."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import baselines as B
from helpers.data import MultiLabelData


def _data(seed=0, n=300, f=6, L=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)).astype(np.float32)
    Y = (X[:, :L] + 0.3 * rng.normal(size=(n, L)) > 0.5).astype(np.float32)  # label j follows feature j
    a, b = int(0.6 * n), int(0.8 * n)
    return MultiLabelData("toy", "tabular", X[:a], Y[:a], X[a:b], Y[a:b], X[b:], Y[b:], [f"l{j}" for j in range(L)])


@pytest.mark.parametrize("name", B.LEARNERS)
def test_each_learner_scores_every_label(name):
    d = _data()
    model = B.make_learner(name, seed=0).fit(d.X_train, d.Y_train.astype(int))
    p = B.predict_scores(model, d.X_test)
    assert p.shape == d.Y_test.shape and (p >= 0).all() and (p <= 1).all()
    res = B.scores_with_thresholds(d.Y_val, B.predict_scores(model, d.X_val), d.Y_test, p)
    assert res["micro_f1"] > 0.6 and res["hamming_loss"] < 0.2  # an easy problem: every learner learns it


def test_single_class_label_gets_a_constant_score():
    d = _data()
    Y = d.Y_train.copy()
    Y[:, 1] = 0
    model = B.make_learner("random_forest").fit(d.X_train, Y.astype(int))
    assert (B.predict_scores(model, d.X_test)[:, 1] == 0).all()


def test_choose_threshold_per_metric():
    y = np.array([[1, 0], [0, 1], [0, 0], [1, 1]])
    p = np.array([[0.8, 0.3], [0.2, 0.62], [0.35, 0.1], [0.7, 0.9]])
    t = B.choose_threshold(y, p, "micro_f1")
    assert 0.35 < t <= 0.6 and B.score(y, p, t, "micro_f1") == 1.0
    assert B.score(y, p, B.choose_threshold(y, p, "hamming_loss"), "hamming_loss") == 0.0
    with pytest.raises(ValueError, match="metric"):
        B.choose_threshold(y, p, "accuracy")


def test_compare_and_unknown_learner():
    table = B.compare(_data(), ["binary_relevance_lr", "knn"])
    assert list(table.index) == ["binary_relevance_lr", "knn"]
    assert {"micro_f1", "hamming_loss", "micro_f1_threshold", "hamming_loss_threshold"} <= set(table.columns)
    with pytest.raises(ValueError, match="not one of"):
        B.make_learner("svm")


def test_literature_figures_carry_source_and_split():
    lit = B.LITERATURE.set_index("data")
    assert lit.loc["yeast", "micro_f1"] == 0.682 and lit.loc["emotions", "micro_f1"] == 0.719
    assert lit.loc["scene", "method"] == "CLR" and (lit["split"] == "the authors' own partitions").all()
