"""Many labels (notebook 09): the ranking metrics practitioners report at hundreds of labels, the
decision rules compared there, and the numbers a run at that scale is judged by.

* :func:`precision_at_k` and :func:`ndcg_at_k` (scikit-learn's ``ndcg_score``), over the rows
  with at least one positive; :func:`ranking_scores` gives both for several ``k``.
* :func:`top_k_predictions` predicts each row's ``k`` highest-scoring labels; :func:`global_threshold`
  tunes one threshold for every label on validation (the one maximising micro-F1), next to
  :func:`helpers.metrics.tune_thresholds`' one threshold per label.
* :func:`zero_phase` counts the epochs whose validation predictions hold no positive label at 0.5,
  the all-zero phase.
* :func:`training_memory` counts the bytes a training step holds for a model (parameters, gradients,
  Adam's two moments, one batch of logits and targets); :func:`fit_setup` trains one of the notebook's
  setups (a loss, optionally the prior bias, optionally oversampling rare labels) with
  :func:`helpers.train.fit`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from helpers import losses as losses_mod
from helpers import metrics as metrics_mod
from helpers import mistakes, sampling
from helpers import models as models_mod
from helpers import train as train_mod

PRIOR = "prior_bias"  # the setup-name suffix that sets the head's bias to the training prior
OVERSAMPLE = "oversample"  # the suffix that draws rows by their rarest label (helpers.sampling)


def _rows_with_positives(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    yt, ys = np.asarray(y_true), np.asarray(y_score, dtype=np.float64)
    if yt.ndim != 2 or yt.shape != ys.shape:
        raise ValueError(f"y_true {yt.shape} and y_score {ys.shape} must both be (N, L)")
    keep = yt.sum(axis=1) > 0
    if not keep.any():
        raise ValueError("no row has a positive label: ranking metrics are undefined")
    return yt[keep], ys[keep]


def _check_k(k: int, n_labels: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_labels:
        raise ValueError(f"k={k!r}: give a whole number from 1 to the number of labels ({n_labels})")
    return int(k)


def precision_at_k(y_true, y_score, k: int) -> float:
    """Mean over the rows with a positive of (true labels among the ``k`` highest scores) / ``k``.
    Ties in score are broken by label order (a stable sort)."""
    yt, ys = _rows_with_positives(y_true, y_score)
    k = _check_k(k, yt.shape[1])
    top = np.argsort(-ys, axis=1, kind="stable")[:, :k]
    return float(np.take_along_axis(yt, top, axis=1).sum(axis=1).mean() / k)


def ndcg_at_k(y_true, y_score, k: int) -> float:
    """scikit-learn's ``ndcg_score(..., k=k)`` over the rows with a positive (rows without one have no
    ideal ranking)."""
    from sklearn.metrics import ndcg_score

    yt, ys = _rows_with_positives(y_true, y_score)
    return float(ndcg_score(yt, ys, k=_check_k(k, yt.shape[1])))


def ranking_scores(y_true, y_score, ks=(1, 3, 5)) -> dict[str, float]:
    """``{"P@1": ..., "nDCG@1": ..., "P@3": ...}`` for each ``k`` in ``ks``."""
    out = {}
    for k in ks:
        out[f"P@{k}"] = precision_at_k(y_true, y_score, k)
        out[f"nDCG@{k}"] = ndcg_at_k(y_true, y_score, k)
    return out


def top_k_predictions(y_score, k: int) -> np.ndarray:
    """0/1 predictions with exactly the ``k`` highest-scoring labels of each row set to 1."""
    ys = np.asarray(y_score, dtype=np.float64)
    k = _check_k(k, ys.shape[1])
    pred = np.zeros(ys.shape, dtype=np.float64)
    np.put_along_axis(pred, np.argsort(-ys, axis=1, kind="stable")[:, :k], 1.0, axis=1)
    return pred


def global_threshold(y_val, p_val, grid=None) -> float:
    """The one threshold, shared by every label, that maximises micro-F1 on validation (the grid and
    tie rule of :func:`helpers.metrics.tune_thresholds`, applied to all label cells at once)."""
    yt, yp = np.asarray(y_val), np.asarray(p_val)
    return float(metrics_mod.tune_thresholds(yt.reshape(-1, 1), yp.reshape(-1, 1), grid)[0])


def zero_phase(history: pd.DataFrame) -> int:
    """How many epochs predicted no positive label on validation at 0.5 (``val_pred_pos_rate == 0``).

    Counted over the whole run, not only from the first epoch: with the default bias every label
    starts at probability 0.5, so the phase can begin after an epoch that still predicts some labels.
    Equal to ``len(history)`` when no epoch predicted anything."""
    return int((history["val_pred_pos_rate"].to_numpy() == 0).sum())


def training_memory(model: nn.Module, batch_size: int, n_labels: int) -> dict[str, int]:
    """Bytes a float32 Adam training step holds besides the activations: the parameters, their
    gradients, Adam's two moment buffers, and one batch of logits and targets. Counted from the
    tensors' sizes (on CUDA, ``torch.cuda.max_memory_allocated`` measures the whole step)."""
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    batch = 2 * batch_size * n_labels * 4
    return {"parameters": params, "gradients": params, "adam_moments": 2 * params, "logits_and_targets": batch,
            "total": 4 * params + batch}


def _split(name: str) -> tuple[str, set[str]]:
    rest, found = name, set()
    for _ in range(2):
        for suffix in (PRIOR, OVERSAMPLE):
            if rest.endswith(f"+{suffix}") and suffix not in found:
                found.add(suffix)
                rest = rest[: -len(suffix) - 1]
    losses_mod.parse_setup(rest)  # a clear ValueError for a misspelt setup
    return rest, found


def parse(name: str) -> tuple[str, bool]:
    """``"bce_with_logits+neg_over_pos+prior_bias"`` -> (``"bce_with_logits+neg_over_pos"``, True). A
    ``+oversample`` suffix (before or after ``+prior_bias``) is left out of the base; :func:`oversampled`
    reads it."""
    base, found = _split(name)
    return base, PRIOR in found


def oversampled(name: str) -> bool:
    """Whether the setup ``name`` ends in ``+oversample`` (with or without ``+prior_bias``): its training
    rows are drawn with :func:`helpers.sampling.sampler`."""
    return OVERSAMPLE in _split(name)[1]


def fit_setup(data, name: str, **fit_kw) -> train_mod.TrainResult:
    """Build the book's model for ``data`` (weights from ``fit_kw["seed"]``) and train the setup
    ``name`` with :func:`helpers.train.fit`: a loss registry name, ``+strategy`` for ``pos_weight``,
    ``+prior_bias`` to set the head's bias to ``log(p / (1 - p))`` of the training frequencies first,
    ``+oversample`` to draw each epoch's rows with ``WeightedRandomSampler`` at the weight of each
    row's rarest label (:func:`helpers.sampling.sampler`, seeded with ``fit_kw["seed"]``)."""
    base, prior = parse(name)
    loss_name, strategy = losses_mod.parse_setup(base)
    setup = losses_mod.get_loss(loss_name)
    seed = fit_kw.get("seed", 0)
    model = models_mod.build_model(data, output=setup.model_output, seed=seed)
    if prior:
        with torch.no_grad():
            mistakes.last_linear(model).bias.copy_(mistakes.prior_bias(data.Y_train))
    if oversampled(name):
        fit_kw = {**fit_kw, "sampler": sampling.sampler(data.Y_train, seed=seed)}
    return train_mod.fit(model, data, setup, pos_weight=strategy, **fit_kw)


# --------------------------------------------------------------------------------------------------
# Parameter rules of notebook 09 (see helpers.params)


def setups_rule():
    """A :mod:`helpers.params` rule: a non-empty list of distinct setup names :func:`parse` accepts."""
    from helpers import params

    def rule(name, value):
        __tracebackhide__ = True
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value) \
                or len(set(value)) != len(value):
            params.fail(name, value, "a list of distinct setup names, e.g. ['bce_with_logits', "
                                     "'bce_with_logits+prior_bias']")
        for v in value:
            try:
                parse(v)
            except ValueError as e:
                params.fail(name, value, f"{v!r} is not a setup ({e})")
    return rule


def label_counts_rule():
    """A :mod:`helpers.params` rule: a list (possibly empty) of increasing whole numbers, each a
    multiple of 10 and at least 20 (label counts of the many-label scenes)."""
    from helpers import params

    def rule(name, value):
        __tracebackhide__ = True
        ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 20 and v % 10 == 0
                                             for v in value)
        if not ok or any(b <= a for a, b in zip(value, value[1:], strict=False)):
            params.fail(name, value, "a list of increasing label counts, each a multiple of 10 and at least 20, "
                                     "e.g. [20, 100, 200], or [] to skip the sweep")
    return rule
