"""Label statistics for notebook 01: cardinality, density, IRLbl / MeanIR (Charte et al., 2015), co-occurrence and per-split tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from helpers.data.checks import _names, check_labels
from helpers.data.core import SPLITS, MultiLabelData

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
