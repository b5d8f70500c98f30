"""Data for the book: the multi-digit scenes, loaders for your own files, checks and label statistics.

Every notebook gets its data from :func:`load_data`, which returns a :class:`MultiLabelData`:

* ``load_data("scenes", ...)`` builds the book's default data with :func:`make_scenes`: small
  canvases of scikit-learn's bundled 8x8 handwritten digits (no download), one digit per grid
  cell, labelled with the set of digit classes present (10 labels, ``"0"`` .. ``"9"``).
* ``load_data("path/to/file.npz")`` or ``.csv`` brings your own data (:func:`load_npz`,
  :func:`load_csv`). Files are checked on the way in, and every problem is a :class:`DataError`
  that says what is wrong, where, and how to fix it.

Conventions of the returned arrays: ``X`` is float32, either images ``(N, C, H, W)`` or tabular
features ``(N, F)`` standardized with the training split's mean and std; ``Y`` is float32 0/1 of
shape ``(N, L)``, ready for ``BCEWithLogitsLoss``.

Label statistics (:func:`label_stats`, :func:`cooccurrence`, :func:`split_table`, :func:`stats_table`)
and the leakage check :func:`shared_sources` serve notebook 01. The statistics use the usual
multi-label measures: cardinality (mean labels per example), density (cardinality / L), and the
imbalance ratio per label IRLbl and its mean MeanIR (Charte et al., 2015).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.results import display_path, repo_root

SPLITS = ("train", "val", "test")
DIGIT_SIZE = 8  # load_digits images are 8x8, values 0..16
N_DIGIT_CLASSES = 10
POOL_FRACTIONS = (0.6, 0.2, 0.2)  # source digits per class going to train / val / test scenes

# Long-tail exponent at which the rarest label ("9") is present in about 1 scene in 200 with the
# default objects=3 (1 to 3 digits per scene): exactly 1/195 (0.513 %) by rare_label_rate(3.3, 3);
# measured over 200,000 generated scenes (seeds 0-19, 10,000 each): 1,054 positives, 0.527 %.
# For comparison tail 2.0 gives 1/42, 2.5 gives 1/76, 3.0 gives 1/137, 3.35 gives 1/207.
RARE_TAIL = 3.3


class DataError(ValueError):
    """A problem with the data itself (or with the parameters asking for it), explained for a reader."""


# --------------------------------------------------------------------------------------------------
# The container


@dataclass
class MultiLabelData:
    """One multi-label data set, split into train / val / test.

    ``kind`` is ``"image"`` (X is ``(N, C, H, W)``) or ``"tabular"`` (X is ``(N, F)``).
    ``source_ids`` (scenes only) maps each split to the indices into ``load_digits()`` of the
    digits drawn in each scene, ``(N, max_objects)`` int64 padded with -1. ``info`` holds how the
    data was made (scene parameters, file path, standardization statistics).
    """

    name: str
    kind: str
    X_train: np.ndarray
    Y_train: np.ndarray
    X_val: np.ndarray
    Y_val: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    label_names: list[str]
    feature_names: list[str] | None = None
    source_ids: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(X, Y)`` of the split ``"train"``, ``"val"`` or ``"test"``."""
        if name not in SPLITS:
            raise KeyError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
        return getattr(self, f"X_{name}"), getattr(self, f"Y_{name}")

    @property
    def n_labels(self) -> int:
        return int(self.Y_train.shape[1])

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example (no batch dimension): ``(C, H, W)`` or ``(F,)``."""
        return tuple(int(s) for s in self.X_train.shape[1:])

    def summary(self) -> str:
        """One line: name, kind and input shape, split sizes, labels, training cardinality."""
        shape = "x".join(map(str, self.input_shape))
        sizes = " / ".join(f"{s} {len(self.split(s)[0])}" for s in SPLITS)
        card = float(self.Y_train.sum(axis=1, dtype=np.float64).mean())
        return (f"{self.name} ({self.kind} {shape}): {sizes}, {self.n_labels} labels, "
                f"cardinality {card:.3f} (train)")


# --------------------------------------------------------------------------------------------------
# Parameters


def check_seed(seed: Any) -> int:
    """A seed must be an int >= 0 (NumPy's generators and the stratified splitter refuse others)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise DataError(f"seed={seed!r} is {type(seed).__name__}: give a whole number >= 0, e.g. seed=0")
    if seed < 0:
        raise DataError(f"seed={seed!r}: seeds must be >= 0, e.g. seed=0")
    return int(seed)


def _check_count(value: Any, what: str, noun: str = "example") -> int:
    """A size parameter (``n_train``...) must be a whole number >= 1 (``2000.0`` is accepted)."""
    integral = isinstance(value, (float, np.floating)) and float(value).is_integer()
    if isinstance(value, bool) or not (isinstance(value, (int, np.integer)) or integral):
        hint = f" (without quotes: {what}={value.strip()})" if isinstance(value, str) and value.strip().isdigit() else ""
        raise DataError(f"{what}={value!r} is {type(value).__name__}: give a whole number >= 1{hint}")
    if value < 1:
        raise DataError(f"{what}={value!r}: each split needs at least one {noun}")
    return int(value)


def _check_fraction(value: Any, what: str) -> float:
    """A fraction parameter (``val_fraction``...) must be a number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        hint = ""
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                hint = f" (without quotes: {what}={float(value)!r})"
        raise DataError(f"{what}={value!r} is {type(value).__name__}: give a number between 0 and 1{hint}")
    if not 0 < value < 1:
        raise DataError(f"{what}={value!r}: must be between 0 and 1")
    return float(value)


def stratified_split(Y: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split rows into (keep, take) sorted index arrays, ``take`` holding about ``fraction`` of
    the rows, stratified over all labels at once: iterative stratification (Sechidis et al.,
    2011; Szymański and Kajdanowicz, 2017) via ``iterstrat``'s ``MultilabelStratifiedShuffleSplit``.
    Each label's positives are shared out in proportion, so a rare label keeps positives on both
    sides where a random split can leave one side without any. The sizes are close to, not
    exactly, ``fraction`` (the algorithm places rows label by label). Deterministic for a ``seed``."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    Y = np.asarray(Y)
    check_labels(Y, "Y")
    fraction = _check_fraction(fraction, "fraction")
    seed = check_seed(seed)
    n = len(Y)
    k = int(np.ceil(fraction * n))
    if k < 1 or k >= n:
        raise DataError(f"fraction={fraction} of {n} rows leaves an empty split; use more data or another fraction")
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    keep, take = next(splitter.split(np.zeros((n, 1)), Y.astype(np.int64)))
    if not len(keep) or not len(take):
        raise DataError(f"fraction={fraction} of {n} rows leaves an empty split; use more data or another fraction")
    return np.sort(keep), np.sort(take)


def random_split(n: int, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The plain seeded random (keep, take) split of ``n`` rows with the same sizes as
    :func:`stratified_split`, for comparing the two."""
    fraction = _check_fraction(fraction, "fraction")
    k = int(np.ceil(fraction * n))
    if k < 1 or k >= n:
        raise DataError(f"fraction={fraction} of {n} rows leaves an empty split; use more data or another fraction")
    perm = np.random.default_rng(check_seed(seed)).permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


# --------------------------------------------------------------------------------------------------
# Multi-digit scenes


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 bundled digits as float32 images in [0, 1] and their classes."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = (d.images / 16.0).astype(np.float32)
    images.setflags(write=False)
    target = d.target.astype(np.int64)
    target.setflags(write=False)
    return images, target


def _objects_range(objects: int | Sequence[int], n_cells: int) -> tuple[int, int]:
    if isinstance(objects, (int, np.integer)):
        lo, hi = 1, int(objects)
    else:
        try:
            lo, hi = (int(v) for v in objects)
        except (TypeError, ValueError):
            raise DataError(f"objects={objects!r}: give an int k (1..k digits per scene) or a pair (lo, hi)") from None
    if not 1 <= lo <= hi:
        raise DataError(f"objects={objects!r}: need 1 <= lo <= hi digits per scene")
    if hi > n_cells:
        raise DataError(f"objects={objects!r}: up to {hi} digits per scene do not fit in {n_cells} grid cells; "
                        f"use a larger grid or fewer objects")
    if hi > N_DIGIT_CLASSES:
        raise DataError(f"objects={objects!r}: a scene holds distinct digit classes, so at most {N_DIGIT_CLASSES}")
    return lo, hi


def _tail_weights(tail: float, n_labels: int = N_DIGIT_CLASSES) -> np.ndarray:
    """Relative frequency weights ``rank ** -tail`` for ranks 1..n_labels (label 0 most frequent)."""
    if not np.isfinite(tail) or tail < 0:
        raise DataError(f"tail={tail!r}: the long-tail exponent must be a finite number >= 0 (0 = balanced)")
    return np.arange(1, n_labels + 1, dtype=np.float64) ** -float(tail)


def label_rates(tail: float, objects: int | Sequence[int] = 3, *, n_labels: int = N_DIGIT_CLASSES) -> np.ndarray:
    """Exact probability that each label is present in a scene, for :func:`make_scenes`' sampling.

    Classes are drawn one by one without replacement, each with probability proportional to its
    weight among those left; the chance of every set of drawn classes follows by dynamic
    programming over the 2**n_labels subsets. The number of digits is uniform on ``objects``.
    """
    w = _tail_weights(tail, n_labels)
    lo, hi = _objects_range(objects, n_cells=n_labels)
    n_sets = 1 << n_labels
    bits = (np.arange(n_sets)[:, None] >> np.arange(n_labels)) & 1  # (2**L, L) membership
    size = bits.sum(axis=1)
    prob = np.zeros(n_sets)
    prob[0] = 1.0
    for k in range(hi):  # extend every set of size k by one more draw
        for s in np.flatnonzero((size == k) & (prob > 0)):
            left = bits[s] == 0
            p_next = np.where(left, w, 0.0) / w[left].sum()
            for j in np.flatnonzero(left):
                prob[s | (1 << j)] += prob[s] * p_next[j]
    per_k = [(prob[size == k, None] * bits[size == k]).sum(axis=0) for k in range(lo, hi + 1)]
    return np.mean(per_k, axis=0)


def rare_label_rate(tail: float, objects: int | Sequence[int] = 3) -> float:
    """Probability that the rarest label (``"9"``) is present in a scene; see :data:`RARE_TAIL`."""
    return float(label_rates(tail, objects)[-1])


def _split_pools(target: np.ndarray, rng: np.random.Generator) -> list[list[np.ndarray]]:
    """Per split, per class: disjoint source-image indices (stratified 60/20/20 per class)."""
    pools: list[list[np.ndarray]] = [[], [], []]
    for c in range(N_DIGIT_CLASSES):
        idx = rng.permutation(np.flatnonzero(target == c))
        n_tr = round(POOL_FRACTIONS[0] * len(idx))
        n_va = round(POOL_FRACTIONS[1] * len(idx))
        for s, part in enumerate(np.split(idx, [n_tr, n_tr + n_va])):
            pools[s].append(part)
    return pools


def _make_split(n: int, pools: list[np.ndarray], grid: tuple[int, int], lo: int, hi: int,
                log_w: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` scenes drawing digits from ``pools`` (one index array per class)."""
    images, _ = _digits()
    gh, gw = grid
    n_cells = gh * gw
    k = rng.integers(lo, hi + 1, size=n)
    # Weighted sampling without replacement, all scenes at once: the top-k of log-weight plus Gumbel
    # noise is distributed exactly like k successive proportional draws (Gumbel-top-k trick).
    keys = log_w + rng.gumbel(size=(n, N_DIGIT_CLASSES))
    classes = np.argsort(-keys, axis=1, kind="stable")[:, :hi]
    cells = np.argsort(rng.random((n, n_cells)), axis=1, kind="stable")[:, :hi]
    sizes = np.array([len(p) for p in pools])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    flat = np.concatenate(pools)
    pick = np.minimum((rng.random((n, hi)) * sizes[classes]).astype(np.int64), sizes[classes] - 1)
    src = flat[offsets[classes] + pick]
    used = np.arange(hi) < k[:, None]
    rows, slots = np.nonzero(used)

    canvas = np.zeros((n, n_cells, DIGIT_SIZE, DIGIT_SIZE), dtype=np.float32)
    canvas[rows, cells[rows, slots]] = images[src[rows, slots]]
    X = canvas.reshape(n, gh, gw, DIGIT_SIZE, DIGIT_SIZE).transpose(0, 1, 3, 2, 4)
    X = X.reshape(n, 1, gh * DIGIT_SIZE, gw * DIGIT_SIZE)
    Y = np.zeros((n, N_DIGIT_CLASSES), dtype=np.float32)
    Y[rows, classes[rows, slots]] = 1.0
    source_ids = np.where(used, src, -1).astype(np.int64)
    return np.ascontiguousarray(X), Y, source_ids


def make_scenes(n_train: int = 2000, n_val: int = 500, n_test: int = 1000, *, grid: tuple[int, int] = (2, 2),
                objects: int | Sequence[int] = 3, tail: float = 0.0, seed: int = 0) -> MultiLabelData:
    """The book's default data: multi-digit scenes built from scikit-learn's 8x8 digits.

    Each scene is a ``grid`` of 8x8 cells (default 2x2 -> 16x16 pixels, one channel, values in
    [0, 1]); a few cells, chosen at random, hold one digit each, the rest are zeros. A scene's
    labels are the digit classes it shows; the classes in one scene are distinct, so the number of
    labels equals the number of digits.

    * ``objects``: an int ``k`` gives 1..k digits per scene (uniform), a pair ``(lo, hi)`` gives
      lo..hi inclusive, ``(k, k)`` exactly k. At most the number of cells (and 10).
    * ``tail``: long-tail exponent. Classes are drawn without replacement with weights
      ``rank ** -tail`` (label "0" is rank 1, the most frequent); 0 is balanced. With the default
      ``objects=3``, ``tail=3.3`` (:data:`RARE_TAIL`) makes the rarest label appear in about 1
      scene in 200 (exactly 1/195 by :func:`rare_label_rate`; 0.527 % measured over 200,000 scenes).
    * The 1,797 source digits are first split per class 60/20/20 into disjoint train / val / test
      pools, so no source image appears in two splits; ``source_ids`` records which were used.
    * Deterministic for a given ``seed``. The pools and each split draw from their own random
      streams, so changing ``n_train`` leaves the val and test scenes unchanged.

    Raises :class:`DataError` if a label ends up with no positive in the training split.
    """
    try:
        gh, gw = (int(g) for g in grid)
    except (TypeError, ValueError):
        raise DataError(f"grid={grid!r}: give (rows, cols) of 8x8 cells, e.g. (2, 2)") from None
    if gh < 1 or gw < 1:
        raise DataError(f"grid={grid!r}: need at least one row and one column of cells")
    lo, hi = _objects_range(objects, gh * gw)
    log_w = np.log(_tail_weights(tail))
    sizes = {s: _check_count(n, f"n_{s}", "scene") for s, n in (("train", n_train), ("val", n_val), ("test", n_test))}
    seed = check_seed(seed)

    _, target = _digits()
    pool_rng, *split_rngs = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    pools = _split_pools(target, pool_rng)
    out: dict[str, np.ndarray] = {}
    source_ids: dict[str, np.ndarray] = {}
    for i, (s, rng) in enumerate(zip(SPLITS, split_rngs, strict=True)):
        out[f"X_{s}"], out[f"Y_{s}"], source_ids[s] = _make_split(
            int(sizes[s]), pools[i], (gh, gw), lo, hi, log_w, rng)

    label_names = [str(c) for c in range(N_DIGIT_CLASSES)]
    missing = [label_names[j] for j in np.flatnonzero(out["Y_train"].sum(axis=0) == 0)]
    if missing:
        raise DataError(
            f"label(s) {', '.join(missing)} have no positive example among the {n_train} training scenes "
            f"(tail={tail}, objects={objects}, seed={seed}); the expected rate of the rarest label is "
            f"{rare_label_rate(tail, (lo, hi)):.2%} per scene. Use a larger n_train or a smaller tail.")
    info = {"source": "sklearn.datasets.load_digits", "grid": (gh, gw), "objects": (lo, hi), "tail": float(tail),
            "seed": seed, "pool_fractions": POOL_FRACTIONS}
    return MultiLabelData(name="scenes", kind="image", label_names=label_names, source_ids=source_ids,
                          info=info, **out)


# --------------------------------------------------------------------------------------------------
# Checks


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def check_labels(Y: np.ndarray, where: str = "Y") -> None:
    """Labels must be a non-empty 2-D array of 0/1 values (bool, int or float)."""
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise DataError(f"{where} has shape {Y.shape}; labels must be 2-D (examples, labels) of 0/1, "
                        f"one column per label (multi-hot)")
    if Y.size == 0:
        raise DataError(f"{where} is empty (shape {Y.shape}); every split needs examples and at least one label")
    if Y.dtype.kind not in "biuf":
        raise DataError(f"{where} has dtype {Y.dtype}; labels must be numeric 0/1 (multi-hot), not text")
    bad = ~((Y == 0) | (Y == 1))
    if bad.any():
        r, c = _first_index(bad)
        values = np.unique(Y[bad])
        shown = ", ".join(repr(v.item()) for v in values[:5]) + (", ..." if len(values) > 5 else "")
        raise DataError(f"{where} is not binary: {int(bad.sum())} entries are not 0/1 (values {shown}; first at "
                        f"row {r}, label column {c}). Multi-label targets must be multi-hot 0/1; threshold or "
                        f"one-hot encode them first")


def check_features(X: np.ndarray, where: str = "X", feature_names: Sequence[str] | None = None) -> None:
    """Features must be a non-empty numeric array without NaN or inf."""
    X = np.asarray(X)
    if X.ndim < 2 or X.shape[0] == 0 or X.size == 0:
        raise DataError(f"{where} has shape {X.shape}; need at least one example and one feature")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{where} has dtype {X.dtype}; features must be numeric")
    bad = ~np.isfinite(X)
    if bad.any():
        loc = _first_index(bad)
        at = f"row {loc[0]}, " + (f"feature {feature_names[loc[1]]!r}" if feature_names is not None and X.ndim == 2
                                  else f"position {loc[1:]}")
        raise DataError(f"{where} has {int(bad.sum())} NaN/inf value(s) (first at {at}: {X[loc]}); "
                        f"impute or drop them before loading")


def _check_split_shapes(arrays: dict[str, np.ndarray], splits: Sequence[str]) -> None:
    for s in splits:
        X, Y = arrays[f"X_{s}"], arrays[f"Y_{s}"]
        if len(X) != len(Y):
            raise DataError(f"{s} split: X_{s} has {len(X)} rows but Y_{s} has {len(Y)}; "
                            f"features and labels must have one row per example, in the same order")
    ref = splits[0]
    for s in splits[1:]:
        if arrays[f"Y_{s}"].shape[1] != arrays[f"Y_{ref}"].shape[1]:
            raise DataError(f"Y_{s} has {arrays[f'Y_{s}'].shape[1]} label columns but Y_{ref} has "
                            f"{arrays[f'Y_{ref}'].shape[1]}; every split needs the same labels in the same order")
        if arrays[f"X_{s}"].shape[1:] != arrays[f"X_{ref}"].shape[1:]:
            raise DataError(f"X_{s} has per-example shape {arrays[f'X_{s}'].shape[1:]} but X_{ref} has "
                            f"{arrays[f'X_{ref}'].shape[1:]}; every split needs the same features")


def _check_train_positives(Y_train: np.ndarray, label_names: Sequence[str], carved: bool) -> None:
    zero = np.flatnonzero(np.asarray(Y_train).sum(axis=0) == 0)
    if len(zero):
        names = ", ".join(repr(label_names[j]) for j in zero)
        hint = (" (the validation rows carved from train may have taken them: try another seed or a "
                "smaller val_fraction)" if carved else "")
        raise DataError(f"label(s) {names} have no positive example in the training split{hint}; a model "
                        f"cannot learn them. Drop those label columns or get more data with them")


def _check_train_negatives(Y_train: np.ndarray, label_names: Sequence[str]) -> None:
    full = np.flatnonzero(np.asarray(Y_train).min(axis=0) == 1)
    if len(full):
        names = ", ".join(repr(label_names[j]) for j in full)
        raise DataError(f"label(s) {names} are positive in every training row; a label that never varies "
                        f"cannot be learned or evaluated (no negatives: its pos_weight is 0 and its metrics "
                        f"are undefined). Drop those label columns")


def _names(values: Any, n: int, what: str, default_prefix: str) -> list[str]:
    if values is None:
        return [f"{default_prefix}{i}" for i in range(n)]
    names = [str(v) for v in np.asarray(values).ravel()]
    if len(names) != n:
        raise DataError(f"{what} has {len(names)} entries but the data has {n}; "
                        f"give one name per {'label' if what == 'label_names' else 'feature'} column")
    return names


# --------------------------------------------------------------------------------------------------
# Your own data


def _carve(Y: np.ndarray, fraction: float, seed: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (keep, take) row indices with about ``fraction`` of the rows taken."""
    fraction = _check_fraction(fraction, what)
    try:
        return stratified_split(Y, fraction, seed)
    except DataError as e:
        raise DataError(f"{what}={fraction}: {e}") from None


def _assemble(name: str, arrays: dict[str, np.ndarray], *, label_names: Any, feature_names: Any,
              val_fraction: float, seed: int, info: dict[str, Any]) -> MultiLabelData:
    """Check split arrays, carve val if absent, standardize tabular features, build the container."""
    splits = [s for s in SPLITS if f"X_{s}" in arrays]
    for s in splits:
        check_labels(arrays[f"Y_{s}"], f"Y_{s}")
        X = np.asarray(arrays[f"X_{s}"])
        if X.ndim == 3:  # (N, H, W) images: add the channel
            X = X[:, None]
        if X.ndim not in (2, 4):
            raise DataError(f"X_{s} has shape {X.shape}; expected (N, features), (N, H, W) or (N, C, H, W)")
        arrays[f"X_{s}"] = X
    _check_split_shapes(arrays, splits)
    kind = "image" if arrays["X_train"].ndim == 4 else "tabular"
    n_labels = arrays["Y_train"].shape[1]
    label_names = _names(label_names, n_labels, "label_names", "label_")
    if kind == "tabular":
        feature_names = _names(feature_names, arrays["X_train"].shape[1], "feature_names", "x")
    else:
        feature_names = None
    for s in splits:
        check_features(arrays[f"X_{s}"], f"X_{s}", feature_names)

    if n_labels < 2:
        raise DataError(f"Y_train has a single label column ({label_names[0]!r}); that is binary "
                        f"classification, not multi-label: a multi-label data set needs at least two label "
                        f"columns (for one 0/1 target, use a binary classifier)")
    carved = "X_val" not in arrays
    if carved:
        keep, take = _carve(arrays["Y_train"], val_fraction, seed, "val_fraction")
        X, Y = arrays["X_train"], arrays["Y_train"]
        arrays.update(X_train=X[keep], Y_train=Y[keep], X_val=X[take], Y_val=Y[take])
        info["val_carved_from_train"] = {"val_fraction": val_fraction, "seed": seed, "stratified": True}
    _check_train_positives(arrays["Y_train"], label_names, carved)
    _check_train_negatives(arrays["Y_train"], label_names)

    with np.errstate(over="ignore"):  # values beyond float32 become inf here; refused below, by name
        out = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
    if kind == "tabular":
        Xtr = arrays["X_train"].astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            mean = Xtr.mean(axis=0)
            std = Xtr.std(axis=0)
        overflow = ~(np.isfinite(mean) & np.isfinite(std))
        if overflow.any():
            j = int(np.flatnonzero(overflow)[0])
            big = float(np.max(np.abs(Xtr[:, j])))
            raise DataError(f"X_train feature {feature_names[j]!r} has values up to {big:.3g}: its standard "
                            f"deviation overflows float64, so standardizing would turn it into 0s. Rescale it "
                            f"first (e.g. divide by {10 ** np.floor(np.log10(big)):.0e}, or take a log)")
        constant = np.ptp(Xtr, axis=0) == 0
        std[constant] = 1.0  # constant column: centre it, do not divide by ~0
        for s in SPLITS:
            out[f"X_{s}"] = ((arrays[f"X_{s}"].astype(np.float64) - mean) / std).astype(np.float32)
        info["standardize"] = {"mean": mean, "std": std, "fitted_on": "train",
                               "constant_features": [feature_names[j] for j in np.flatnonzero(constant)]}
    for s in SPLITS:  # the model computes in float32: a finite float64 can still become inf here
        X32 = out[f"X_{s}"]
        if not np.isfinite(X32).all():
            loc = _first_index(~np.isfinite(X32))
            raise DataError(f"X_{s} has values beyond the float32 range (|x| > {np.finfo(np.float32).max:.3g}; "
                            f"first at row {loc[0]}: {arrays[f'X_{s}'][loc]:.3g}), which become inf in float32, "
                            f"the precision the model computes in; rescale the inputs (e.g. to [0, 1])")
    return MultiLabelData(name=name, kind=kind, label_names=label_names, feature_names=feature_names,
                          info=info, **out)


_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry, or an empty zip


def _check_npz_member(npz: Any, key: str, shown: str) -> None:
    """Refuse an array whose header claims more data than its zip entry holds (a corrupt or
    hostile file), before NumPy allocates the claimed shape."""
    try:
        info = npz.zip.getinfo(f"{key}.npy")
        with npz.zip.open(info) as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
            header_len = f.tell()
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile, AttributeError):
        return  # np.load's own error follows, with its message
    if dtype.hasobject:
        return  # refused as an object array by the caller
    claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if claimed > info.file_size - header_len:
        raise DataError(f"{shown}: array {key!r} claims shape {shape} of {dtype} ({claimed:,} bytes) but the file "
                        f"holds {info.file_size - header_len:,} bytes for it; the file is truncated or corrupt. "
                        f"Re-save it with np.savez")


def load_npz(path: str | os.PathLike, *, val_fraction: float = 0.2, seed: int = 0) -> MultiLabelData:
    """Load a ``.npz`` with ``X_train, Y_train, X_test, Y_test`` and optionally ``X_val, Y_val``,
    ``label_names``, ``feature_names`` (string arrays) and a 0-d string ``source``.

    Without ``X_val``/``Y_val``, a seeded, label-stratified ``val_fraction`` of the training rows
    becomes the validation split (:func:`stratified_split`). X may be tabular ``(N, F)`` (then standardized with the training split's
    mean and std; constant columns are only centred), or images ``(N, H, W)`` / ``(N, C, H, W)``
    (kept as they are, a channel added to 3-D arrays). The file is read with
    ``allow_pickle=False``: object arrays are refused, since unpickling can run arbitrary code.
    """
    path = Path(path)
    shown = display_path(path)
    if not path.is_file():
        raise DataError(f"no file at {shown}")
    seed = check_seed(seed)
    val_fraction = _check_fraction(val_fraction, "val_fraction")
    if path.stat().st_size == 0:
        raise DataError(f"{shown} is empty (0 bytes); re-save it with np.savez(path, X_train=..., Y_train=..., ...)")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x93NUMPY"):
        raise DataError(f"{shown} holds a single array, not an .npz archive of named arrays (it is in .npy format); "
                        f"save it with np.savez(path, X_train=..., Y_train=..., X_test=..., Y_test=...)")
    if not head.startswith(_ZIP_SIGNATURES):
        raise DataError(f"{shown} is not an .npz file: it does not start with the zip signature of np.savez "
                        f"archives (its first bytes are {head!r}); save your arrays with np.savez(path, "
                        f"X_train=..., Y_train=..., X_test=..., Y_test=...)")
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{shown} is not a readable .npz archive ({e}); save it with np.savez") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DataError(f"{shown} holds a single array, not an .npz archive of named arrays; "
                        f"save it with np.savez(path, X_train=..., Y_train=..., X_test=..., Y_test=...)")
    with npz:
        present = list(npz.files)
        required = ["X_train", "Y_train", "X_test", "Y_test"]
        missing = [k for k in required if k not in present]
        if missing:
            raise DataError(f"{shown} lacks {', '.join(missing)}; it holds {', '.join(present) or 'nothing'}. "
                            f"Needed: {', '.join(required)} (optional X_val, Y_val, label_names, feature_names)")
        if ("X_val" in present) != ("Y_val" in present):
            raise DataError(f"{shown} has only one of X_val / Y_val; give both or neither (then val is carved "
                            f"from train)")
        wanted = [*required, "X_val", "Y_val", "label_names", "feature_names", "source"]
        loaded: dict[str, np.ndarray] = {}
        for key in (k for k in wanted if k in present):
            _check_npz_member(npz, key, shown)
            try:
                loaded[key] = npz[key]
            except ValueError as e:
                if "pickle" not in str(e):
                    raise DataError(f"{shown}: cannot read array {key!r} ({e})") from None
                raise DataError(f"{shown}: array {key!r} is an object array, which needs pickling to load; "
                                f"loading pickles is refused (allow_pickle=False) because unpickling can run "
                                f"arbitrary code. Re-save it as a numeric array (e.g. .astype(np.float32)), or "
                                f"names as a string array (np.array(names, dtype=str))") from None
    arrays = {k: v for k, v in loaded.items() if k[:2] in ("X_", "Y_")}
    info: dict[str, Any] = {"path": shown}
    if "source" in loaded:
        info["source"] = str(loaded["source"])
    return _assemble(path.stem, arrays, label_names=loaded.get("label_names"),
                     feature_names=loaded.get("feature_names"), val_fraction=val_fraction, seed=seed, info=info)


def _file_split(Y: np.ndarray, val_fraction: float, test_fraction: float, seed: int,
                shown: str) -> dict[str, np.ndarray]:
    """Stratified train / val / test row indices (each sorted) for a file without a split:
    ``test_fraction`` of the rows to test, then ``val_fraction`` of all rows from the rest to val."""
    val_fraction = _check_fraction(val_fraction, "val_fraction")
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 1:
        raise DataError(f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves no training rows")
    n = len(Y)
    n_test, n_val = round(test_fraction * n), round(val_fraction * n)
    if min(n_test, n_val, n - n_test - n_val) < 1:
        raise DataError(f"{shown} has {n} rows: too few for a train / val / test split with val_fraction="
                        f"{val_fraction} and test_fraction={test_fraction}; add rows or a split column")
    rest, test = stratified_split(Y, test_fraction, seed)
    train, val = stratified_split(Y[rest], min(val_fraction / (1 - test_fraction), 1 - 1 / len(rest)), seed)
    return {"test": test, "val": np.sort(rest[val]), "train": np.sort(rest[train])}


def load_csv(path: str | os.PathLike, *, label_columns: str | Sequence[str] = "label_", split_column: str = "split",
             val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0) -> MultiLabelData:
    """Load a tabular ``.csv``: one row per example, 0/1 label columns, numeric feature columns.

    ``label_columns`` is a list of column names or a prefix (default ``"label_"``; the prefix is
    stripped from the label names). Every other column is a feature and must be numeric, except
    the optional ``split_column`` with values ``train`` / ``val`` / ``test`` (without ``val`` rows,
    ``val_fraction`` of train becomes val). Without that column, a seeded stratified split
    (:func:`stratified_split`) puts ``test_fraction`` and ``val_fraction`` of the rows in test and val. Features are standardized
    with the training split's statistics.
    """
    path = Path(path)
    shown = display_path(path)
    seed = check_seed(seed)
    val_fraction = _check_fraction(val_fraction, "val_fraction")
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    if not path.is_file():
        raise DataError(f"no file at {shown}")
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{shown} is empty; expected a header row and one row per example") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DataError(f"{shown} is not a readable CSV ({e})") from None
    if df.empty:
        raise DataError(f"{shown} has a header but no rows; expected one row per example")
    columns = [str(c) for c in df.columns]
    df.columns = columns

    if isinstance(label_columns, str):
        labels = [c for c in columns if c.startswith(label_columns)]
        if not labels:
            raise DataError(f"{shown}: no column starts with the label prefix {label_columns!r}; columns are "
                            f"{columns}. Pass label_columns=[...] or a different prefix")
        label_names = [c[len(label_columns):] or c for c in labels]
    else:
        labels = [str(c) for c in label_columns]
        absent = [c for c in labels if c not in columns]
        if absent:
            raise DataError(f"{shown}: label column(s) {absent} not found; columns are {columns}")
        label_names = labels
    has_split = split_column is not None and split_column in columns
    features = [c for c in columns if c not in labels and not (has_split and c == split_column)]
    if not features:
        raise DataError(f"{shown}: no feature columns left after the label columns {labels}")
    text = [c for c in features if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))]
    if text:
        raise DataError(f"{shown}: feature column(s) {text} are not numeric; encode them as numbers, drop them, "
                        f"or, if they are labels, include them in label_columns")
    for c in labels:
        if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])):
            vals = list(pd.unique(df[c]))[:5]
            raise DataError(f"{shown}: label column {c!r} is not binary: it holds text values such as {vals}; "
                            f"labels must be 0/1")
    X = df[features].to_numpy(dtype=np.float64)
    Y = df[labels].to_numpy(dtype=np.float64)
    # Checks on the whole file first, so locations are file rows (CSV line = row + 2).
    check_labels(Y, f"{shown} label columns")
    check_features(X, f"{shown} features", features)

    info: dict[str, Any] = {"path": shown, "label_columns": labels}
    if has_split:
        split = df[split_column].astype(str).str.strip().str.lower().to_numpy()
        unknown = sorted(set(split) - set(SPLITS))
        if unknown:
            raise DataError(f"{shown}: column {split_column!r} holds {unknown}; allowed values are train, val, test")
        for s in ("train", "test"):
            if not (split == s).any():
                raise DataError(f"{shown}: no row has {split_column}={s!r}; the split column needs train and test "
                                f"rows (val is optional)")
        idx = {s: np.flatnonzero(split == s) for s in SPLITS}
        info["split"] = f"column {split_column!r}"
    else:
        idx = _file_split(Y, val_fraction, test_fraction, seed, shown)
        info["split"] = {"val_fraction": val_fraction, "test_fraction": test_fraction, "seed": seed,
                         "stratified": True}
    arrays = {f"{v}_{s}": a[idx[s]] for s in SPLITS if len(idx.get(s, ())) for v, a in (("X", X), ("Y", Y))}
    return _assemble(path.stem, arrays, label_names=label_names, feature_names=features,
                     val_fraction=val_fraction, seed=seed, info=info)


_FILE_KWARGS = {"val_fraction", "test_fraction", "label_columns", "split_column"}


def load_data(data: str | os.PathLike | MultiLabelData = "scenes", *, seed: int = 0, **kwargs: Any) -> MultiLabelData:
    """The notebooks' one entry point: ``"scenes"`` or a path to a ``.npz`` / ``.csv`` file.

    ``"scenes"`` -> ``make_scenes(seed=seed, **kwargs)``. A path is tried as given (relative to the
    working directory), then relative to the repository root. Notebooks always pass their scene
    parameters (``n_train``, ``grid``, ``objects``, ``tail``...), so for a file those are accepted
    and ignored; file options (``val_fraction``, ``test_fraction``, ``label_columns``,
    ``split_column``) go to the file loader and are ignored for scenes. ``seed`` seeds the scenes,
    or the stratified validation / test split of a file that has none.
    """
    if isinstance(data, MultiLabelData):
        return data
    seed = check_seed(seed)
    for what in ("val_fraction", "test_fraction"):  # checked for scenes too, which ignore them
        if what in kwargs:
            kwargs[what] = _check_fraction(kwargs[what], what)
    if str(data) == "scenes":
        return make_scenes(seed=seed, **{k: v for k, v in kwargs.items() if k not in _FILE_KWARGS})
    given = Path(data).expanduser()
    tried = [given.resolve()] if given.is_absolute() else [Path.cwd() / given, repo_root() / given]
    path = next((p for p in tried if p.is_file()), None)
    if path is None:
        raise DataError(f"data={str(data)!r} is neither 'scenes' nor an existing file; tried "
                        f"{' and '.join(str(p) for p in tried)}")
    loaders = {".npz": load_npz, ".csv": load_csv}
    loader = loaders.get(path.suffix.lower())
    if loader is None:
        raise DataError(f"{display_path(path)}: unsupported file type {path.suffix!r}; use .npz (arrays X_train, "
                        f"Y_train, X_test, Y_test) or .csv (feature columns and 0/1 label columns)")
    accepted = set(inspect.signature(loader).parameters)
    return loader(path, seed=seed, **{k: v for k, v in kwargs.items() if k in accepted and k in _FILE_KWARGS})


# --------------------------------------------------------------------------------------------------
# Label statistics


def label_stats(Y: np.ndarray, label_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Multi-label statistics of a 0/1 label matrix ``Y`` (examples x labels).

    Returns ``n`` (examples), ``n_labels``, ``cardinality`` (mean labels per example), ``density``
    (cardinality / n_labels), ``n_labelsets`` (distinct label sets, the empty set included),
    ``counts`` and ``frequency`` (pd.Series of positives and positive fraction per label),
    ``irlbl`` (pd.Series, IRLbl(l) = max count / count(l), Charte et al. 2015), ``mean_ir`` and
    ``max_ir``. A label with no positives would have an infinite IRLbl: its IRLbl is NaN, it is
    left out of ``mean_ir`` and ``max_ir``, and it is listed in ``zero_labels``.
    """
    Y = np.asarray(Y)
    check_labels(Y, "Y")
    n, n_labels = Y.shape
    names = _names(label_names, n_labels, "label_names", "label_")
    counts = Y.sum(axis=0).astype(np.int64)
    per_row = Y.sum(axis=1, dtype=np.float64)
    cardinality = float(per_row.mean())
    pos = counts > 0
    irlbl = np.full(n_labels, np.nan)
    if pos.any():
        irlbl[pos] = counts.max() / counts[pos]
    return {
        "n": int(n),
        "n_labels": int(n_labels),
        "cardinality": cardinality,
        "density": cardinality / n_labels,
        "n_labelsets": int(len(np.unique(Y.astype(bool), axis=0))),
        "counts": pd.Series(counts, index=names, name="positives"),
        "frequency": pd.Series(counts / n, index=names, name="frequency"),
        "irlbl": pd.Series(irlbl, index=names, name="irlbl"),
        "mean_ir": float(irlbl[pos].mean()) if pos.any() else float("nan"),
        "max_ir": float(irlbl[pos].max()) if pos.any() else float("nan"),
        "zero_labels": [names[j] for j in np.flatnonzero(~pos)],
    }


def cooccurrence(Y: np.ndarray) -> np.ndarray:
    """(L, L) int64 counts of examples having both labels: ``Y.T @ Y`` (diagonal: label counts)."""
    Y = np.asarray(Y)
    check_labels(Y, "Y")
    Yi = Y.astype(np.int64)
    return Yi.T @ Yi


def split_table(data: MultiLabelData, *, long: bool = False) -> pd.DataFrame:
    """Positives and frequency of every label in every split.

    Wide (default): one row per label, columns ``train_positives``, ``train_frequency``,
    ``val_positives``... Long (``long=True``): columns ``label, split, positives, frequency``, the
    form :func:`helpers.plots.label_frequency` takes.
    """
    rows = []
    for s in SPLITS:
        Y = data.split(s)[1]
        counts = Y.sum(axis=0).astype(np.int64)
        for name, c in zip(data.label_names, counts, strict=True):
            rows.append({"label": name, "split": s, "positives": int(c), "frequency": c / len(Y)})
    df = pd.DataFrame(rows)
    if long:
        return df
    wide = df.pivot(index="label", columns="split", values=["positives", "frequency"])
    wide = wide.reindex(index=data.label_names)
    cols = [(v, s) for s in SPLITS for v in ("positives", "frequency")]
    wide = wide[cols]
    wide.columns = [f"{s}_{v}" for v, s in cols]
    for s in SPLITS:
        wide[f"{s}_positives"] = wide[f"{s}_positives"].astype(np.int64)
    return wide


def stats_table(datasets: MultiLabelData | Mapping[str, MultiLabelData],
                splits: Sequence[str] = SPLITS) -> pd.DataFrame:
    """:func:`label_stats` of every split of one or several data sets, one row per (setting, split).

    ``datasets`` is one :class:`MultiLabelData` (the setting is then its ``name``) or a mapping
    ``{setting name: data}``, e.g. a balanced and a long-tailed version side by side. Columns:
    ``n, n_labels, cardinality, density, n_labelsets, mean_ir, max_ir`` and the split's rarest
    label (fewest positives, first on ties) as ``rarest_label, rarest_positives, rarest_frequency``.
    """
    if isinstance(datasets, MultiLabelData):
        datasets = {datasets.name: datasets}
    rows = []
    for setting, d in datasets.items():
        for s in splits:
            st = label_stats(d.split(s)[1], d.label_names)
            rarest = str(st["counts"].idxmin())
            rows.append({"setting": setting, "split": s,
                         **{k: st[k] for k in ("n", "n_labels", "cardinality", "density", "n_labelsets",
                                               "mean_ir", "max_ir")},
                         "rarest_label": rarest, "rarest_positives": int(st["counts"][rarest]),
                         "rarest_frequency": float(st["frequency"][rarest])})
    return pd.DataFrame(rows).set_index(["setting", "split"])


def shared_sources(data: MultiLabelData) -> dict[str, int]:
    """How many source images each pair of splits shares: ``{"train & val": 0, "train & test": 0,
    "val & test": 0}`` when the splits are disjoint, as :func:`make_scenes` guarantees.

    Counts distinct ids in ``data.source_ids`` (padding ``-1`` ignored). Only generated scenes
    record their source images; for other data this raises :class:`DataError`.
    """
    if not data.source_ids:
        raise DataError(f"{data.name}: no source_ids recorded; only generated scenes (make_scenes) know which "
                        f"source images each example was drawn from")
    missing = [s for s in SPLITS if s not in data.source_ids]
    if missing:
        raise DataError(f"{data.name}: source_ids lacks split(s) {', '.join(missing)}")
    used = {s: np.unique(ids[ids >= 0]) for s, ids in data.source_ids.items()}
    return {f"{a} & {b}": int(len(np.intersect1d(used[a], used[b]))) for a, b in itertools.combinations(SPLITS, 2)}
