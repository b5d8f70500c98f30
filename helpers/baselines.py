"""The scikit-learn learners the recipe's network is compared with on the real benchmarks (issue 18, §4).

* :func:`make_learner`: binary relevance with logistic regression, random forest, k-nearest
  neighbours and classifier chains (logistic regression links, a seeded random order), each as
  scikit-learn builds it for multi-label targets.
* :func:`predict_scores`: ``(N, L)`` scores from any of them (random forest and k-NN return one
  ``(N, 2)`` array per label; a label with a single class in training gets a constant score).
* :func:`choose_threshold`: one threshold for every label, chosen on **validation** for the metric
  reported (the highest micro-F1, or the lowest Hamming loss), then applied to test by
  :func:`score`. :func:`compare` does all of it for several learners on one data set.
* :data:`LITERATURE`: published figures for context, with their source and split. They come from
  other partitions (Bogatinovski et al. used their own), so they are context, never a target of a test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, hamming_loss
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import ClassifierChain
from sklearn.neighbors import KNeighborsClassifier

LEARNERS = ("binary_relevance_lr", "random_forest", "knn", "classifier_chain")
METRICS = ("micro_f1", "hamming_loss")
GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)
RF_TREES = 100  # trees of the random forest (was 200): halves the largest cost of notebook 11's run; not tuned

# Bogatinovski, Todorovski, Džeroski and Kocev (2022), "Comprehensive comparative study of multi-label
# classification methods", Expert Systems with Applications 203:117215: best micro-F1 per data set, on
# the authors' own train/test partitions (not MULAN's standard split used here).
LITERATURE = pd.DataFrame([
    {"data": "yeast", "method": "RF-PCT", "micro_f1": 0.682},
    {"data": "emotions", "method": "RF-PCT", "micro_f1": 0.719},
    {"data": "scene", "method": "CLR", "micro_f1": 0.792},
]).assign(source="Bogatinovski et al. 2022, ESWA 203:117215", split="the authors' own partitions")


def make_learner(name: str, seed: int = 0):
    """A fresh scikit-learn multi-label learner by name (one of :data:`LEARNERS`)."""
    if name == "binary_relevance_lr":
        return OneVsRestClassifier(LogisticRegression(max_iter=1000))
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=RF_TREES, random_state=seed, n_jobs=1)
    if name == "knn":
        return KNeighborsClassifier(n_neighbors=10)
    if name == "classifier_chain":
        return ClassifierChain(LogisticRegression(max_iter=1000), order="random", random_state=seed)
    raise ValueError(f"learner {name!r} is not one of {LEARNERS}")


def predict_scores(model, X: np.ndarray) -> np.ndarray:
    """Per-label scores in [0, 1], shape ``(N, L)``, from a fitted learner of :func:`make_learner`."""
    proba = model.predict_proba(X)
    if isinstance(proba, list):  # one (N, n_classes) array per label
        cols = []
        for p, classes in zip(proba, model.classes_, strict=True):
            classes = list(classes)
            cols.append(p[:, classes.index(1)] if 1 in classes else np.zeros(len(X)))
        return np.column_stack(cols)
    return np.asarray(proba, dtype=np.float64)


def _value(metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    if metric == "micro_f1":
        return float(f1_score(y, pred, average="micro", zero_division=0.0))
    if metric == "hamming_loss":
        return float(hamming_loss(y, pred))
    raise ValueError(f"metric {metric!r} is not one of {METRICS}")


def choose_threshold(y_val: np.ndarray, p_val: np.ndarray, metric: str, grid: Sequence[float] = GRID) -> float:
    """The one threshold of ``grid`` with the best validation ``metric`` (highest micro-F1, lowest
    Hamming loss); ties go to the threshold closest to 0.5."""
    y_val, p_val = np.asarray(y_val), np.asarray(p_val)
    values = np.array([_value(metric, y_val, (p_val >= t).astype(int)) for t in grid])
    best = values.max() if metric == "micro_f1" else values.min()
    tied = np.asarray(grid)[np.isclose(values, best, rtol=0, atol=1e-12)]
    return float(tied[np.argmin(np.abs(tied - 0.5))])


def score(y_test: np.ndarray, p_test: np.ndarray, threshold: float, metric: str) -> float:
    """``metric`` on test with the given threshold."""
    return _value(metric, np.asarray(y_test), (np.asarray(p_test) >= threshold).astype(int))


def scores_with_thresholds(y_val, p_val, y_test, p_test) -> dict[str, float]:
    """For each metric of :data:`METRICS`: the threshold chosen on validation for it, and its test value."""
    out = {}
    for metric in METRICS:
        t = choose_threshold(y_val, p_val, metric)
        out[metric] = score(y_test, p_test, t, metric)
        out[f"{metric}_threshold"] = t
    return out


def compare(data, learners: Sequence[str] = LEARNERS, seed: int = 0) -> pd.DataFrame:
    """Fit each learner on ``data``'s training split and report test micro-F1 and Hamming loss, each
    with its own threshold chosen on validation (one row per learner)."""
    rows = []
    for name in learners:
        model = make_learner(name, seed).fit(data.X_train, data.Y_train.astype(int))
        rows.append({"learner": name, **scores_with_thresholds(
            data.Y_val, predict_scores(model, data.X_val), data.Y_test, predict_scores(model, data.X_test))})
    return pd.DataFrame(rows).set_index("learner")
