"""The recipe's network on the real MULAN benchmarks, beside scikit-learn learners (notebook 11, issue 18 §4).

* :func:`data_path` / :func:`load`: a benchmark of the shared folder (``../shared/data/multilabel``) on its
  standard MULAN train/test split, the validation split carved from train by multi-label stratification,
  labels without a training positive dropped (``drop_empty_labels=True``; the summary says which).
* :func:`recipe_network`: the book's MLP ending in logits, ``BCEWithLogitsLoss``, the last bias at the
  training prior ``log(p / (1 - p))`` (``prior_bias=False`` keeps PyTorch's default init), Adam.
* :func:`scores`: how every learner is scored here. Micro-F1 and Hamming loss each with **one** threshold
  chosen on validation for that metric (:func:`helpers.baselines.scores_with_thresholds`, the same for the
  network and the learners); macro-F1 with per-label thresholds tuned on validation
  (:func:`helpers.metrics.tune_thresholds`); mAP, which needs none; and all of them at 0.5.
* :func:`best_sklearn`: per metric, the best of the same-run learners **on test** (the strictest reading of
  "the best learner": chosen after seeing test, which only favours the learners).
* :func:`recipe_claims`: the tests and evidence of notebook 11's claims.
* :func:`goal_met`: the goal over seeds. The comparisons are judged by :mod:`helpers.recipe` (sets
  ``real_benchmarks`` and ``real_benchmarks_prior``, as sweeps/real_benchmarks.yaml declared them): per data
  set, the network minus the best learner in micro-F1 and in Hamming loss, paired per seed, Holm across
  those 10 comparisons. SESOI: 0.01 in micro-F1; in Hamming loss 0.01 times the data set's training label
  density (:func:`hamming_sesoi`: about what a 0.01 change in micro-F1 moves the Hamming loss by, since
  errors per label cell scale with the density). The goal is met where the network is non-inferior.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from helpers import baselines, metrics, models, param_sweep, train
from helpers.data import DataError, DataWarning, load_data

DATASETS = ("yeast", "scene", "emotions", "medical", "genbase")  # notebook 11's default
MANY_LABEL = ("medical", "enron", "genbase", "bibtex", "corel5k", "delicious", "tmc2007-500")
NETWORK, DEFAULT_INIT, BEST = "network", "network_default_init", "best_sklearn"
GOAL_METRICS = ("micro_f1", "hamming_loss")
MICRO_F1_SESOI = 0.01


def data_path(name: str, folder: str | Path | None = None) -> Path:
    """The ``.npz`` of benchmark ``name`` in the shared data folder, or a one-line :class:`DataError`."""
    files = {p.stem: p for p in param_sweep.data_files(Path(folder) if folder else None)}
    if name not in files:
        where = folder or "../shared/data/multilabel (beside the repository)"
        raise DataError(f"benchmark {name!r} is not in {where}: it holds {sorted(files) or 'no .npz file'}; "
                        f"pick names from that list")
    return files[name]


def load(name: str, seed: int = 0, folder: str | Path | None = None):
    """Benchmark ``name`` on MULAN's split; validation carved from train (stratified, ``seed``); labels
    without a training positive dropped and reported in ``d.summary()``. The loader's warnings (labels
    without validation or test positives) are returned with it, as ``(data, [message, ...])``, for the
    notebook to print rather than send to stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        d = load_data(str(data_path(name, folder)), seed=seed, drop_empty_labels=True)
    return d, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def head(model: torch.nn.Module) -> torch.nn.Linear:
    """The last linear layer of a model (the one producing the logits)."""
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if not linear:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer to set a bias on")
    return linear[-1]


def prior_logits(Y_train: np.ndarray, eps: float = 1e-4) -> torch.Tensor:
    """``log(p / (1 - p))`` of each label's training frequency (clipped to ``[eps, 1 - eps]``)."""
    p = np.clip(np.asarray(Y_train, dtype=np.float64).mean(axis=0), eps, 1 - eps)
    return torch.as_tensor(np.log(p / (1 - p)), dtype=torch.float32)


def recipe_model(d, *, seed: int = 0, prior_bias: bool = True) -> torch.nn.Module:
    """The book's MLP for ``d`` (logits), its last bias at the training prior unless ``prior_bias=False``."""
    model = models.build_model(d, seed=seed)
    if prior_bias:
        with torch.no_grad():
            head(model).bias.copy_(prior_logits(d.Y_train))
    return model


def recipe_network(d, *, seed: int = 0, epochs: int = 20, lr: float = 3e-3, batch_size: int = 64,
                   prior_bias: bool = True, device: str = "cpu") -> train.TrainResult:
    """Train :func:`recipe_model` with ``BCEWithLogitsLoss`` and Adam (no ``pos_weight``)."""
    model = recipe_model(d, seed=seed, prior_bias=prior_bias)
    return train.fit(model, d, "bce_with_logits", epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                     device=device, progress=False)


def scores(y_val: np.ndarray, p_val: np.ndarray, y_test: np.ndarray, p_test: np.ndarray) -> dict[str, dict[str, float]]:
    """Test scores of one learner: ``{"tuned": {...}, "0.5": {...}}`` with ``micro_f1``, ``hamming_loss``,
    ``macro_f1`` and ``map``. Tuned: micro-F1 and Hamming loss each at its own global threshold chosen on
    validation, macro-F1 at per-label thresholds tuned on validation."""
    glob = baselines.scores_with_thresholds(y_val, p_val, y_test, p_test)
    per_label = metrics.tune_thresholds(y_val, p_val)
    tuned = metrics.evaluate(y_test, p_test, threshold=per_label)
    half = metrics.evaluate(y_test, p_test)
    return {"tuned": {"micro_f1": glob["micro_f1"], "hamming_loss": glob["hamming_loss"], "macro_f1": tuned["macro_f1"],
                      "map": half["map"], "micro_f1_threshold": glob["micro_f1_threshold"],
                      "hamming_loss_threshold": glob["hamming_loss_threshold"]},
            "0.5": {"micro_f1": half["micro_f1"], "hamming_loss": half["hamming_loss"], "macro_f1": half["macro_f1"],
                    "map": half["map"]}}


def best_sklearn(rows: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    """Per metric, the best test value among the learners' ``rows`` (name -> metrics) and which learner it
    was: highest micro-F1, macro-F1 and mAP, lowest Hamming loss."""
    out: dict[str, Any] = {}
    for m in ("micro_f1", "hamming_loss", "macro_f1", "map"):
        values = {k: v[m] for k, v in rows.items() if v.get(m) is not None}
        pick = min(values, key=values.get) if m == "hamming_loss" else max(values, key=values.get)
        out[m], out[f"{m}_learner"] = values[pick], pick
    return out


def hamming_sesoi(density: float) -> float:
    """The smallest Hamming-loss difference of interest on a data set of label ``density``: 0.01 x density."""
    return MICRO_F1_SESOI * float(density)


def goal_met(judged: pd.DataFrame) -> pd.Series:
    """Per row of the goal's judged comparisons (``helpers.recipe.judge_set`` of set ``"real_benchmarks"``: the
    network minus the best learner, Holm-corrected), whether the network is non-inferior there: the interval's
    lower end above ``-sesoi`` in micro-F1 (higher is better), its upper end below ``sesoi`` in Hamming loss
    (lower is better)."""
    lower_is_better = judged["view"].str.startswith("Hamming")
    return pd.Series(np.where(lower_is_better, judged["high"] < judged["sesoi"], judged["low"] > -judged["sesoi"]),
                     index=judged.index, name="goal met")


def recipe_claims(checks: Mapping[str, Any], tuned: pd.DataFrame, sets: Mapping[str, Any]) -> dict:
    """Notebook 11's claims, each one short ``ledger.claim(id, text, **claims[id])``: their tests and evidence.

    ``checks``: the :func:`helpers.diagnose.check_setup` report of each data set; ``tuned``: the tuned test
    scores indexed by ``(data, setup)``; ``sets``: the data sets by name. A constant score's mAP is the mean
    test frequency of the labels that have a test positive."""
    chance = {n: float(d.Y_test.mean(0)[d.Y_test.sum(0) > 0].mean()) for n, d in sets.items()}
    return {
        "check_setup_clean_on_every_benchmark": dict(
            holds=all(c.ok for c in checks.values()), evidence={n: ", ".join(c.codes) or "none" for n, c in checks.items()}),
        "network_learns_every_benchmark": dict(
            holds=all(tuned.loc[(n, NETWORK), "map"] > chance[n] for n in sets),
            evidence={n: {"map": tuned.loc[(n, NETWORK), "map"], "constant": chance[n]} for n in sets}),
    }
