"""Bring your own data: ``.npz`` and ``.csv`` loaders (no unpickling), and :func:`load_data`, the notebooks' one entry point."""

from __future__ import annotations

import inspect
import os
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.data.checks import (
    _check_split_shapes,
    _check_train_negatives,
    _check_train_positives,
    _drop_empty_labels,
    _first_index,
    _names,
    check_features,
    check_labels,
)
from helpers.data.core import (
    SPLITS,
    DataError,
    DataWarning,
    MultiLabelData,
    _check_flag,
    _check_fraction,
    _check_real,
    check_seed,
)
from helpers.data.scenes import make_scenes
from helpers.data.splits import _carve, _file_split
from helpers.results import display_path, repo_root

# --------------------------------------------------------------------------------------------------
# Your own data


def _warn_eval_positives(name: str, arrays: dict[str, np.ndarray], label_names: Sequence[str]) -> list[str]:
    """Warn, naming them, about labels with no positive in the validation or test split: their F1 is 0
    whatever a model predicts, so a perfect predictor's macro-F1 falls to (L - k) / L, and their AP
    and tuned threshold are undefined. Returns the names of the labels without test positives."""
    without_test: list[str] = []
    for s in ("val", "test"):
        zero = np.flatnonzero(np.asarray(arrays[f"Y_{s}"]).sum(axis=0) == 0)
        if not len(zero):
            continue
        names = [label_names[j] for j in zero]
        if s == "test":
            without_test = names
        L = len(label_names)
        effect = (f"their F1 on test is 0 whatever the model predicts (a perfect predictor's macro-F1 would be "
                  f"{(L - len(zero)) / L:.3f}, not 1) and their AP is undefined" if s == "test" else
                  "their decision thresholds cannot be tuned on validation and their validation F1 is 0")
        shown = ", ".join(repr(n) for n in names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        warnings.warn(f"{name}: {len(zero)} of {L} label(s) have no positive example in the {s} split "
                      f"({shown}): {effect}. Drop those label columns, or re-split the file so that every split "
                      f"holds positives of every label", DataWarning, stacklevel=4)
    return without_test


def _assemble(name: str, arrays: dict[str, np.ndarray], *, label_names: Any, feature_names: Any,
              val_fraction: float, seed: int, info: dict[str, Any], drop_empty_labels: bool = False,
              carved_from: dict[str, Any] | None = None) -> MultiLabelData:
    """Check split arrays, carve val if absent, standardize tabular features, build the container.

    Labels left without a training positive are refused, or dropped from every split with
    ``drop_empty_labels`` (recorded in ``info["dropped_labels"]``). ``carved_from`` describes rows
    carved before this call (a CSV's val and test): ``Y`` (the rows they came from) and the words
    for the message (``carved``, ``rows``, ``retry``; see :func:`_check_train_positives`)."""
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
        carved_from = {"Y": Y, "carved": f"the validation rows carved from train (val_fraction={val_fraction}, "
                                         f"seed={seed})"}
    before = dict(carved_from or {})
    Y_before = before.pop("Y", None)
    if drop_empty_labels:
        label_names, info["dropped_labels"] = _drop_empty_labels(arrays, label_names, Y_before=Y_before)
        if len(label_names) < 2:
            raise DataError(f"drop_empty_labels=True dropped {info['dropped_labels']['count']} label(s) without a "
                            f"training positive and left {len(label_names)}; a multi-label data set needs at "
                            f"least two labels with training positives")
    else:
        _check_train_positives(arrays["Y_train"], label_names, Y_before=Y_before, **before)
    _check_train_negatives(arrays["Y_train"], label_names)
    info["labels_without_test_positives"] = _warn_eval_positives(name, arrays, label_names)

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


def load_npz(path: str | os.PathLike, *, val_fraction: float = 0.2, seed: int = 0,
             drop_empty_labels: bool = False) -> MultiLabelData:
    """Load a ``.npz`` with ``X_train, Y_train, X_test, Y_test`` and optionally ``X_val, Y_val``,
    ``label_names``, ``feature_names`` (string arrays) and a 0-d string ``source``.

    A label with no positive in the training split (none in the file's ``Y_train``, or none left
    once the validation rows are carved out) is refused with a :class:`DataError` saying which;
    ``drop_empty_labels=True`` drops such labels from every split instead, and
    ``data.info["dropped_labels"]`` and :meth:`MultiLabelData.summary` report them.

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
    drop_empty_labels = _check_flag(drop_empty_labels, "drop_empty_labels")
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
                     feature_names=loaded.get("feature_names"), val_fraction=val_fraction, seed=seed, info=info,
                     drop_empty_labels=drop_empty_labels)




def load_csv(path: str | os.PathLike, *, label_columns: str | Sequence[str] = "label_", split_column: str | None = None,
             val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0,
             drop_empty_labels: bool = False) -> MultiLabelData:
    """Load a tabular ``.csv``: one row per example, 0/1 label columns, numeric feature columns.

    ``label_columns`` is a list of column names or a prefix (default ``"label_"``; the prefix is
    stripped from the label names). Every other column is a feature and must be numeric, except
    the split column with values ``train`` / ``val`` / ``test`` (without ``val`` rows,
    ``val_fraction`` of train becomes val): ``split_column`` names it, and must then exist; by
    default a column named ``split`` is used when there is one. Without that column, a seeded stratified split
    (:func:`stratified_split`) puts ``test_fraction`` and ``val_fraction`` of the rows in test and val. Features are standardized
    with the training split's statistics. ``drop_empty_labels`` as in :func:`load_npz`.
    """
    path = Path(path)
    shown = display_path(path)
    seed = check_seed(seed)
    val_fraction = _check_fraction(val_fraction, "val_fraction")
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    drop_empty_labels = _check_flag(drop_empty_labels, "drop_empty_labels")
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

    if split_column is not None and (not isinstance(split_column, str) or split_column not in columns):
        raise DataError(f"{shown}: split_column={split_column!r} is not a column of the file; columns are {columns}. "
                        f"Name the column holding train / val / test, or leave split_column unset for a seeded "
                        f"stratified split")
    if isinstance(label_columns, str):
        labels = [c for c in columns if c.startswith(label_columns)]
        if not labels:
            raise DataError(f"{shown}: no column starts with the label prefix {label_columns!r}; columns are "
                            f"{columns}. Pass label_columns=[...] or a different prefix")
        label_names = [c[len(label_columns):] or c for c in labels]
    elif not isinstance(label_columns, Sequence | np.ndarray | pd.Index):
        raise DataError(f"label_columns={label_columns!r}: give a prefix of the label columns' names (e.g. "
                        f"'label_') or a list of column names")
    else:
        labels = [str(c) for c in label_columns]
        absent = [c for c in labels if c not in columns]
        if absent:
            raise DataError(f"{shown}: label column(s) {absent} not found; columns are {columns}")
        label_names = labels
    if len(labels) < 2:
        how = (f"the prefix {label_columns!r} matches only {labels}" if isinstance(label_columns, str)
               else f"label_columns={label_columns!r} names one column")
        raise DataError(f"{shown}: {how}; a multi-label data set needs at least two label columns. "
                        f"label_columns is a prefix (e.g. 'label_') or a list of at least two column names")
    if split_column is None and "split" in columns:
        split_column = "split"
    has_split = split_column is not None
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
        carved_from = None
    else:
        idx = _file_split(Y, val_fraction, test_fraction, seed, shown)
        info["split"] = {"val_fraction": val_fraction, "test_fraction": test_fraction, "seed": seed,
                         "stratified": True}
        carved_from = {"Y": Y, "rows": "rows", "retry": "another seed or a smaller val_fraction or test_fraction",
                       "carved": f"the validation and test rows carved from the file (val_fraction={val_fraction}, "
                                 f"test_fraction={test_fraction}, seed={seed})"}
    arrays = {f"{v}_{s}": a[idx[s]] for s in SPLITS if len(idx.get(s, ())) for v, a in (("X", X), ("Y", Y))}
    return _assemble(path.stem, arrays, label_names=label_names, feature_names=features,
                     val_fraction=val_fraction, seed=seed, info=info, drop_empty_labels=drop_empty_labels,
                     carved_from=carved_from)


_FILE_KWARGS = {"val_fraction", "test_fraction", "label_columns", "split_column", "drop_empty_labels"}


def load_data(data: str | os.PathLike | MultiLabelData = "scenes", *, seed: int = 0, **kwargs: Any) -> MultiLabelData:
    """The notebooks' one entry point: ``"scenes"`` or a path to a ``.npz`` / ``.csv`` file.

    ``"scenes"`` -> ``make_scenes(seed=seed, **kwargs)``. A path is tried as given (relative to the
    working directory), then relative to the repository root. Notebooks always pass their scene
    parameters (``n_train``, ``grid``, ``objects``, ``tail``...), so for a file those are accepted
    and ignored; file options (``val_fraction``, ``test_fraction``, ``label_columns``,
    ``split_column``, ``drop_empty_labels``) go to the file loader and are ignored for scenes. ``seed`` seeds the scenes,
    or the stratified validation / test split of a file that has none.
    """
    if isinstance(data, MultiLabelData):
        return data
    if not isinstance(data, str | os.PathLike) or not str(data).strip():
        what = "empty" if isinstance(data, str) else type(data).__name__
        raise DataError(f"data={data!r} is {what}: give 'scenes' or the path of a .npz or .csv file")
    seed = check_seed(seed)
    for what in ("val_fraction", "test_fraction"):  # checked for scenes too, which ignore them
        if what in kwargs:
            kwargs[what] = _check_fraction(kwargs[what], what)
    if "drop_empty_labels" in kwargs:
        kwargs["drop_empty_labels"] = _check_flag(kwargs["drop_empty_labels"], "drop_empty_labels")
    if str(data) == "scenes":
        if "tail" in kwargs:
            kwargs["tail"] = _check_real(kwargs["tail"], "tail", " >= 0, the long-tail exponent (0 = balanced), e.g. tail=3.3")
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
