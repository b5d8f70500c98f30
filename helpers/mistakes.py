"""Training-loop mistakes, one switch each: the hand-written loop that notebook 07 breaks on purpose.

:func:`helpers.train.fit` is the book's correct loop and stays closed to mistakes. :func:`train_loop`
is the same loop written out by hand (same seeds, same batch order, same Adam, same per-epoch
measurements), with a switch for each mistake readers make; with every switch at its default it
reproduces ``fit``'s history exactly (``tests/test_mistakes.py`` checks that), so a broken run and
the correct one differ only by the mistake. The switches:

* ``train_mode=False``: ``model.eval()`` left on while training (dropout off, batch norm uses and
  never updates its running statistics);
* ``zero_grad=False``: ``optimizer.zero_grad()`` forgotten, so gradients accumulate over steps;
* ``optimize="head"``: the optimizer holds only the last linear layer; ``optimize="stale"``: it
  holds parameters collected before the model was rebuilt (a copy's), so the trained model never moves;
* ``bias_init="prior"``: the fix for all-zero early predictions, the last layer's bias set to the
  training prior ``log(p / (1 - p))`` per label (:func:`prior_bias`);
* ``loss="bce"`` with ``amp=True``: ``BCELoss(sigmoid(x))`` under autocast, which PyTorch refuses;
* ``order="sorted"``: a loader that does not shuffle, over a file sorted by its labels (every epoch
  the same batches, each holding similar label sets);
* ``lr``, ``weight_decay``, ``epochs``: the optimisation settings themselves; ``stop_at=(column,
  value)`` ends a run at the first epoch whose validation ``column`` reaches ``value`` (to measure how
  long a slow setting takes to get where the correct run got).

Unnormalised inputs are made by :func:`unnormalise` (a data set, not a switch); :func:`lr_range_test`
runs the short learning-rate range test; :func:`select_epoch` picks a checkpoint by a validation
column; :func:`autocast_loss` tries one loss under autocast and returns PyTorch's own error. The
tests, evidence and preconditions of notebook 07's claims are in :mod:`helpers.loop_claims`.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from helpers import metrics as metrics_mod
from helpers import results as results_mod
from helpers import train as train_mod
from helpers.diagnose.monitor import Monitor

OPTIMIZE = ("all", "head", "stale")
BIAS_INIT = ("default", "prior")
ORDERS = ("shuffled", "sorted")
LOSSES = ("bce_with_logits", "bce")
_SELECT_MIN = ("val_loss",)
RUN_SECTIONS = ("correct", "learning_rate", "bias_init", "eval_mode", "zero_grad", "optimizer", "inputs", "weight_decay",
                "sorted_loader")
"""Notebook 07's sections that train runs (its ``runs`` parameter): the correct run, then one per mistake."""


@dataclass
class LoopResult:
    """What :func:`train_loop` returns: the model, per-epoch ``history`` and per-step ``steps``
    (``step, epoch, loss, grad_norm``), and the switches it ran with."""

    model: nn.Module
    history: pd.DataFrame
    steps: pd.DataFrame
    switches: dict
    train_seconds: float
    monitor: Monitor | None = None  # the training monitor's series (``monitor.report()``), as ``fit`` keeps one
    probs: list[dict[str, np.ndarray]] | None = None  # per epoch ``{"val": ..., "test": ...}`` (``keep_probs=True``)

    def predict_proba(self, X: np.ndarray, *, batch_size: int = 2048) -> np.ndarray:
        """Sigmoid probabilities ``(N, L)`` for inputs ``X`` (model in eval mode)."""
        dev = next(self.model.parameters()).device
        Xt = torch.as_tensor(X, dtype=torch.float32, device=dev)
        return torch.sigmoid(train_mod._outputs(self.model, Xt, batch_size)).cpu().numpy()


def last_linear(model: nn.Module) -> nn.Linear:
    """The model's last ``nn.Linear`` (its head), or a ``ValueError`` if it has none."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer: head-only training and the prior bias "
                         f"need a final linear layer")
    return linears[-1]


def prior_bias(Y_train: np.ndarray, eps: float = 1e-4) -> torch.Tensor:
    """``log(p / (1 - p))`` of each label's training frequency ``p`` (clipped to ``[eps, 1 - eps]``): the
    bias at which an untrained head predicts each label's base rate instead of 0.5."""
    Y = np.asarray(Y_train, dtype=np.float64)
    if Y.ndim != 2 or len(Y) == 0:
        raise ValueError(f"Y_train must be a non-empty (N, L) 0/1 matrix, got shape {Y.shape}")
    p = np.clip(Y.mean(axis=0), eps, 1 - eps)
    return torch.as_tensor(np.log(p / (1 - p)), dtype=torch.float32)


def label_sorted_order(Y: np.ndarray) -> np.ndarray:
    """Row order of a file sorted by its labels: by the first label column, then the second, ... (rows with
    a label together); what a loader with ``shuffle=False`` replays every epoch."""
    Y = np.asarray(Y)
    return np.lexsort(Y.T[::-1] * -1).astype(np.int64)


def unnormalise(data):
    """A copy of ``data`` with the inputs the way they came: images back to 0-255 pixels, tabular
    features back to raw units (undoing the training-split standardization the loaders apply).

    Raises ``ValueError`` for tabular data without recorded standardization statistics."""
    if data.kind == "image":
        scale = {s: getattr(data, f"X_{s}") * np.float32(255.0) for s in ("train", "val", "test")}
    else:
        st = data.info.get("standardize")
        if not st:
            raise ValueError(f"{data.name}: no standardization statistics in data.info['standardize']; "
                             f"its features are already as given")
        mean, std = np.asarray(st["mean"]), np.asarray(st["std"])
        scale = {s: (getattr(data, f"X_{s}") * std + mean).astype(np.float32) for s in ("train", "val", "test")}
    return dataclasses.replace(data, **{f"X_{s}": x for s, x in scale.items()},
                               info={**data.info, "unnormalised": True})


def _criterion(loss: str) -> nn.Module:
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is not one of {LOSSES}")
    return nn.BCEWithLogitsLoss() if loss == "bce_with_logits" else nn.BCELoss()


def _forward_loss(model, criterion, loss: str, x, y, amp_device: str | None):
    with torch.autocast(device_type=amp_device or "cpu", dtype=torch.bfloat16, enabled=amp_device is not None):
        out = model(x)
        if amp_device is not None:  # the mistake under test: the loss computed inside autocast
            return out, criterion(torch.sigmoid(out) if loss == "bce" else out, y)
    out = out.float()
    return out, criterion(torch.sigmoid(out) if loss == "bce" else out, y)


def _evaluate(model, X, Y_np, Y, criterion, loss: str, prefix: str, keep: list | None = None) -> dict:
    out = train_mod._outputs(model, X, 2048)
    p = torch.sigmoid(out)
    if keep is not None:
        keep.append(p.float().cpu().numpy())
    val_loss = float(criterion(p if loss == "bce" else out, Y))
    m = metrics_mod.epoch_scores(Y_np, p.clamp(0, 1).cpu().numpy())
    never = m["labels_f1_zero"]
    return {f"{prefix}_loss": val_loss, f"{prefix}_micro_f1": m["micro_f1"], f"{prefix}_macro_f1": m["macro_f1"],
            f"{prefix}_map": m["map"], f"{prefix}_pred_pos_rate": m["pred_pos_rate"],
            f"{prefix}_labels_f1_zero": never}


def train_loop(
    model: nn.Module,
    data,
    *,
    epochs: int = 15,
    batch_size: int = 128,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    device: str | torch.device = "auto",
    train_mode: bool = True,
    zero_grad: bool = True,
    optimize: str = "all",
    bias_init: str = "default",
    loss: str = "bce_with_logits",
    amp: bool = False,
    order: str = "shuffled",
    stop_at: tuple[str, float] | None = None,
    eval_test: bool = False,
    keep_probs: bool = False,
    max_grad_norm_steps: int | None = None,
    progress: bool = True,
    desc: str = "loop",
    monitor: bool = True,
) -> LoopResult:
    """Train ``model`` on ``data`` (a :class:`helpers.data.MultiLabelData`) with Adam, mistakes switched on
    by the keyword arguments (see the module docstring); every epoch records the training loss, the
    validation loss, micro/macro-F1, mAP, predicted-positive rate, how many labels have F1 0, and the
    mean gradient norm over the epoch's steps (the gradient the optimizer sees, accumulated or not).

    ``eval_test=True`` adds the same measurements on the test split each epoch (for model selection);
    ``keep_probs=True`` (with ``eval_test``) also keeps each epoch's validation and test probabilities in
    ``result.probs``, from which :func:`checkpoint_scores` tunes thresholds per checkpoint.
    ``monitor=True`` (the default) feeds a :class:`helpers.diagnose.Monitor` every step, as ``fit`` does, so
    ``result.monitor.report()`` shows what the book's checker sees in the broken run. The run's seconds are
    logged in :func:`helpers.results.log_fit` (the ``training`` entry of the notebook's ``metrics.json``).
    ``amp=True`` runs the forward pass *and the loss* under bf16 autocast on the model's device type;
    with ``loss="bce"`` PyTorch raises there, at the first step, with its own message.
    """
    if keep_probs and not eval_test:
        raise ValueError("keep_probs=True needs eval_test=True (it keeps the test split's probabilities too)")
    if optimize not in OPTIMIZE:
        raise ValueError(f"optimize={optimize!r} is not one of {OPTIMIZE}")
    if bias_init not in BIAS_INIT:
        raise ValueError(f"bias_init={bias_init!r} is not one of {BIAS_INIT}")
    if order not in ORDERS:
        raise ValueError(f"order={order!r} is not one of {ORDERS}")
    if epochs < 1 or batch_size < 1 or lr < 0 or weight_decay < 0:  # lr 0 is a mistake it reproduces (helpers.causes)
        raise ValueError(f"train_loop needs epochs >= 1, batch_size >= 1, lr >= 0, weight_decay >= 0; got "
                         f"{epochs}, {batch_size}, {lr}, {weight_decay}")
    criterion = _criterion(loss)
    dev = train_mod.resolve_device(device)
    train_mod.set_seed(seed)
    model = model.to(dev)
    if bias_init == "prior":
        with torch.no_grad():
            last_linear(model).bias.copy_(prior_bias(data.Y_train).to(dev))

    Xtr = torch.as_tensor(data.X_train, dtype=torch.float32, device=dev)
    Ytr = torch.as_tensor(data.Y_train, dtype=torch.float32, device=dev)
    Xva = torch.as_tensor(data.X_val, dtype=torch.float32, device=dev)
    Yva = torch.as_tensor(data.Y_val, dtype=torch.float32, device=dev)
    if eval_test:
        Xte = torch.as_tensor(data.X_test, dtype=torch.float32, device=dev)
        Yte = torch.as_tensor(data.Y_test, dtype=torch.float32, device=dev)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    if optimize == "all":
        params = list(model.parameters())
    elif optimize == "head":
        params = list(last_linear(model).parameters())
    else:  # parameters collected before the model was rebuilt: they belong to another module
        params = list(copy.deepcopy(model).parameters())
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    amp_device = dev.type if amp else None

    rows, step_rows, probs = [], [], []
    n, step = len(Xtr), 0
    sorted_order = torch.as_tensor(label_sorted_order(data.Y_train)).to(dev) if order == "sorted" else None
    mon = Monitor(data.n_labels, loss="bce") if monitor else None  # outputs are logits for both losses
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False, unit="epoch")
    t_start = time.perf_counter()
    if not train_mode:
        model.eval()  # left on, e.g. after a validation pass, and never switched back
    for epoch in bar:
        if train_mode:
            model.train()
        perm = torch.randperm(n, generator=gen).to(dev)
        if sorted_order is not None:
            perm = sorted_order  # the mistake: the same label-sorted order every epoch
        total, grad_norms = torch.zeros((), device=dev), []
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            out, batch_loss = _forward_loss(model, criterion, loss, Xtr[idx], Ytr[idx], amp_device)
            if zero_grad:
                optimizer.zero_grad(set_to_none=True)
            batch_loss.backward()
            grad_norms.append(train_mod._grad_norm(model))
            if mon is not None:  # after backward, before the next zero_grad: the gradient the optimizer sees
                mon.update(loss=batch_loss, outputs=out, targets=Ytr[idx], grad_norm=grad_norms[-1])
            optimizer.step()
            total += batch_loss.detach().float() * len(idx)
            step += 1
            step_rows.append({"step": step, "epoch": epoch + 1, "loss": float(batch_loss.detach()),
                              "grad_norm": grad_norms[-1]})
        row = {"epoch": epoch + 1, "train_loss": float(total) / n}
        row.update(_evaluate(model, Xva, data.Y_val, Yva, criterion, loss, "val", probs if keep_probs else None))
        row["grad_norm"] = float(np.mean(grad_norms))
        if eval_test:
            row.update(_evaluate(model, Xte, data.Y_test, Yte, criterion, loss, "test", probs if keep_probs else None))
        rows.append(row)
        if mon is not None:
            mon.end_epoch(val_metric=row["val_map"], val_pred_rate=row["val_pred_pos_rate"])
        bar.set_postfix(loss=f"{row['train_loss']:.3f}", val_map=f"{row['val_map']:.3f}")
        if stop_at is not None and row[stop_at[0]] >= stop_at[1]:
            break
    switches = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay, "seed": seed,
                "train_mode": train_mode, "zero_grad": zero_grad, "optimize": optimize, "bias_init": bias_init,
                "loss": loss, "amp": amp, "order": order, "stop_at": stop_at}
    seconds = time.perf_counter() - t_start
    results_mod.log_fit(desc, seconds, epochs=epochs, train_seconds=round(seconds, 3), device=str(dev), n_train=n,
                        loop="helpers.mistakes.train_loop")
    return LoopResult(model=model, history=pd.DataFrame(rows), steps=pd.DataFrame(step_rows), switches=switches,
                      train_seconds=seconds, monitor=mon,
                      probs=[{"val": probs[i], "test": probs[i + 1]} for i in range(0, len(probs), 2)] if keep_probs else None)


def lr_range_test(model: nn.Module, data, *, lr_min: float = 1e-5, lr_max: float = 1.0, steps: int = 60,
                  batch_size: int = 128, seed: int = 0, device: str | torch.device = "auto",
                  smoothing: float = 0.8, stop_factor: float = 4.0) -> pd.DataFrame:
    """The short learning-rate range test: Adam on a copy of ``model``, the learning rate raised
    geometrically from ``lr_min`` to ``lr_max`` over ``steps`` mini-batches, the training loss recorded
    at each. Stops early once the smoothed loss exceeds ``stop_factor`` x its best (diverged).

    Returns a frame with ``step, lr, loss, smoothed`` (exponential moving average, bias-corrected).
    Read it with :func:`suggest_lr`. ``model`` itself is not changed."""
    if not 0 < lr_min < lr_max or steps < 5:
        raise ValueError(f"need 0 < lr_min < lr_max and steps >= 5; got {lr_min}, {lr_max}, {steps}")
    dev = train_mod.resolve_device(device)
    train_mod.set_seed(seed)
    net = copy.deepcopy(model).to(dev).train()
    criterion = nn.BCEWithLogitsLoss()
    X = torch.as_tensor(data.X_train, dtype=torch.float32, device=dev)
    Y = torch.as_tensor(data.Y_train, dtype=torch.float32, device=dev)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    lrs = np.geomspace(lr_min, lr_max, steps)
    optimizer = torch.optim.Adam(net.parameters(), lr=float(lrs[0]))
    rows, avg, best = [], 0.0, np.inf
    perm = torch.randperm(len(X), generator=gen)
    pos = 0
    for k, lr in enumerate(lrs):
        if pos + batch_size > len(X):
            perm, pos = torch.randperm(len(X), generator=gen), 0
        idx = perm[pos:pos + batch_size].to(dev)
        pos += batch_size
        for group in optimizer.param_groups:
            group["lr"] = float(lr)
        loss = criterion(net(X[idx]), Y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
        avg = smoothing * avg + (1 - smoothing) * value
        smoothed = avg / (1 - smoothing ** (k + 1))
        rows.append({"step": k + 1, "lr": float(lr), "loss": value, "smoothed": smoothed})
        best = min(best, smoothed)
        if not np.isfinite(value) or smoothed > stop_factor * best:
            break
    return pd.DataFrame(rows)


def suggest_lr(test: pd.DataFrame) -> dict:
    """Two readings of a range test: ``steepest`` (the lr where the smoothed loss falls fastest per
    log-lr) and ``min_loss`` (the lr of the lowest smoothed loss; the usual advice is a tenth of it)."""
    if len(test) < 3:
        raise ValueError("the range test has fewer than 3 steps; give it more steps")
    s = test["smoothed"].to_numpy()
    slope = np.gradient(s, np.log(test["lr"].to_numpy()))
    i_min = int(np.argmin(s))
    i_steep = int(np.argmin(slope[: i_min + 1]))
    return {"steepest": float(test["lr"].iloc[i_steep]), "min_loss": float(test["lr"].iloc[i_min]),
            "min_loss_over_10": float(test["lr"].iloc[i_min]) / 10}


def select_epoch(history: pd.DataFrame, by: str) -> int:
    """The epoch a checkpoint rule picks: lowest ``val_loss``, or highest of another validation column
    (``val_macro_f1``, ``val_map``...); ties go to the earliest epoch."""
    if by not in history.columns:
        raise ValueError(f"history has no column {by!r}; choose one of {[c for c in history.columns if 'val' in c]}")
    col = history[by]
    i = int(col.idxmin()) if by in _SELECT_MIN else int(col.idxmax())
    return int(history.loc[i, "epoch"])


def autocast_loss(loss: str, logits: torch.Tensor, targets: torch.Tensor, *, device_type: str = "cpu",
                  dtype: torch.dtype = torch.bfloat16) -> dict:
    """Compute ``loss`` (``"bce"``: ``BCELoss(sigmoid(x))``; ``"bce_with_logits"``) per element inside
    ``torch.autocast(device_type, dtype)``, on logits cast to ``dtype`` as a linear layer under autocast
    returns them. Returns ``{"ok": True, "loss": per-element float64 array, "dtype": ...}`` or
    ``{"ok": False, "error": "<ExceptionType>: <PyTorch's own message>"}``."""
    _criterion(loss)  # checks the name
    criterion = nn.BCEWithLogitsLoss(reduction="none") if loss == "bce_with_logits" else nn.BCELoss(reduction="none")
    try:
        with torch.autocast(device_type=device_type, dtype=dtype):
            x = logits.to(device_type).to(dtype)
            out = criterion(torch.sigmoid(x) if loss == "bce" else x, targets.to(device_type))
    except RuntimeError as e:
        return {"ok": False, "error": f"{type(e).__name__}: {str(e).strip()}"}
    return {"ok": True, "loss": out.detach().double().cpu().numpy(), "dtype": str(out.dtype).replace("torch.", "")}


# --------------------------------------------------------------------------------------------------
# Reading a run's history (the claims' tests and evidence are in helpers.loop_claims)


def at_epoch(history: pd.DataFrame, column: str, epoch: int | None = None) -> float:
    """``column`` at ``epoch`` (1-based; the last epoch when ``None`` or past the end)."""
    h = history.set_index("epoch")[column]
    return float(h.iloc[-1] if epoch is None or epoch > h.index.max() else h.loc[epoch])


def first_epoch_reaching(history: pd.DataFrame, column: str, value: float) -> int | None:
    """The first epoch whose ``column`` is at least ``value``; ``None`` if no epoch reaches it."""
    hit = history.loc[history[column] >= value, "epoch"]
    return int(hit.iloc[0]) if len(hit) else None


# --------------------------------------------------------------------------------------------------
# Model selection: which checkpoint each rule picks, scored on test with thresholds tuned on validation

SELECTION_RULES = ("min val loss", "max val tuned macro-F1", "last epoch")


def _f1s(y_true: np.ndarray, pred: np.ndarray) -> dict:
    """Macro-F1 (per-label F1s' mean, 0 where a label has no positive and none predicted) and micro-F1 of
    0/1 predictions, as :func:`helpers.metrics.evaluate` computes them (scikit-learn, ``zero_division=0``)."""
    from sklearn.metrics import f1_score

    yt, yp = np.asarray(y_true).astype(np.int64), np.asarray(pred).astype(np.int64)
    return {"macro_f1": float(f1_score(yt, yp, average="macro", zero_division=0.0)),
            "micro_f1": float(f1_score(yt, yp, average="micro", zero_division=0.0))}


def checkpoint_scores(result: LoopResult, data) -> pd.DataFrame:
    """Per epoch of a run trained with ``keep_probs=True``: ``val_loss``, ``val_tuned_macro_f1`` (thresholds
    tuned on validation, scored there: what a selection rule can see), and on test ``test_tuned_macro_f1``
    (the validation-tuned thresholds), ``test_macro_f1`` and ``test_micro_f1`` at 0.5 and ``test_map``."""
    if result.probs is None:
        raise ValueError("the run kept no probabilities: train it with eval_test=True, keep_probs=True")
    rows = []
    for (_, h), pr in zip(result.history.iterrows(), result.probs, strict=True):
        thr = metrics_mod.tune_thresholds(data.Y_val, pr["val"])
        val_t = _f1s(data.Y_val, pr["val"] >= thr)
        test_t = _f1s(data.Y_test, pr["test"] >= thr)
        test_05 = metrics_mod.epoch_scores(data.Y_test, pr["test"])
        rows.append({"epoch": int(h["epoch"]), "train_loss": h["train_loss"], "val_loss": h["val_loss"],
                     "val_tuned_macro_f1": val_t["macro_f1"], "test_tuned_macro_f1": test_t["macro_f1"],
                     "test_tuned_micro_f1": test_t["micro_f1"], "test_macro_f1": test_05["macro_f1"],
                     "test_micro_f1": test_05["micro_f1"], "test_map": test_05["map"]})
    return pd.DataFrame(rows)


def select_checkpoints(scores: pd.DataFrame) -> dict[str, int]:
    """The epoch each rule of :data:`SELECTION_RULES` picks from :func:`checkpoint_scores`' table (ties: the
    earliest epoch): lowest validation loss, highest validation tuned macro-F1, the last epoch."""
    return {"min val loss": select_epoch(scores, "val_loss"),
            "max val tuned macro-F1": select_epoch(scores, "val_tuned_macro_f1"),
            "last epoch": int(scores["epoch"].iloc[-1])}


def selection_entries(scores: pd.DataFrame, picks: dict[str, int]) -> list[dict]:
    """One record entry per rule, setup ``"checkpoint: <rule>"``: on test ``macro_f1`` and ``micro_f1`` at
    0.5, ``tuned_macro_f1`` and ``tuned_micro_f1`` (thresholds tuned on validation at that checkpoint),
    ``map``, and the ``epoch`` picked."""
    s = scores.set_index("epoch")
    return [results_mod.result_entry(f"checkpoint: {rule}", {
        "macro_f1": float(s.loc[e, "test_macro_f1"]), "micro_f1": float(s.loc[e, "test_micro_f1"]),
        "tuned_macro_f1": float(s.loc[e, "test_tuned_macro_f1"]), "tuned_micro_f1": float(s.loc[e, "test_tuned_micro_f1"]),
        "map": float(s.loc[e, "test_map"])}, epoch=int(e)) for rule, e in picks.items()]


def tuned_scores(result: LoopResult, data) -> dict:
    """Test ``tuned_macro_f1`` and ``tuned_micro_f1`` at a run's last epoch, thresholds tuned on its
    validation probabilities (the run trained with ``keep_probs=True``)."""
    row = checkpoint_scores(dataclasses.replace(result, history=result.history.iloc[-1:],
                                                probs=result.probs[-1:]), data).iloc[0]
    return {"tuned_macro_f1": float(row["test_tuned_macro_f1"]), "tuned_micro_f1": float(row["test_tuned_micro_f1"])}


def overfitting_evidence(scores: pd.DataFrame, picks: dict[str, int]) -> dict:
    """What says whether a run reached the overfitting regime: the epoch of lowest validation loss, how far
    the validation loss rose after it, and how the validation tuned macro-F1 moved after that epoch."""
    s = scores.set_index("epoch")
    e = picks["min val loss"]
    return {"epochs": int(s.index.max()), "epoch_min_val_loss": e, "epoch_max_val_tuned_macro_f1":
            picks["max val tuned macro-F1"], "val_loss_min": float(s["val_loss"].min()),
            "val_loss_last": float(s["val_loss"].iloc[-1]),
            "val_tuned_macro_f1_at_min_loss": float(s.loc[e, "val_tuned_macro_f1"]),
            "val_tuned_macro_f1_max_after": float(s.loc[e:, "val_tuned_macro_f1"].max()),
            "val_tuned_macro_f1_last": float(s["val_tuned_macro_f1"].iloc[-1])}
