"""Oversampling rare labels in multi-label data (notebook 09), and what it does to the other labels.

A multi-label row cannot be oversampled for one label alone: the frequent labels it also holds come
with it. :func:`rarest_label_weights` gives each training row the weight of the rarest label it holds
(``1 / training positives`` of that label), the usual rule for torch's
``torch.utils.data.WeightedRandomSampler``; :func:`sampler` builds that sampler, seeded, drawing as many
rows per epoch as the training split has (same number of steps as without it).
:func:`effective_frequency` says how often each label is seen under given row weights, the expected
share of drawn rows that hold it, so the frequent labels' ride-along can be read next to the rare
labels' lift.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import WeightedRandomSampler


def _labels(Y) -> np.ndarray:
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2 or len(Y) == 0:
        raise ValueError(f"Y must be a non-empty (N, L) 0/1 label matrix, got shape {Y.shape}")
    if not np.isin(Y, (0.0, 1.0)).all():
        raise ValueError("Y must hold only 0 and 1 (oversampling by label needs known labels; drop or fill the "
                         "unknown entries first)")
    return Y


def rarest_label_weights(Y) -> np.ndarray:
    """One weight per row: ``1 / n_j`` of the row's rarest label ``j`` (``n_j`` its positives in ``Y``).

    A row without any positive gets the smallest weight a labelled row can get (that of the most
    frequent label), so empty rows are drawn as often as rows holding only that label."""
    Y = _labels(Y)
    counts = Y.sum(axis=0)
    if not (counts > 0).any():
        raise ValueError("Y has no positive label at all: there is no rare label to oversample")
    inv = np.where(counts > 0, 1.0 / np.maximum(counts, 1.0), 0.0)
    w = (Y * inv).max(axis=1)
    return np.where(w > 0, w, inv[counts > 0].min())


def sampler(Y, seed: int = 0, num_samples: int | None = None) -> WeightedRandomSampler:
    """``WeightedRandomSampler`` over the rows of ``Y`` with :func:`rarest_label_weights`, drawing with
    replacement ``num_samples`` rows per epoch (default: as many as ``Y`` has), from its own generator
    seeded with ``seed``."""
    w = rarest_label_weights(Y)
    return WeightedRandomSampler(torch.as_tensor(w, dtype=torch.double), num_samples or len(w), replacement=True,
                                 generator=torch.Generator().manual_seed(seed))


def effective_frequency(Y, weights=None) -> np.ndarray:
    """Per label, the expected share of drawn rows that hold it when rows are drawn with probability
    proportional to ``weights`` (``None``: uniformly, i.e. the plain training frequency)."""
    Y = _labels(Y)
    w = np.ones(len(Y)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(Y),) or (w < 0).any() or not w.sum() > 0:
        raise ValueError(f"weights must be {len(Y)} non-negative numbers with a positive sum, got shape {w.shape}")
    return (w @ Y) / w.sum()
