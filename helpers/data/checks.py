"""Checks of label and feature arrays on the way in: each problem is a :class:`DataError` naming what is wrong, where, and how to fix it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from helpers.data.core import DataError

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


DROP_OPTION = "drop_empty_labels=True"  # the loaders' option that drops labels without a training positive


def _empty_labels(Y_train: np.ndarray, Y_before: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Labels with no positive in ``Y_train``, as two index arrays: those with none in ``Y_before``
    either (the rows the file gives for training; ``Y_train`` itself when nothing was carved), and
    those whose positives all went to the rows carved out of ``Y_before`` (validation, or test)."""
    empty = np.asarray(Y_train).sum(axis=0) == 0
    had = (np.asarray(Y_before).sum(axis=0) > 0) if Y_before is not None else np.zeros_like(empty)
    return np.flatnonzero(empty & ~had), np.flatnonzero(empty & had)


def _check_train_positives(Y_train: np.ndarray, label_names: Sequence[str], *, Y_before: np.ndarray | None = None,
                           carved: str = "", rows: str = "training rows", retry: str = "another seed or a smaller "
                           "val_fraction") -> None:
    """Refuse labels with no positive in the training split, saying which case each is in.

    ``Y_before`` holds the rows the validation (or test) rows were ``carved`` from (a phrase such as
    ``"the validation rows carved from train (val_fraction=0.2, seed=0)"``); a label with no positive
    there (``rows`` names them) cannot be rescued by ``retry``, one whose positives went to the carved
    rows can. Both messages name the option that drops such labels instead."""
    none, lost = _empty_labels(Y_train, Y_before)
    if not len(none) and not len(lost):
        return
    parts = []
    if len(none):
        names = ", ".join(repr(label_names[j]) for j in none)
        n_rows = len(Y_before) if Y_before is not None else len(Y_train)
        parts.append(f"label(s) {names} have no positive example in the training split: none in the file's "
                     f"{n_rows} {rows}, so no seed or split fraction can give them one")
    if len(lost):
        names = ", ".join(f"{label_names[j]!r} ({int(np.asarray(Y_before)[:, j].sum())} positive(s))" for j in lost)
        parts.append(f"label(s) {names} have no positive example in the training split: all their positives "
                     f"went to {carved}; try {retry}")
    raise DataError(f"{'; and '.join(parts)}. A model cannot learn a label without a training positive. Drop "
                    f"those label columns, or pass {DROP_OPTION} to drop them on loading (the data summary "
                    f"lists what was dropped)")


def _drop_empty_labels(arrays: dict[str, np.ndarray], label_names: list[str], *,
                       Y_before: np.ndarray | None = None) -> tuple[list[str], dict[str, Any]]:
    """Remove the label columns with no training positive from every split's ``Y`` (in place in
    ``arrays``); return the names kept and a record of what was dropped and why."""
    none, lost = _empty_labels(arrays["Y_train"], Y_before)
    drop = np.union1d(none, lost).astype(np.int64)
    keep = np.setdiff1d(np.arange(len(label_names)), drop)
    for key in [k for k in arrays if k.startswith("Y_")]:
        arrays[key] = np.asarray(arrays[key])[:, keep]
    record = {"count": int(len(drop)), "names": [label_names[j] for j in drop],
              "no_positive_in_file": [label_names[j] for j in none],
              "positives_all_carved_out": [label_names[j] for j in lost]}
    return [label_names[j] for j in keep], record


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
