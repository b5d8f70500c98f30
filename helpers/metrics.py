"""Multi-label metrics for the book, on top of scikit-learn, with no warnings and JSON-able output.

:func:`evaluate` turns true labels and predicted probabilities ``(N, L)`` into one flat dict: the
headline numbers (micro/macro/samples F1, Hamming loss, subset and element accuracy, mAP, predicted
and true positive rates) and a ``per_label`` list. Every scikit-learn call that can divide by zero
gets ``zero_division=0`` explicitly: an F1, precision or recall with nothing to count is 0, exactly
what scikit-learn's default gives after its warning, but without the warning (the notebooks are
compared by nbval, stderr included). Average precision is undefined for a label with no positive
in ``y_true``: such labels are left out of ``map`` explicitly and their ``ap`` is ``None``.

A prediction is positive when ``probability >= threshold``; the threshold is one float or one per
label. :func:`tune_thresholds` picks per-label thresholds on a validation split (a logit-spaced grid
from 0.001 to 0.999, :func:`threshold_grid`; a fallback for labels with too few validation positives). :func:`summary_frame`
and :func:`per_label_frame` turn results into tables for the notebooks.

Why several numbers: ``element_accuracy`` (the share of correct label cells) is high for a model
that predicts nothing when labels are sparse, the *accuracy paradox*; F1 is not. ``map`` measures
ranking only, so it stays good for setups whose probabilities are mis-scaled (softmax over labels),
while thresholded F1 exposes them. ``pred_pos_rate`` against ``true_pos_rate`` shows a model stuck
predicting everything or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    hamming_loss,
    precision_recall_fscore_support,
)

HEADLINE = ("micro_f1", "macro_f1", "samples_f1", "hamming_loss", "map", "pred_pos_rate", "true_pos_rate")
GRID_POINTS, GRID_LOW, GRID_HIGH = 301, 0.001, 0.999  # tune_thresholds' default grid (threshold_grid)
MIN_POSITIVES = 1  # tune_thresholds tunes a label with at least this many validation positives
FALLBACK_THRESHOLD = 0.5  # ... and gives the others this threshold


def _as_array(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, on any device, with or without grad
        x = x.detach().cpu().numpy()
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be numeric, got {type(x).__name__} ({e})") from None
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (N, L) matrix, got shape {a.shape}")
    return a


def _check_labels(y: np.ndarray, name: str) -> np.ndarray:
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"{name} must hold 0/1 labels; {int(bad.sum())} value(s) are something else "
                         f"(NaN counts too)")
    return y.astype(np.int64)


def _check_probs(p: np.ndarray, name: str) -> np.ndarray:
    n_nan = int(np.isnan(p).sum())
    if n_nan:
        raise ValueError(f"{name} has {n_nan} NaN value(s) of {p.size}: the model diverged or its outputs "
                         f"were not finite")
    out = (p < 0) | (p > 1)
    if out.any():
        raise ValueError(f"{name} has {int(out.sum())} value(s) of {p.size} outside [0, 1] (min "
                         f"{p.min():.4g}, max {p.max():.4g}): pass probabilities, not logits "
                         f"(apply the setup's probabilities(), e.g. sigmoid)")
    return p


def _thresholds(threshold: float | Sequence[float] | np.ndarray, n_labels: int) -> np.ndarray:
    t = np.asarray(threshold, dtype=np.float64)
    if t.ndim == 0:
        t = np.full(n_labels, float(t))
    if t.shape != (n_labels,):
        raise ValueError(f"threshold must be a float or one value per label ({n_labels}), got shape {t.shape}")
    if np.isnan(t).any() or (t < 0).any() or (t > 1).any():
        raise ValueError(f"thresholds must lie in [0, 1], got {t.tolist()}")
    return t


def _none_if_nan(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _per_label_ap(yt: np.ndarray, yp: np.ndarray, has_pos: np.ndarray) -> np.ndarray:
    """scikit-learn's average precision per label (NaN for a label without a positive), from one call."""
    ap = np.full(yt.shape[1], np.nan)
    if has_pos.sum() >= 2:
        ap[has_pos] = average_precision_score(yt[:, has_pos], yp[:, has_pos], average=None)
    elif has_pos.any():  # a single column would be read as a binary problem: score it as one
        j = int(np.flatnonzero(has_pos)[0])
        ap[j] = average_precision_score(yt[:, j], yp[:, j])
    return ap


def evaluate(y_true, y_prob, threshold: float | Sequence[float] | np.ndarray = 0.5,
             label_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Metrics for true labels ``y_true`` (0/1) and probabilities ``y_prob``, both ``(N, L)``.

    ``threshold``: a float or one per label; a label is predicted when ``y_prob >= threshold``.
    Returns plain Python floats and ints:

    ``micro_f1``, ``macro_f1``, ``samples_f1``, ``hamming_loss``, ``subset_accuracy`` (rows exactly
    right), ``element_accuracy`` (label cells right: ``1 - hamming_loss``), ``map`` (mean average
    precision over the labels with a positive; ``None`` if no label has one), ``map_labels`` (how
    many labels it averages), ``pred_pos_rate``, ``true_pos_rate``, and ``per_label``: a list of
    ``{label, precision, recall, f1, ap, support, threshold}``.
    """
    yt = _check_labels(_as_array(y_true, "y_true"), "y_true")
    yp = _as_array(y_prob, "y_prob")
    if yt.shape != yp.shape:
        raise ValueError(f"y_true has shape {yt.shape} but y_prob has shape {yp.shape}; both must be (N, L)")
    _check_probs(yp, "y_prob")
    n_labels = yt.shape[1]
    if label_names is None:
        names: list[Any] = list(range(n_labels))
    else:
        names = list(label_names)
        if len(names) != n_labels:
            raise ValueError(f"label_names has {len(names)} names for {n_labels} labels")
    if n_labels < 2:
        raise ValueError("evaluate needs at least 2 labels (scikit-learn reads a single column as a binary "
                         "problem); for one label use sklearn.metrics' binary scores")
    t = _thresholds(threshold, n_labels)
    pred = (yp >= t).astype(np.int64)

    precision, recall, f1, support = precision_recall_fscore_support(
        yt, pred, average=None, zero_division=0.0)
    has_pos = yt.sum(axis=0) > 0
    ap = _per_label_ap(yt, yp, has_pos)
    per_label = [
        {"label": names[j], "precision": float(precision[j]), "recall": float(recall[j]), "f1": float(f1[j]),
         "ap": _none_if_nan(ap[j]), "support": int(support[j]), "threshold": float(t[j])}
        for j in range(n_labels)
    ]
    return {
        "micro_f1": float(f1_score(yt, pred, average="micro", zero_division=0.0)),
        "macro_f1": float(np.mean(f1)),  # = f1_score(average="macro", zero_division=0): the per-label F1s' mean
        "samples_f1": float(f1_score(yt, pred, average="samples", zero_division=0.0)),
        "hamming_loss": float(hamming_loss(yt, pred)),
        "subset_accuracy": float(accuracy_score(yt, pred)),
        "element_accuracy": float((yt == pred).mean()),
        "map": float(ap[has_pos].mean()) if has_pos.any() else None,
        "map_labels": int(has_pos.sum()),
        "pred_pos_rate": float(pred.mean()),
        "true_pos_rate": float(yt.mean()),
        "per_label": per_label,
    }


def epoch_scores(y_true, y_prob) -> dict[str, Any]:
    """The scores a training history records every epoch, at threshold 0.5: ``micro_f1``, ``macro_f1``,
    ``map``, ``pred_pos_rate`` and ``labels_f1_zero`` (labels whose precision and recall are both 0).

    Equal to :func:`evaluate`'s, from three scikit-learn calls instead of about sixteen: a training
    loop calls it once per epoch and split, where the full report costs about as much as an epoch's
    training on the book's small data. Anything but two same-shaped ``(N, L >= 2)`` arrays goes to
    :func:`evaluate`, which explains what is wrong. Probabilities that are not all finite (a model whose
    weights went NaN during training) score NaN, and ``pred_pos_rate`` is then the share of ``p >= 0.5``
    (False for NaN), what the run's user would see; the training loop goes on and its monitor names the NaN."""
    yt, yp = np.asarray(y_true), np.asarray(y_prob)
    if yt.ndim != 2 or yt.shape != yp.shape or yt.shape[1] < 2:
        m = evaluate(yt, yp)
        return {"micro_f1": m["micro_f1"], "macro_f1": m["macro_f1"], "map": m["map"], "pred_pos_rate": m["pred_pos_rate"],
                "labels_f1_zero": sum(r["precision"] == 0 and r["recall"] == 0 for r in m["per_label"])}
    if not np.isfinite(yp).all():
        return {"micro_f1": np.nan, "macro_f1": np.nan, "map": np.nan, "pred_pos_rate": float((yp >= 0.5).mean()),
                "labels_f1_zero": np.nan}
    pred = (yp >= 0.5).astype(np.int64)
    precision, recall, f1, _ = precision_recall_fscore_support(yt, pred, average=None, zero_division=0.0)
    has_pos = yt.sum(axis=0) > 0
    ap = _per_label_ap(yt, yp, has_pos)[has_pos]
    return {"micro_f1": float(f1_score(yt, pred, average="micro", zero_division=0.0)), "macro_f1": float(np.mean(f1)),
            "map": float(np.mean(ap)) if has_pos.any() else None, "pred_pos_rate": float(pred.mean()),
            "labels_f1_zero": int(((precision == 0) & (recall == 0)).sum())}


def per_label_frame(result: dict[str, Any]) -> pd.DataFrame:
    """The ``per_label`` list of an :func:`evaluate` result as a DataFrame indexed by label."""
    if "per_label" not in result:
        raise ValueError("result has no 'per_label' list: pass a dict returned by evaluate()")
    df = pd.DataFrame(result["per_label"])
    return df.set_index("label")


def summary_frame(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per result (index ``setup``) with the headline columns
    ``micro_f1, macro_f1, samples_f1, hamming_loss, map, pred_pos_rate, true_pos_rate``.

    Each result needs a ``"setup"`` key (as :func:`helpers.results.result_entry` gives it); a metric a
    result lacks, or a ``None`` ``map``, shows as NaN.
    """
    rows = []
    for i, r in enumerate(results):
        if "setup" not in r:
            raise ValueError(f"result {i} has no 'setup' key: build results with helpers.results.result_entry")
        rows.append({"setup": r["setup"], **{k: r.get(k) for k in HEADLINE}})
    df = pd.DataFrame(rows, columns=["setup", *HEADLINE])
    return df.set_index("setup").astype(float)


def threshold_grid(n: int = GRID_POINTS, low: float = GRID_LOW, high: float = GRID_HIGH) -> np.ndarray:
    """``n`` thresholds from ``low`` to ``high``, evenly spaced in logit (log-odds) space: as dense in
    the tails (0.001, 0.01, 0.99, 0.999) as a log-spaced grid, and holding 0.5 exactly when ``n`` is
    odd and the range is symmetric. The default grid of :func:`tune_thresholds`."""
    if not (0 < low < high < 1) or n < 2:
        raise ValueError(f"threshold_grid needs 0 < low < high < 1 and n >= 2, got low={low}, high={high}, n={n}")
    z = np.linspace(np.log(low / (1 - low)), np.log(high / (1 - high)), n)
    g = 1.0 / (1.0 + np.exp(-z))
    g[np.isclose(z, 0.0, atol=1e-12)] = 0.5
    return g


def tune_thresholds(y_val, p_val, grid: Sequence[float] | np.ndarray | None = None, *,
                    min_positives: int = MIN_POSITIVES, fallback: float = FALLBACK_THRESHOLD) -> np.ndarray:
    """Per-label thresholds maximising each label's F1 on a validation split.

    ``grid`` defaults to :func:`threshold_grid`: 301 thresholds from 0.001 to 0.999, evenly spaced in
    logit space, so a label whose best threshold lies below 0.05 or above 0.95 is not clipped there
    (the book's earlier grid, 0.05 to 0.95 in steps of 0.05, clipped rare labels at its ends). Among
    thresholds with the best F1, the contiguous run closest to 0.5 is kept and its middle point chosen
    (the middle of the gap between the scores it separates, not its edge).

    A label with fewer than ``min_positives`` positives in ``y_val`` is not tuned: it gets
    ``fallback`` (default 0.5). The default, ``min_positives=1``, tunes every label with a positive:
    measured on notebook 04's long-tailed scenes (``evidence/thresholds/``: 5 seeds, plain BCE and
    ``neg_over_pos``, judged with :mod:`helpers.stats`), falling back to 0.5 below 10 validation
    positives made plain BCE's test macro-F1 worse ("a difference"), below 3 "equivalent", below 5
    "inconclusive", and for ``neg_over_pos`` every fallback was "inconclusive": none was better.
    Plain BCE's rare labels score far below 0.5, so 0.5 is a poor default for them.
    Use the result as ``evaluate(..., threshold=...)`` on the test split, never on the split it was
    tuned on.
    """
    yt = _check_labels(_as_array(y_val, "y_val"), "y_val").astype(bool)
    yp = _as_array(p_val, "p_val")
    if yt.shape != yp.shape:
        raise ValueError(f"y_val has shape {yt.shape} but p_val has shape {yp.shape}; both must be (N, L)")
    _check_probs(yp, "p_val")
    g = threshold_grid() if grid is None else np.asarray(grid, dtype=np.float64)
    if g.ndim != 1 or g.size == 0 or np.isnan(g).any() or (g < 0).any() or (g > 1).any():
        raise ValueError(f"grid must be a non-empty 1-D sequence of thresholds in [0, 1], got {g!r}")
    if isinstance(min_positives, bool) or not isinstance(min_positives, int | np.integer) or min_positives < 1:
        raise ValueError(f"min_positives must be an int >= 1 (labels with fewer validation positives get the "
                         f"fallback threshold), got {min_positives!r}")
    if not isinstance(fallback, int | float | np.floating) or not 0 <= float(fallback) <= 1:
        raise ValueError(f"fallback must be a threshold in [0, 1], got {fallback!r}")
    g = np.sort(np.unique(g))
    n_pos = yt.sum(axis=0)
    chosen = np.full(yt.shape[1], float(fallback))
    for j in np.flatnonzero(n_pos >= min_positives):
        chosen[j] = _best_threshold(yp[:, j], yt[:, j], g)
    return chosen


def _best_threshold(scores: np.ndarray, positive: np.ndarray, grid: np.ndarray) -> float:
    """The F1-best threshold of one label on a sorted grid (see :func:`tune_thresholds`), from sorted
    scores: O(N log N + G log N) rather than a (G, N) comparison."""
    order = np.sort(scores)
    pos = np.sort(scores[positive])
    # predicted positives at threshold t: scores >= t
    predicted = order.size - np.searchsorted(order, grid, side="left")
    tp = pos.size - np.searchsorted(pos, grid, side="left")
    fp, fn = predicted - tp, pos.size - tp
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros(grid.size, dtype=np.float64), where=denom > 0)
    best = f1 >= f1.max() - 1e-12
    # contiguous runs of best thresholds; keep the run closest to 0.5, then its middle point
    edges = np.flatnonzero(np.diff(np.concatenate(([0], best.astype(np.int8), [0]))))
    starts, stops = edges[::2], edges[1::2] - 1  # inclusive index ranges
    dist = np.where((grid[starts] <= 0.5) & (grid[stops] >= 0.5), 0.0,
                    np.minimum(np.abs(grid[starts] - 0.5), np.abs(grid[stops] - 0.5)))
    k = int(np.argmin(dist))
    return float(grid[(starts[k] + stops[k]) // 2])


DEFAULT_GRID = threshold_grid()  # tune_thresholds' default grid
