"""The book's default data: multi-digit scenes built from scikit-learn's bundled 8x8 digits (no download), and the leakage check of their splits."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import numpy as np

from helpers.data.checks import _drop_empty_labels
from helpers.data.core import (
    DIGIT_SIZE,
    N_DIGIT_CLASSES,
    POOL_FRACTIONS,
    SPLITS,
    DataError,
    MultiLabelData,
    _check_count,
    _check_flag,
    _check_scene_memory,
    check_seed,
)

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


def _objects_range(objects: int | Sequence[int], n_cells: int, *, distinct_classes: bool = True,
                   bigger: str = "a larger grid") -> tuple[int, int]:
    """``objects`` as ``(lo, hi)`` digits per scene, one digit per cell (so at most ``n_cells``), and with
    ``distinct_classes`` at most one digit of each class."""
    try:
        lo, hi = (1, int(objects)) if isinstance(objects, (int, np.integer)) else (int(v) for v in objects)
    except (TypeError, ValueError):
        raise DataError(f"objects={objects!r}: give an int k (1..k digits per scene) or a pair (lo, hi)") from None
    if not 1 <= lo <= hi:
        raise DataError(f"objects={objects!r}: need 1 <= lo <= hi digits per scene")
    if hi > n_cells:
        raise DataError(f"objects={objects!r}: up to {hi} digits per scene do not fit in {n_cells} grid cells; "
                        f"use {bigger} or fewer objects")
    if distinct_classes and hi > N_DIGIT_CLASSES:
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
    gh, gw = grid
    n_cells = gh * gw
    k = rng.integers(lo, hi + 1, size=n)
    # Weighted sampling without replacement, all scenes at once: the top-k of log-weight plus Gumbel
    # noise is distributed exactly like k successive proportional draws (Gumbel-top-k trick).
    keys = log_w + rng.gumbel(size=(n, N_DIGIT_CLASSES))
    classes = np.argsort(-keys, axis=1, kind="stable")[:, :hi]
    cells = np.argsort(rng.random((n, n_cells)), axis=1, kind="stable")[:, :hi]
    X, src, rows, slots = _paint(pools, grid, classes, cells, k, rng)
    Y = np.zeros((n, N_DIGIT_CLASSES), dtype=np.float32)
    Y[rows, classes[rows, slots]] = 1.0
    return X, Y, src


def _paint(pools: list[np.ndarray], grid: tuple[int, int], digits: np.ndarray, cells: np.ndarray, k: np.ndarray,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw each scene's source images and paint them into its cells: scene ``i``'s first ``k[i]``
    slots show a digit of class ``digits[i, s]`` (drawn from ``pools``) in cell ``cells[i, s]``.
    Returns the images (N, 1, H, W), the source ids per slot (-1 where unused), and the used
    (row, slot) pairs."""
    images, _ = _digits()
    n, hi = digits.shape
    gh, gw = grid
    sizes = np.array([len(p) for p in pools])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    flat = np.concatenate(pools)
    pick = np.minimum((rng.random((n, hi)) * sizes[digits]).astype(np.int64), sizes[digits] - 1)
    src = flat[offsets[digits] + pick]
    used = np.arange(hi) < k[:, None]
    rows, slots = np.nonzero(used)
    canvas = np.zeros((n, gh * gw, DIGIT_SIZE, DIGIT_SIZE), dtype=np.float32)
    canvas[rows, cells[rows, slots]] = images[src[rows, slots]]
    X = canvas.reshape(n, gh, gw, DIGIT_SIZE, DIGIT_SIZE).transpose(0, 1, 3, 2, 4)
    X = X.reshape(n, 1, gh * DIGIT_SIZE, gw * DIGIT_SIZE)
    return np.ascontiguousarray(X), np.where(used, src, -1).astype(np.int64), rows, slots


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
    _check_scene_memory({f"n_{s}": n for s, n in sizes.items()}, (gh, gw))  # before allocating
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
# Many labels: "which digit in which cell"

MANY_MIN_LABELS = 20  # two cells: fewer would be one digit per scene, a single-label task


def many_label_grid(n_labels: int) -> tuple[int, int]:
    """The grid of :func:`make_many_label_scenes` for ``n_labels`` (10 labels per cell): the most
    nearly square ``(rows, cols)`` with ``rows <= cols``, e.g. 100 -> (2, 5), 1000 -> (10, 10)."""
    n_labels = _check_count(n_labels, "n_labels", "label")
    if n_labels < MANY_MIN_LABELS or n_labels % N_DIGIT_CLASSES:
        raise DataError(f"n_labels={n_labels}: give a multiple of {N_DIGIT_CLASSES} of at least {MANY_MIN_LABELS} "
                        f"(one label per digit class and grid cell), e.g. 100 or 1000")
    cells = n_labels // N_DIGIT_CLASSES
    rows = max(r for r in range(1, int(np.sqrt(cells)) + 1) if cells % r == 0)
    return rows, cells // rows


def many_label_names(n_labels: int) -> list[str]:
    """Label names of :func:`make_many_label_scenes`, most frequent first: ``"d@r,c"`` is digit ``d``
    in the cell at row ``r``, column ``c``. Which (digit, cell) gets which frequency rank is a fixed
    shuffle (seeded by ``n_labels``, not by the data seed), so ranks are spread over cells and digits."""
    rows, cols = many_label_grid(n_labels)
    pairs = np.random.default_rng(n_labels).permutation(n_labels)  # rank -> cell * 10 + digit
    return [f"{p % N_DIGIT_CLASSES}@{p // N_DIGIT_CLASSES // cols},{p // N_DIGIT_CLASSES % cols}" for p in pairs]


def _many_weights(n_labels: int, tail: float) -> tuple[np.ndarray, np.ndarray]:
    """``(W, column)``: ``W[cell, digit]`` the weight ``rank ** -tail`` of that label, and
    ``column[cell, digit]`` its column in Y (its frequency rank)."""
    pairs = np.random.default_rng(n_labels).permutation(n_labels)
    column = np.empty(n_labels, dtype=np.int64)
    column[pairs] = np.arange(n_labels)
    W = _tail_weights(tail, n_labels)[column]
    shape = (n_labels // N_DIGIT_CLASSES, N_DIGIT_CLASSES)
    return W.reshape(shape), column.reshape(shape)


def _make_many_split(n: int, pools: list[np.ndarray], grid: tuple[int, int], lo: int, hi: int, W: np.ndarray,
                     column: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` scenes: ``lo..hi`` distinct cells drawn without replacement with weights ``W.sum(1)``,
    then in each a digit drawn with weights ``W[cell]``."""
    gh, gw = grid
    n_cells, n_labels = gh * gw, W.size
    k = rng.integers(lo, hi + 1, size=n)
    cell_w = W.sum(axis=1)
    cells = np.argsort(-(np.log(cell_w) + rng.gumbel(size=(n, n_cells))), axis=1, kind="stable")[:, :hi]  # Gumbel-top-k
    digits = np.argmax(np.log(W[cells]) + rng.gumbel(size=(n, hi, N_DIGIT_CLASSES)), axis=2)  # Gumbel-max
    X, src, rows, slots = _paint(pools, grid, digits, cells, k, rng)
    Y = np.zeros((n, n_labels), dtype=np.float32)
    Y[rows, column[cells[rows, slots], digits[rows, slots]]] = 1.0
    return X, Y, src


def make_many_label_scenes(n_labels: int = 100, n_train: int = 2000, n_val: int = 500, n_test: int = 1000, *,
                           objects: int | Sequence[int] = 2, tail: float = 1.0, seed: int = 0,
                           drop_empty_labels: bool = False) -> MultiLabelData:
    """Scenes with a large label space: a label is a digit class **in a given grid cell**.

    ``n_labels`` (a multiple of 10, at least 20) sets the grid: ``n_labels / 10`` cells of 8x8
    pixels (:func:`many_label_grid`: 100 labels -> 2x5 cells, 16x40 pixels; 1,000 -> 10x10, 80x80).
    Label ``"7@1,3"`` is a 7 in row 1, column 3. A scene shows 1 to ``objects`` digits (an int, or
    a pair ``(lo, hi)``) in distinct cells, so its cardinality averages ``(lo + hi) / 2`` and the
    density that over ``n_labels``: 1.5 / 100 = 1.5 % at the defaults, 1.5 / 1000 = 0.15 %.

    Long tail: label ``j`` (columns are sorted by rank, most frequent first) has weight
    ``(j + 1) ** -tail``; a scene's cells are drawn without replacement with weights summed over
    each cell's ten labels, then each cell's digit with its labels' weights. With one digit per
    scene a label's frequency is exactly its weight over the total; with more, close to it.
    ``tail=1`` (Zipf) spans a ratio of ``n_labels`` between the most and least frequent label.

    As in :func:`make_scenes`, the source digits are split 60/20/20 into disjoint train / val / test
    pools, and each split has its own random stream. A label without a training positive is refused,
    or with ``drop_empty_labels=True`` dropped from every split and reported as the file loaders do
    (``info["dropped_labels"]``, :meth:`~helpers.data.MultiLabelData.summary`).
    """
    grid = many_label_grid(n_labels)
    n_cells = grid[0] * grid[1]
    lo, hi = _objects_range(objects, n_cells, distinct_classes=False, bigger="more labels (10 per cell)")
    W, column = _many_weights(int(n_labels), tail)
    sizes = {s: _check_count(n, f"n_{s}", "scene") for s, n in (("train", n_train), ("val", n_val), ("test", n_test))}
    _check_scene_memory({f"n_{s}": n for s, n in sizes.items()}, grid)  # before allocating (10**7 scenes: 24 GiB)
    seed = check_seed(seed)
    drop_empty_labels = _check_flag(drop_empty_labels, "drop_empty_labels")

    _, target = _digits()
    pool_rng, *split_rngs = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    pools = _split_pools(target, pool_rng)
    out: dict[str, np.ndarray] = {}
    source_ids: dict[str, np.ndarray] = {}
    for i, (s, rng) in enumerate(zip(SPLITS, split_rngs, strict=True)):
        out[f"X_{s}"], out[f"Y_{s}"], source_ids[s] = _make_many_split(
            int(sizes[s]), pools[i], grid, lo, hi, W, column, rng)

    label_names = many_label_names(n_labels)
    info = {"source": "sklearn.datasets.load_digits", "grid": grid, "objects": (lo, hi), "tail": float(tail),
            "seed": seed, "pool_fractions": POOL_FRACTIONS, "n_labels": int(n_labels),
            "labels": "digit class in a grid cell"}
    if drop_empty_labels:
        label_names, info["dropped_labels"] = _drop_empty_labels(out, label_names)
    missing = np.flatnonzero(out["Y_train"].sum(axis=0) == 0)
    if len(missing):
        shown = ", ".join(label_names[j] for j in missing[:5]) + (", ..." if len(missing) > 5 else "")
        expected = (lo + hi) / 2 * W.min() / W.sum() * sizes["train"]
        raise DataError(f"{len(missing)} of {n_labels} labels ({shown}) have no positive example among the "
                        f"{sizes['train']} training scenes (tail={tail}, objects={objects}, seed={seed}); the rarest "
                        f"label expects about {expected:.1f}. Use a larger n_train or a smaller tail, or pass "
                        f"drop_empty_labels=True to drop them")
    return MultiLabelData(name=f"many_scenes_{n_labels}", kind="image", label_names=label_names,
                          source_ids=source_ids, info=info, **out)





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
