"""Data for the book: the multi-digit scenes, loaders for your own files, checks and label statistics.

Every notebook gets its data from :func:`load_data`, which returns a :class:`MultiLabelData`:

* ``load_data("scenes", ...)`` builds the book's default data with :func:`make_scenes`: small
  canvases of scikit-learn's bundled 8x8 handwritten digits (no download), one digit per grid
  cell, labelled with the set of digit classes present (10 labels, ``"0"`` .. ``"9"``).
* :func:`make_many_label_scenes` makes scenes with a large label space (a label is a digit in a
  given grid cell: 100 labels on 2x5 cells, 1,000 on 10x10) at low density with a long tail.
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

The package is split by concern: :mod:`~helpers.data.core` (the container, :class:`DataError`,
parameter checks), :mod:`~helpers.data.scenes`, :mod:`~helpers.data.files` (your own data and
:func:`load_data`), :mod:`~helpers.data.splits` (stratified splits), :mod:`~helpers.data.checks`
(array checks) and :mod:`~helpers.data.stats`; every public name is importable from
``helpers.data`` itself.
"""

from __future__ import annotations

from helpers.data.checks import check_features, check_labels
from helpers.data.core import (
    DIGIT_SIZE,
    N_DIGIT_CLASSES,
    POOL_FRACTIONS,
    RARE_TAIL,
    SPLITS,
    DataError,
    DataWarning,
    MultiLabelData,
    check_seed,
)
from helpers.data.files import load_csv, load_data, load_npz
from helpers.data.scenes import (
    label_rates,
    make_many_label_scenes,
    make_scenes,
    many_label_grid,
    many_label_names,
    rare_label_rate,
    shared_sources,
)
from helpers.data.splits import random_split, stratified_split
from helpers.data.stats import cooccurrence, label_stats, split_table, stats_table

__all__ = [
    "DIGIT_SIZE",
    "DataError",
    "DataWarning",
    "MultiLabelData",
    "N_DIGIT_CLASSES",
    "POOL_FRACTIONS",
    "RARE_TAIL",
    "SPLITS",
    "check_features",
    "check_labels",
    "check_seed",
    "cooccurrence",
    "label_rates",
    "label_stats",
    "load_csv",
    "load_data",
    "load_npz",
    "make_many_label_scenes",
    "make_scenes",
    "many_label_grid",
    "many_label_names",
    "random_split",
    "rare_label_rate",
    "shared_sources",
    "split_table",
    "stats_table",
    "stratified_split",
]
