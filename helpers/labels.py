"""Labels and splits on purpose: corrupt labels, find the corrupted entries, split with or without
multi-label stratification. Notebook 08 measures what each does to training.

* :func:`flip_labels` flips one label (0 <-> 1) in a share of the examples (annotation noise);
  :func:`drop_positives` turns a share of the positive entries into 0 (missing labels: partial
  annotation, the common multi-label case); :func:`shuffle_rows` misaligns labels with inputs.
  Each returns the corrupted labels and a mask of what it changed, so a detector can be scored.
* :func:`out_of_fold_probs` gives every training example a predicted probability from a model that
  did not see it (``MultilabelStratifiedKFold``), the input cleanlab needs;
  :func:`find_issues` runs ``cleanlab.multilabel_classification.filter.find_label_issues`` on them
  and :func:`detection_scores` scores its flags against the corrupted rows.
* :func:`split_indices` carves a validation split from a pool of examples, at random or with
  iterative stratification (``MultilabelStratifiedShuffleSplit``); :func:`with_split` builds the
  :class:`helpers.data.MultiLabelData` for it.
* Partial labels: :func:`hide_entries` leaves a share of the entries unannotated (``UNKNOWN = -1``,
  :data:`helpers.losses.UNKNOWN`), :func:`fill_unknown` reads them as absent (what a pipeline that
  fills the gaps with 0 does), :func:`tune_thresholds_known` tunes thresholds on the annotated entries only.
* Label columns between splits: :func:`binarize` is scikit-learn's ``MultiLabelBinarizer`` (fitted per
  split, it sorts the class names); :func:`check_split_labels` compares two splits' labels alone (the names
  given with each split, else per-label frequencies, Fisher's exact test with a Bonferroni correction)
  and says when the columns do not line up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from sklearn.metrics import precision_score, recall_score
from sklearn.model_selection import ShuffleSplit

from helpers.losses import UNKNOWN

SPLITTERS = ("random", "stratified")


def _check_share(share: float) -> None:
    if not 0 <= share <= 1:
        raise ValueError(f"share={share!r}: must be between 0 and 1")


def _labels(Y: np.ndarray) -> np.ndarray:
    Y = np.asarray(Y)
    if Y.ndim != 2 or len(Y) == 0 or not np.isin(Y, (0, 1)).all():
        raise ValueError(f"Y must be a non-empty (N, L) matrix of 0/1 labels, got shape {Y.shape}")
    return Y


def flip_labels(Y: np.ndarray, share: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Flip one randomly chosen label (0 <-> 1) in ``round(share * N)`` randomly chosen examples.

    Returns ``(Y_noisy, changed)``, ``changed`` an ``(N, L)`` bool mask of the flipped entries
    (exactly one per corrupted row)."""
    Y = _labels(Y)
    _check_share(share)
    rng = np.random.default_rng(seed)
    n, n_labels = Y.shape
    rows = rng.choice(n, size=round(share * n), replace=False)
    changed = np.zeros(Y.shape, dtype=bool)
    changed[rows, rng.integers(0, n_labels, size=len(rows))] = True
    return np.where(changed, 1 - Y, Y).astype(Y.dtype), changed


def drop_positives(Y: np.ndarray, share: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Set ``round(share * P)`` randomly chosen positive entries (of the ``P`` in ``Y``) to 0.

    Returns ``(Y_missing, changed)``, ``changed`` the ``(N, L)`` bool mask of the dropped positives."""
    Y = _labels(Y)
    _check_share(share)
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(Y.ravel() == 1)
    drop = rng.choice(pos, size=round(share * len(pos)), replace=False)
    changed = np.zeros(Y.size, dtype=bool)
    changed[drop] = True
    changed = changed.reshape(Y.shape)
    return np.where(changed, 0, Y).astype(Y.dtype), changed


def shuffle_rows(Y: np.ndarray, seed: int = 0) -> np.ndarray:
    """``Y`` with its rows permuted: every label set kept, but attached to another example's input."""
    Y = _labels(Y)
    return Y[np.random.default_rng(seed).permutation(len(Y))]


def to_label_lists(Y: np.ndarray) -> list[list[int]]:
    """A 0/1 matrix as cleanlab's multi-label format: per example, the list of its label indices."""
    return [np.flatnonzero(row).tolist() for row in _labels(Y)]


def out_of_fold_probs(X: np.ndarray, Y: np.ndarray, fit_predict: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
                      *, folds: int = 3, seed: int = 0) -> np.ndarray:
    """Predicted probabilities ``(N, L)`` for every example from a model trained without it.

    The examples are split with ``MultilabelStratifiedKFold(folds)``; ``fit_predict(X_fit, Y_fit,
    X_held_out)`` trains on the other folds and returns probabilities for the held-out one."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    Y = _labels(Y)
    if folds < 2:
        raise ValueError(f"folds={folds}: need at least 2")
    out = np.full(Y.shape, np.nan)
    for fit_idx, held in MultilabelStratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(X, Y):
        out[held] = fit_predict(X[fit_idx], Y[fit_idx], X[held])
    return out


def find_issues(Y: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """cleanlab's multi-label label-issue filter on out-of-fold probabilities: a bool mask of the examples
    (rows) it flags as having at least one wrong label."""
    from cleanlab.multilabel_classification.filter import find_label_issues

    Y = _labels(Y)
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.shape != Y.shape:
        raise ValueError(f"pred_probs has shape {pred_probs.shape}, labels {Y.shape}; they must match")
    # n_jobs=1: cleanlab's default forks a worker pool, and a fork of a process whose torch/OpenMP threads
    # hold a lock can hang (it did, once, in a test run); one process gives the same flags
    return np.asarray(find_label_issues(labels=to_label_lists(Y), pred_probs=pred_probs, n_jobs=1), dtype=bool)


def detection_scores(flagged: np.ndarray, corrupted: np.ndarray) -> dict:
    """Precision and recall of row flags against the rows corrupted on purpose (scikit-learn's scores,
    zero_division=0), with the counts behind them."""
    flagged, corrupted = np.asarray(flagged, dtype=bool), np.asarray(corrupted, dtype=bool)
    if flagged.shape != corrupted.shape:
        raise ValueError(f"flagged {flagged.shape} and corrupted {corrupted.shape} must have the same shape")
    return {"precision": float(precision_score(corrupted, flagged, zero_division=0)),
            "recall": float(recall_score(corrupted, flagged, zero_division=0)),
            "flagged": int(flagged.sum()), "corrupted": int(corrupted.sum()),
            "both": int((flagged & corrupted).sum()), "base_rate": float(corrupted.mean())}


def split_indices(Y: np.ndarray, val_fraction: float, *, seed: int = 0, how: str = "stratified"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, val_idx)`` carving ``val_fraction`` of the examples of ``Y`` into validation:
    ``how="random"`` (scikit-learn's ``ShuffleSplit``) or ``"stratified"`` (iterative stratification,
    ``MultilabelStratifiedShuffleSplit``, which keeps every label's share in both parts)."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    Y = _labels(Y)
    if how not in SPLITTERS:
        raise ValueError(f"how={how!r} is not one of {SPLITTERS}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction={val_fraction!r}: must be between 0 and 1")
    splitter = (ShuffleSplit if how == "random" else MultilabelStratifiedShuffleSplit)(
        n_splits=1, test_size=val_fraction, random_state=seed)
    train_idx, val_idx = next(splitter.split(np.zeros((len(Y), 1)), Y))
    return np.sort(train_idx), np.sort(val_idx)


def with_split(data, X_pool: np.ndarray, Y_pool: np.ndarray, train_idx: np.ndarray, val_idx: np.ndarray):
    """A copy of ``data`` whose train and validation splits are ``train_idx`` / ``val_idx`` of the pool
    (the test split is kept)."""
    return dataclasses.replace(data, X_train=X_pool[train_idx], Y_train=Y_pool[train_idx],
                               X_val=X_pool[val_idx], Y_val=Y_pool[val_idx])


def with_train(data, Y_train: np.ndarray, X_train: np.ndarray | None = None):
    """A copy of ``data`` with other training labels (e.g. corrupted ones) and optionally other training
    inputs (e.g. a subset); validation and test splits are kept."""
    Y_train = np.asarray(Y_train, dtype=np.float32)
    X_train = data.X_train if X_train is None else np.asarray(X_train, dtype=np.float32)
    if Y_train.ndim != 2 or Y_train.shape[1] != data.n_labels or len(Y_train) != len(X_train):
        raise ValueError(f"Y_train has shape {Y_train.shape} for {len(X_train)} inputs; need ({len(X_train)}, "
                         f"{data.n_labels})")
    return dataclasses.replace(data, X_train=X_train, Y_train=Y_train)


# --------------------------------------------------------------------------------------------------
# Partial labels: entries nobody annotated


def hide_entries(Y: np.ndarray, share: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Partial annotation: each entry of ``Y`` (positive or negative) is left unannotated with probability
    ``share``. Returns ``(Y_partial, hidden)``: ``Y_partial`` holds 0, 1 or :data:`UNKNOWN` (-1), ``hidden``
    the ``(N, L)`` bool mask of the unannotated entries."""
    Y = _labels(Y)
    _check_share(share)
    hidden = np.random.default_rng(seed).random(Y.shape) < share
    return np.where(hidden, UNKNOWN, Y).astype(np.float32), hidden


def fill_unknown(Y_partial: np.ndarray, value: float = 0.0) -> np.ndarray:
    """``Y_partial`` with every :data:`UNKNOWN` entry replaced by ``value`` (0: "not annotated" read as
    "absent", which turns every unannotated positive into a negative)."""
    Y = np.asarray(Y_partial, dtype=np.float32)
    if not np.isin(Y, (0, 1, UNKNOWN)).all():
        raise ValueError(f"Y_partial must hold 0, 1 or {UNKNOWN} (unknown) only")
    return np.where(Y == UNKNOWN, np.float32(value), Y)


def tune_thresholds_known(Y_partial: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per-label thresholds tuned (:func:`helpers.metrics.tune_thresholds`) on the annotated entries of each
    label only: the rows where that label is :data:`UNKNOWN` are left out, not read as negatives."""
    from helpers import metrics

    Y = np.asarray(Y_partial, dtype=np.float32)
    probs = np.asarray(probs, dtype=np.float64)
    if Y.shape != probs.shape or Y.ndim != 2:
        raise ValueError(f"Y_partial {Y.shape} and probs {probs.shape} must be the same (N, L) shape")
    out = np.full(Y.shape[1], 0.5)
    for j in range(Y.shape[1]):
        known = Y[:, j] != UNKNOWN
        if known.any():
            out[j] = metrics.tune_thresholds(Y[known, j:j + 1], probs[known, j:j + 1])[0]
    return out


# --------------------------------------------------------------------------------------------------
# Label columns between splits


def binarize(label_lists: list[list[str]], classes: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """scikit-learn's ``MultiLabelBinarizer``: ``(Y, column names)``. Without ``classes`` it sorts the class
    names it sees, so two splits binarized separately can get their columns in different orders (or a
    different number of columns when a split lacks a class)."""
    from sklearn.preprocessing import MultiLabelBinarizer

    mlb = MultiLabelBinarizer(classes=classes)
    Y = mlb.fit_transform(label_lists).astype(np.float32)
    return Y, [str(c) for c in mlb.classes_]


@dataclasses.dataclass
class SplitLabelCheck:
    """What :func:`check_split_labels` found: ``ok``, a one-line ``message``, and per label the frequency in
    each split with the corrected p-value of their difference (``table``)."""

    ok: bool
    message: str
    table: object  # a pandas DataFrame

    def __repr__(self) -> str:
        return f"{'ok' if self.ok else 'MISALIGNED'}: {self.message}"


def check_split_labels(Y_a: np.ndarray, Y_b: np.ndarray, *, names_a: list[str] | None = None,
                       names_b: list[str] | None = None, alpha: float = 0.001) -> SplitLabelCheck:
    """Do the label columns of two splits (e.g. train and test) mean the same labels? From the labels alone.

    With the column names of both splits, they must be equal and in the same order. Without them, each
    label's frequency in the two splits is compared with Fisher's exact test; a label whose frequencies
    differ beyond chance (Bonferroni-corrected p below ``alpha``) points to misaligned columns (or a split
    drawn from other data). Columns that a split binarized in another order show up as large, significant
    frequency gaps wherever the labels' frequencies differ; on labels of equal frequency the frequencies
    cannot tell, so pass the names when you have them."""
    import pandas as pd
    from scipy.stats import fisher_exact

    Y_a, Y_b = _labels(Y_a), _labels(Y_b)
    if names_a is not None and names_b is not None:
        names_a, names_b = [str(n) for n in names_a], [str(n) for n in names_b]
        if names_a != names_b:
            moved = [n for i, n in enumerate(names_b) if i >= len(names_a) or names_a[i] != n]
            return SplitLabelCheck(False, f"the splits name their columns differently: {len(names_a)} vs "
                                   f"{len(names_b)} columns, first mismatch {moved[:3]}; binarize both with "
                                   f"MultiLabelBinarizer(classes=train_classes)", pd.DataFrame())
    if Y_a.shape[1] != Y_b.shape[1]:
        return SplitLabelCheck(False, f"the splits have {Y_a.shape[1]} and {Y_b.shape[1]} label columns; binarize "
                               f"both with the same class list", pd.DataFrame())
    n_a, n_b, L = len(Y_a), len(Y_b), Y_a.shape[1]
    pos_a, pos_b = Y_a.sum(0).astype(int), Y_b.sum(0).astype(int)
    p = np.array([fisher_exact([[pos_a[j], n_a - pos_a[j]], [pos_b[j], n_b - pos_b[j]]])[1] for j in range(L)])
    p_corr = np.minimum(p * L, 1.0)
    table = pd.DataFrame({"freq_a": pos_a / n_a, "freq_b": pos_b / n_b, "p_corrected": p_corr},
                         index=names_a if names_a is not None else range(L))
    off = np.flatnonzero(p_corr < alpha)
    if len(off):
        worst = off[np.argsort(p_corr[off])][:3]
        shown = ", ".join(f"column {table.index[j]}: {table.freq_a.iloc[j]:.3f} vs {table.freq_b.iloc[j]:.3f}" for j in worst)
        return SplitLabelCheck(False, f"{len(off)} of {L} label columns have frequencies that differ between the "
                               f"splits beyond chance ({shown}): the columns likely do not mean the same labels; "
                               f"binarize every split with the training split's class list", table)
    return SplitLabelCheck(True, f"every label's frequency agrees between the splits (Fisher's exact test, "
                           f"Bonferroni over {L} labels, alpha {alpha:g})", table)


def compare_rows(table, ref, other, columns) -> dict:
    """Evidence for a claim comparing two rows of a results table (``table.loc[row, column]``): ``<column>`` from
    row ``other`` and ``<column>_ref`` from row ``ref``; ``None`` where a row is missing."""
    out = {}
    for c in columns:
        out[c] = float(table.loc[other, c]) if other in table.index else None
        out[f"{c}_ref"] = float(table.loc[ref, c]) if ref in table.index else None
    return out


def zero_positive_counts(Y_pool: np.ndarray, columns, val_fraction: float, seeds, how: str) -> int:
    """How many (seed, label) pairs of ``columns`` get no validation positive when ``val_fraction`` of the pool is
    carved into validation with :func:`split_indices` (``how``) at each of ``seeds``."""
    Y_pool = _labels(Y_pool)
    n = 0
    for s in seeds:
        _, va = split_indices(Y_pool, val_fraction, seed=s, how=how)
        n += int((Y_pool[va][:, list(columns)].sum(0) == 0).sum())
    return n


def scored(data, run, Y_val_thresholds: np.ndarray, setup: str) -> dict:
    """One row of a comparison: ``run`` (anything with ``predict_proba``) scored on ``data``'s test split, with
    per-label thresholds tuned on ``data.X_val`` against ``Y_val_thresholds`` (entries :data:`UNKNOWN` left out,
    :func:`tune_thresholds_known`): tuned macro-F1, mean recall at those thresholds, mAP and macro-F1 at 0.5."""
    from helpers import metrics

    thresholds = tune_thresholds_known(Y_val_thresholds, run.predict_proba(data.X_val))
    probs = run.predict_proba(data.X_test)
    tuned = metrics.evaluate(data.Y_test, probs, threshold=thresholds)
    at_half = metrics.evaluate(data.Y_test, probs)
    return {"setup": setup, "tuned macro-F1": tuned["macro_f1"],
            "mean recall (tuned)": float(np.mean([r["recall"] for r in tuned["per_label"]])),
            "mAP": at_half["map"], "macro-F1 at 0.5": at_half["macro_f1"],
            "mean threshold": float(np.mean(thresholds))}


# --------------------------------------------------------------------------------------------------
# Evidence gathering for notebook 08 (one function per experiment; the notebook keeps the lesson)


def corruption_runs(data, shares, train_fn: Callable, *, seed: int = 0) -> tuple[list[dict], list[dict], object]:
    """Section 1 of notebook 08: the clean run and, per share > 0, one run with label noise
    (:func:`flip_labels`) and one with missing positives (:func:`drop_positives`) in the training labels.

    ``train_fn(dataset)`` trains on ``dataset`` and returns a run with ``predict_proba``. Every run is
    scored on the clean test split at 0.5 and with thresholds tuned on the clean validation split.
    Returns ``(rows, per_label_rows, clean_run)``; the clean run (share 0) serves both curves (``None``
    when ``shares`` has no 0)."""
    from helpers import metrics

    rows, per_label_rows, runs = [], [], {}
    for kind in ("noise", "missing"):
        corrupt = flip_labels if kind == "noise" else drop_positives
        for share in shares:
            if share == 0 and 0 in runs:
                rows.append({**next(r for r in rows if r["share"] == 0), "kind": kind})
                continue
            Y_bad, changed = corrupt(data.Y_train, share, seed=seed)
            run = train_fn(with_train(data, Y_bad))
            runs[share if share == 0 else (kind, share)] = run
            probs = run.predict_proba(data.X_test)
            ev = metrics.evaluate(data.Y_test, probs, label_names=data.label_names)
            tuned = metrics.evaluate(data.Y_test, probs, threshold=metrics.tune_thresholds(
                data.Y_val, run.predict_proba(data.X_val)))
            rows.append({"kind": kind, "share": share, "changed entries": int(changed.sum()),
                         "mean recall": float(np.mean([r["recall"] for r in ev["per_label"]])),
                         "macro_f1": ev["macro_f1"], "tuned macro_f1": tuned["macro_f1"], "map": ev["map"],
                         "pred_pos_rate": ev["pred_pos_rate"]})
            per_label_rows += [{"kind": kind, "share": share, "label": r["label"], "recall": r["recall"]}
                               for r in ev["per_label"]]
    return rows, per_label_rows, runs.get(0)


def split_runs(data, X_pool: np.ndarray, Y_pool: np.ndarray, columns, *, val_fraction: float, seeds,
               train_fn: Callable):
    """Section 2 of notebook 08: what the way a validation split is carved does to the thresholds tuned on it.

    For each seed, ``val_fraction`` of the pool is carved into validation both ways (:data:`SPLITTERS`,
    :func:`split_indices`); one model is trained by ``train_fn(dataset, seed)`` on the pool minus both carves,
    so the two ways differ only in their validation split (paired). Each way tunes the thresholds on its own
    validation split (:func:`helpers.metrics.tune_thresholds`: a label without a validation positive keeps the
    fallback 0.5) and scores the test split with them.

    Returns ``(per_label, per_run)`` DataFrames: per (split, seed, followed label in ``columns``) its
    validation positives, tuned threshold, test F1, test AP and test frequency; per (split, seed) the
    followed labels' mean tuned test F1 (``rare tuned F1``) and the tuned test macro-F1 over all labels."""
    import pandas as pd

    from helpers import metrics

    label_rows, run_rows = [], []
    for s in seeds:
        carves = {how: split_indices(Y_pool, val_fraction, seed=s, how=how)[1] for how in SPLITTERS}
        train_idx = np.setdiff1d(np.arange(len(Y_pool)), np.concatenate(list(carves.values())))
        run = train_fn(with_split(data, X_pool, Y_pool, train_idx, carves["stratified"]), s)
        probs = run.predict_proba(data.X_test)
        for how, va in carves.items():
            thresholds = metrics.tune_thresholds(Y_pool[va], run.predict_proba(X_pool[va]))
            ev = metrics.evaluate(data.Y_test, probs, threshold=thresholds)
            for j in columns:
                label_rows.append({"split": how, "seed": s, "label": data.label_names[j],
                                   "val positives": int(Y_pool[va, j].sum()), "tuned threshold": float(thresholds[j]),
                                   "test F1": ev["per_label"][j]["f1"], "test AP": ev["per_label"][j]["ap"],
                                   "test frequency": float(data.Y_test[:, j].mean())})
            run_rows.append({"split": how, "seed": s, "train size": len(train_idx),
                             "rare tuned F1": float(np.mean([ev["per_label"][j]["f1"] for j in columns])),
                             "tuned macro-F1": ev["macro_f1"]})
    return pd.DataFrame(label_rows), pd.DataFrame(run_rows)


def split_paired(per_run, columns=("rare tuned F1", "tuned macro-F1"), sesoi: float = 0.01):
    """Stratified minus random per seed (paired: the same model, only the validation split differs) for each column of
    :func:`split_runs`'s ``per_run``, judged together with :func:`helpers.stats.judge` (t-intervals, Holm,
    smallest effect of interest ``sesoi``)."""
    from helpers import stats

    wide = per_run.pivot(index="seed", columns="split")
    return stats.judge({c: (wide[(c, "stratified")] - wide[(c, "random")]).to_numpy() for c in columns}, sesoi=sesoi)


def zero_val_cost(per_label) -> dict:
    """Where a random carve left a followed label without validation positives: how many such (seed, label)
    pairs, and that label's mean test F1 and AP there under the random split and under the stratified split
    of the same seed (the evidence of notebook 08's claim that such a label costs test F1)."""
    key = ["seed", "label"]
    r = per_label[per_label["split"] == "random"].set_index(key)
    s = per_label[per_label["split"] == "stratified"].set_index(key)
    zero = r.index[r["val positives"] == 0]
    out = {"pairs_without_val_positive": len(zero), "pairs": len(r)}
    if len(zero):
        out.update({"test_f1_random": float(r.loc[zero, "test F1"].mean()),
                    "test_f1_stratified": float(s.loc[zero, "test F1"].mean()),
                    "val_positives_stratified": float(s.loc[zero, "val positives"].mean()),
                    "test_ap_random": float(r.loc[zero, "test AP"].mean()),
                    "test_ap_stratified": float(s.loc[zero, "test AP"].mean())})
    return out



def record_entries(rows, partial=None, partial_setups=None) -> list[dict]:
    """``results`` entries of notebook 08's ``metrics.json`` (one row of a sweep's results table each): every
    corruption run of :func:`corruption_runs` (``"clean"``, ``"noise 0.3"``, ``"missing 0.3"``...) at threshold
    0.5 and tuned, and the partial-label runs named by ``partial_setups`` (row of ``partial`` -> setup name)."""
    from helpers import results

    out, seen = [], set()
    for r in rows:
        name = "clean" if r["share"] == 0 else f"{r['kind']} {r['share']:g}"
        if name in seen:
            continue
        seen.add(name)
        extra = {"kind": "clean" if r["share"] == 0 else r["kind"], "share": r["share"]}
        out.append(results.result_entry(name, {"macro_f1": r["macro_f1"], "map": r["map"],
                                               "pred_pos_rate": r["pred_pos_rate"]},
                                        mean_recall=r["mean recall"], threshold="0.5", **extra))
        out.append(results.result_entry(name, {"macro_f1": r["tuned macro_f1"], "map": r["map"]}, threshold="tuned",
                                        **extra))
    for row, name in (partial_setups or {}).items():
        if partial is not None and row in partial.index:
            p = partial.loc[row]
            out.append(results.result_entry(name, {"macro_f1": float(p["macro-F1 at 0.5"]), "map": float(p["mAP"])},
                                            threshold="0.5", kind="partial"))
            out.append(results.result_entry(name, {"macro_f1": float(p["tuned macro-F1"]), "map": float(p["mAP"])},
                                            threshold="tuned", kind="partial"))
    return out
