"""Validation and test splits carved from the reader's own data: multi-label stratified (iterative-stratification), or random for comparison."""

from __future__ import annotations

import numpy as np

from helpers.data.checks import check_labels
from helpers.data.core import DataError, _check_fraction, check_seed


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




def _carve(Y: np.ndarray, fraction: float, seed: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (keep, take) row indices with about ``fraction`` of the rows taken."""
    fraction = _check_fraction(fraction, what)
    try:
        return stratified_split(Y, fraction, seed)
    except DataError as e:
        raise DataError(f"{what}={fraction}: {e}") from None



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
