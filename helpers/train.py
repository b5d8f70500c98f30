"""Training: one loop for every setup the book compares, on CPU or CUDA with the same code path.

Design choices, each measured or required by the book:

* ``device="auto"`` picks CUDA when present, else the CPU; nothing else in the loop differs.
* The whole data set lives in memory, so it is moved to the device once and sliced per batch
  (no per-sample ``DataLoader`` collation; ``python -m helpers.bench`` measures the difference).
* Seeds are fixed and deterministic algorithms are requested, so a run repeats exactly on the
  same machine; across CPUs, float results differ in the last bits and the book's claims carry
  margins for that.
* Every epoch records train loss, validation loss and metrics, the predicted-positive rate and
  the gradient norm: the numbers that tell a stuck run from a healthy one.
"""

from __future__ import annotations

import functools
import os
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from helpers import losses as losses_mod
from helpers import metrics as metrics_mod
from helpers import results as results_mod
from helpers.diagnose import Monitor, Report


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA if available, else CPU; anything else is checked and returned."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available here; use device='auto'")
    return dev


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) and ask torch for deterministic kernels."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed for deterministic cuBLAS
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- seeds the legacy global RNG that user code may still use
    torch.manual_seed(seed)
    # = torch.use_deterministic_algorithms(True, warn_only=True), whose first call also imports
    # torch._inductor and torch._dynamo (2.5 s on the book's CPU) to set inductor's flag; the book
    # never compiles, so it sets the same kernel flag without that import.
    torch.set_deterministic_debug_mode("warn")
    torch.backends.cudnn.benchmark = False
    # Sigmoid outputs near 0 or 1 produce denormal floats in backward passes (MSE and focal losses);
    # on x86 CPUs those run 10x slower (measured: MSE 20.8 s vs 2.0 s for one 15-epoch fit).
    torch.set_flush_denormal(True)


@dataclass
class TrainResult:
    """What :func:`fit` returns: the trained model and everything measured on the way."""

    model: nn.Module
    loss: losses_mod.LossSetup
    setup: str
    history: pd.DataFrame
    device: str
    train_seconds: float
    epoch_seconds: float
    pos_weight: torch.Tensor | None = None
    params: dict = field(default_factory=dict)
    monitor: Report | None = None  # the training monitor's findings (None when fit(..., monitor=False))

    def predict_proba(self, X: np.ndarray, *, batch_size: int = 2048) -> np.ndarray:
        """Per-label probabilities for ``X`` (as this setup's user would compute them)."""
        return predict_proba(self, X, batch_size=batch_size)


def _grad_norm(model: nn.Module) -> float:
    norms = [p.grad.detach().norm() for p in model.parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack(norms))) if norms else 0.0


@torch.no_grad()
def _outputs(model: nn.Module, X: torch.Tensor, batch_size: int) -> torch.Tensor:
    was_training = model.training
    model.eval()
    out = torch.cat([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])
    model.train(was_training)
    return out.float()


def predict_proba(result: TrainResult, X: np.ndarray | torch.Tensor, *, batch_size: int = 2048) -> np.ndarray:
    """Probabilities ``(N, L)`` from a trained :class:`TrainResult` for inputs ``X``."""
    dev = next(result.model.parameters()).device
    Xt = torch.as_tensor(X, dtype=torch.float32, device=dev)
    return result.loss.probabilities(_outputs(result.model, Xt, batch_size)).clamp(0, 1).cpu().numpy()


def _resolve_pos_weight(pos_weight, Y_train: np.ndarray) -> tuple[torch.Tensor | None, str]:
    if pos_weight is None or (isinstance(pos_weight, str) and pos_weight == "none"):
        return None, "none"
    if isinstance(pos_weight, str):
        return losses_mod.compute_pos_weight(Y_train, pos_weight), pos_weight
    return torch.as_tensor(pos_weight, dtype=torch.float32), "custom"


def _logged(fit_fn):
    """Log every call of ``fit`` (setup, seconds, epochs, device; the error's type if it raised)
    in :func:`helpers.results.log_fit`, so the notebook's ``metrics.json`` shows its training time."""

    @functools.wraps(fit_fn)
    def logged_fit(model, data, loss="bce_with_logits", **kw):
        t0 = time.perf_counter()
        try:
            result = fit_fn(model, data, loss, **kw)
        except Exception as e:
            name = loss if isinstance(loss, str) else getattr(loss, "name", type(loss).__name__)
            results_mod.log_fit(str(name), time.perf_counter() - t0, epochs=0, error=type(e).__name__)
            raise
        results_mod.log_fit(result.setup, time.perf_counter() - t0, epochs=len(result.history),
                            train_seconds=round(result.train_seconds, 3), device=result.device,
                            n_train=len(data.X_train))
        return result

    return logged_fit


@_logged
def fit(
    model: nn.Module,
    data,
    loss: str | losses_mod.LossSetup = "bce_with_logits",
    *,
    pos_weight: str | torch.Tensor | np.ndarray | None = None,
    epochs: int = 15,
    batch_size: int = 128,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = True,
    amp: bool = False,
    monitor: bool = True,
    sampler: Iterable[int] | None = None,
) -> TrainResult:
    """Train ``model`` on ``data`` (a :class:`helpers.data.MultiLabelData`) with a loss setup.

    ``loss`` is a :mod:`helpers.losses` registry name or setup; ``pos_weight`` a strategy name
    (computed from the training split only), a tensor, or ``None``. Adam with ``lr``; batches are
    slices of tensors pre-staged on the device; ``amp=True`` uses bf16 autocast on CUDA (ignored,
    with the device recorded, on CPU). Setups that raise (``cross_entropy_long``,
    ``bce_on_logits``) raise PyTorch's own error at the first step. ``monitor=True`` watches the run
    with :class:`helpers.diagnose.Monitor` (a few tiny tensor ops per batch) and stores its report
    in ``result.monitor``. ``sampler`` (e.g. a ``torch.utils.data.WeightedRandomSampler``) gives each
    epoch's training-row indices instead of a shuffle of every row (see :mod:`helpers.sampling`).
    """
    setup = losses_mod.get_loss(loss) if isinstance(loss, str) else loss
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"fit needs epochs >= 1, batch_size >= 1 and lr > 0; got {epochs}, {batch_size}, {lr}")
    dev = resolve_device(device)
    set_seed(seed)
    pw, strategy = _resolve_pos_weight(pos_weight, data.Y_train)
    criterion = setup.criterion(pos_weight=pw.to(dev) if pw is not None else None).to(dev)
    model = model.to(dev)

    # Pre-stage every split on the device once; batches are index slices from here on.
    Xtr = torch.as_tensor(data.X_train, dtype=torch.float32, device=dev)
    Ytr = torch.as_tensor(data.Y_train, dtype=torch.float32, device=dev)
    Xva = torch.as_tensor(data.X_val, dtype=torch.float32, device=dev)
    Yva = torch.as_tensor(data.Y_val, dtype=torch.float32, device=dev)
    Ytr_fed, Yva_fed = setup.targets(Ytr), setup.targets(Yva)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    use_amp = amp and dev.type == "cuda"

    rows = []
    n = len(Xtr)
    mon = _monitor_for(setup, criterion, data.Y_train, pw) if monitor else None
    name = losses_mod.setup_name(setup.name, strategy if strategy != "custom" else "none")
    bar = tqdm(range(epochs), desc=name, disable=not progress, leave=False, unit="epoch")
    t_start = time.perf_counter()
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        perm = (torch.randperm(n, generator=gen) if sampler is None
                else torch.as_tensor(list(sampler), dtype=torch.long)).to(dev)
        total, grad_norms = torch.zeros((), device=dev), []
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_amp):
                out = model(Xtr[idx])
            batch_loss = criterion(out.float(), Ytr_fed[idx])
            optimizer.zero_grad(set_to_none=True)
            batch_loss.backward()
            grad_norms.append(_grad_norm(model))
            if mon is not None:
                mon.update(loss=batch_loss, outputs=out, targets=Ytr[idx], probs=setup.probabilities(out.detach()),
                           grad_norm=grad_norms[-1])
            optimizer.step()
            total += batch_loss.detach() * len(idx)
        out_val = _outputs(model, Xva, 2048)
        val_loss = float(criterion(out_val, Yva_fed))
        p_val = setup.probabilities(out_val).clamp(0, 1).cpu().numpy()
        m = metrics_mod.epoch_scores(data.Y_val, p_val)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        rows.append({
            "epoch": epoch + 1, "train_loss": float(total) / len(perm), "val_loss": val_loss,
            "val_micro_f1": m["micro_f1"], "val_macro_f1": m["macro_f1"], "val_map": m["map"],
            "val_pred_pos_rate": m["pred_pos_rate"], "grad_norm": float(np.mean(grad_norms)),
            "seconds": time.perf_counter() - t0,
        })
        if mon is not None:
            mon.end_epoch(val_metric=m["map"], val_pred_rate=m["pred_pos_rate"])
        bar.set_postfix(loss=f"{rows[-1]['train_loss']:.3f}", val_map=f"{m['map']:.3f}")
    train_seconds = time.perf_counter() - t_start
    history = pd.DataFrame(rows)
    return TrainResult(
        model=model, loss=setup, setup=name, history=history, device=str(dev),
        train_seconds=train_seconds, epoch_seconds=float(history["seconds"].median()),
        pos_weight=pw, params={"epochs": epochs, "batch_size": batch_size, "lr": lr,
                               "weight_decay": weight_decay, "seed": seed, "amp": use_amp},
        monitor=mon.report() if mon is not None else None,
    )


def _monitor_for(setup: losses_mod.LossSetup, criterion: nn.Module, Y_train, pos_weight) -> Monitor:
    """A Monitor whose reference losses match the criterion: ln 2 per label and the prior's loss
    (from the training labels and the pos_weight) for BCE on logits, log C for a softmax loss,
    none for the rest."""
    kind = ("bce" if isinstance(criterion, nn.BCEWithLogitsLoss) else
            "softmax" if isinstance(criterion, nn.CrossEntropyLoss) else "other")
    if kind != "bce":
        return Monitor(Y_train.shape[1], loss=kind)
    pw = None if pos_weight is None else pos_weight.detach().cpu().float()
    usable = pw is not None and bool(torch.isfinite(pw).all()) and bool((pw > 0).all())  # else the monitor names the NaN
    return Monitor(Y_train.shape[1], loss=kind, train_targets=Y_train, pos_weight=pw if usable else None)
