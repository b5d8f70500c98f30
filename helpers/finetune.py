"""Fine-tuning a pretrained backbone for multi-label data, and the ways it goes wrong (notebook 10).

No weights can be downloaded, so the book pretrains its own: :func:`pretrain` trains a small CNN
(:class:`Backbone`: two conv, batch-norm, ReLU, max-pool blocks and a linear layer whose features
end in a ReLU, so they are non-negative, as a ResNet's pooled features are) on single-digit scenes
with softmax cross-entropy, on inputs standardised with the pretraining set's mean and std.
:func:`save_backbone` writes its ``state_dict`` with ``torch.save`` and :func:`load_backbone` reads
it back with ``torch.load(..., weights_only=True)`` (never unpickling arbitrary objects).

:func:`finetune` is one hand-written loop with one switch per mistake; with every switch at its
default it is the correct recipe, so a broken run and the correct one differ by the mistake alone:

* ``freeze=True`` trains the head only; ``backbone_bn="train"`` then leaves the frozen backbone's
  batch norm in train mode, so its running statistics drift to the new data while its weights don't
  (the fix: ``net.backbone.eval()`` after every ``net.train()``);
* ``backbone_lr`` is the backbone's learning rate (the fix: a tenth of the head's, in a second
  parameter group); ``backbone_lr=lr`` is the one-learning-rate mistake;
* ``eval_validation=False`` runs validation without ``model.eval()`` (dropout on, batch norm on
  batch statistics, updating its running statistics). The RNG is forked around the validation pass,
  so the weights trained are exactly the correct run's: only what validation reports differs;
* the input normalisation is the data passed in (:func:`normalise`); :func:`new_head` makes the head
  (``init="zero_prior"``: zero weights and the prior bias, the fix; ``"default"``: PyTorch's init).

:func:`judge` scores a run the book's way: macro-F1 on test at per-label thresholds tuned on
validation, mAP, and macro-F1 at 0.5.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from helpers import metrics as metrics_mod
from helpers import results as results_mod
from helpers import train as train_mod
from helpers.diagnose.monitor import Monitor
from helpers.mistakes import prior_bias

BACKBONE_BN = ("eval", "train")
HEAD_INIT = ("zero_prior", "default", "default_prior")


class Backbone(nn.Sequential):
    """Conv(16)-BN-ReLU-pool, Conv(32)-BN-ReLU-pool, flatten, Linear(features), ReLU: non-negative features."""

    def __init__(self, in_shape, *, width: int = 32, features: int = 64):
        c, h, w = in_shape
        if h < 4 or w < 4:
            raise ValueError(f"Backbone needs images of at least 4x4 pixels, got {h}x{w}")
        super().__init__(
            nn.Conv2d(c, width // 2, 3, padding=1), nn.BatchNorm2d(width // 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width // 2, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(width * (h // 4) * (w // 4), features), nn.ReLU(),
        )
        self.features = features


class Net(nn.Module):
    """``head(backbone(x))``: the head is dropout then one linear layer, returning logits."""

    def __init__(self, backbone: Backbone, head: nn.Module):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x):
        return self.head(self.backbone(x))


def new_head(n_features: int, n_labels: int, *, init: str = "zero_prior", Y_train: np.ndarray | None = None,
             dropout: float = 0.3, seed: int = 0) -> nn.Sequential:
    """A new head ``Dropout, Linear(n_features, n_labels)``. ``init``: ``"zero_prior"`` (weights 0, bias the
    training prior ``log(p / (1 - p))``: the first logits are the prior whatever the features),
    ``"default"`` (PyTorch's init), ``"default_prior"`` (PyTorch's weights, the prior bias)."""
    if init not in HEAD_INIT:
        raise ValueError(f"init={init!r} is not one of {HEAD_INIT}")
    if init != "default" and Y_train is None:
        raise ValueError(f"init={init!r} sets the prior bias: pass Y_train")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        linear = nn.Linear(n_features, n_labels)
    with torch.no_grad():
        if init == "zero_prior":
            linear.weight.zero_()
        if init != "default":
            linear.bias.copy_(prior_bias(Y_train))
    return nn.Sequential(nn.Dropout(dropout), linear)


def build_backbone(in_shape, *, width: int = 32, features: int = 64, seed: int = 0) -> Backbone:
    """A randomly initialised :class:`Backbone` (weights from ``seed``)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Backbone(tuple(in_shape), width=width, features=features)


def normalisation(X: np.ndarray) -> tuple[float, float]:
    """The mean and std of the pixels of ``X`` (one channel): the pretraining set's, to reuse when fine-tuning."""
    X = np.asarray(X, dtype=np.float64)
    std = float(X.std())
    if not np.isfinite(std) or std <= 0:
        raise ValueError("the inputs are constant or not finite: their normalisation is undefined")
    return float(X.mean()), std


def normalise(data, mean: float, std: float):
    """A copy of ``data`` (a :class:`helpers.data.MultiLabelData`) with every split's inputs ``(x - mean) / std``."""
    scaled = {f"X_{s}": ((getattr(data, f"X_{s}") - mean) / std).astype(np.float32) for s in ("train", "val", "test")}
    return dataclasses.replace(data, **scaled, info={**data.info, "normalised_with": (mean, std)})


def pretrain(data, *, epochs: int = 5, batch_size: int = 128, lr: float = 3e-3, width: int = 32,
             features: int = 64, seed: int = 0, device="auto") -> tuple[Backbone, pd.DataFrame]:
    """Pretrain a :class:`Backbone` on single-label data (``data``'s rows have one positive each) with
    softmax cross-entropy on normalised inputs; returns the backbone and per-epoch ``train_loss, val_accuracy``."""
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"pretrain needs epochs >= 1, batch_size >= 1 and lr > 0; got {epochs}, {batch_size}, {lr}")
    if not np.all(data.Y_train.sum(1) == 1):
        raise ValueError("pretrain needs single-label data (one positive per row), e.g. scenes with objects=(1, 1)")
    dev = train_mod.resolve_device(device)
    train_mod.set_seed(seed)
    backbone = build_backbone(data.input_shape, width=width, features=features, seed=seed)
    net = Net(backbone, new_head(features, data.n_labels, init="default", dropout=0.0, seed=seed)).to(dev)
    X = torch.as_tensor(data.X_train, dtype=torch.float32, device=dev)
    y = torch.as_tensor(data.Y_train.argmax(1), device=dev)
    Xv = torch.as_tensor(data.X_val, dtype=torch.float32, device=dev)
    yv = data.Y_val.argmax(1)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    criterion, rows = nn.CrossEntropyLoss(), []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        perm, total = torch.randperm(len(X), generator=gen).to(dev), 0.0
        for i in range(0, len(X), batch_size):
            idx = perm[i:i + batch_size]
            loss = criterion(net(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        acc = float((train_mod._outputs(net, Xv, 2048).argmax(1).cpu().numpy() == yv).mean())
        rows.append({"epoch": epoch + 1, "train_loss": total / len(X), "val_accuracy": acc})
    results_mod.log_fit("pretrain", time.perf_counter() - t0, epochs=epochs, device=str(dev), n_train=len(X),
                        loop="helpers.finetune.pretrain")
    return net.backbone.cpu().eval(), pd.DataFrame(rows)


def save_backbone(backbone: Backbone, out_dir, name: str = "backbone.pt") -> Path:
    """Write ``backbone.state_dict()`` (tensors only) to ``out_dir/name`` atomically; returns the path."""
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in backbone.state_dict().items()}, buf)
    return results_mod.write_bytes_atomic(Path(out_dir) / name, buf.getvalue())


def load_backbone(path, in_shape, *, width: int = 32, features: int = 64) -> Backbone:
    """A :class:`Backbone` with the weights saved at ``path``, read with ``torch.load(weights_only=True)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved backbone at {path}; run helpers.finetune.save_backbone first")
    state = torch.load(path, map_location="cpu", weights_only=True)
    backbone = Backbone(tuple(in_shape), width=width, features=features)
    backbone.load_state_dict(state)
    return backbone


def bn_running_stats(model: nn.Module) -> torch.Tensor:
    """The running means and variances of every batch-norm layer, concatenated (to measure their drift)."""
    parts = [t.detach().cpu().flatten() for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
             for t in (m.running_mean, m.running_var)]
    return torch.cat(parts) if parts else torch.zeros(0)


@dataclass
class FinetuneResult:
    """A fine-tuning run: the model, per-epoch ``history``, per-step ``steps``, the monitor, the switches."""

    model: Net
    history: pd.DataFrame
    steps: pd.DataFrame
    switches: dict
    train_seconds: float
    monitor: Monitor | None = None

    def predict_proba(self, X: np.ndarray, *, eval_mode: bool = True, batch_size: int = 128) -> np.ndarray:
        """Sigmoid probabilities for ``X``; ``eval_mode=False`` reads them as a loop without ``model.eval()``
        does (train mode, in mini-batches; the RNG and the model's running statistics are left untouched)."""
        return _proba(self.model, torch.as_tensor(X, dtype=torch.float32), eval_mode, batch_size, restore=True)


def _proba(model: nn.Module, X: torch.Tensor, eval_mode: bool, batch_size: int, *, restore: bool) -> np.ndarray:
    dev = next(model.parameters()).device
    X = X.to(dev)
    if eval_mode:
        return torch.sigmoid(train_mod._outputs(model, X, 2048)).cpu().numpy()
    saved = copy.deepcopy(model.state_dict()) if restore else None
    was_training = model.training
    with torch.random.fork_rng(devices=[] if dev.type == "cpu" else [dev]), torch.no_grad():
        model.train()
        out = torch.cat([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])
    model.train(was_training)
    if saved is not None:
        model.load_state_dict(saved)
    return torch.sigmoid(out.float()).cpu().numpy()


def finetune(net: Net, data, *, epochs: int = 8, batch_size: int = 128, lr: float = 3e-3,
             backbone_lr: float | None = None, freeze: bool = False, backbone_bn: str = "eval",
             eval_validation: bool = True, seed: int = 0, device="auto", monitor: bool = True,
             desc: str = "finetune") -> FinetuneResult:
    """Train ``net`` (a :class:`Net`, changed in place) on multi-label ``data`` with ``BCEWithLogitsLoss`` and
    Adam; the switches are in the module docstring. ``backbone_lr=None`` means a tenth of ``lr``. Each epoch
    records the training loss, validation loss, micro/macro-F1, mAP and predicted-positive rate (read as the
    switches say), the mean gradient norm, and the drift of the batch-norm running statistics."""
    if backbone_bn not in BACKBONE_BN:
        raise ValueError(f"backbone_bn={backbone_bn!r} is not one of {BACKBONE_BN}")
    if epochs < 1 or batch_size < 1 or lr <= 0 or (backbone_lr is not None and backbone_lr <= 0):
        raise ValueError(f"finetune needs epochs >= 1, batch_size >= 1, lr > 0, backbone_lr > 0; got {epochs}, "
                         f"{batch_size}, {lr}, {backbone_lr}")
    backbone_lr = lr / 10 if backbone_lr is None else backbone_lr
    dev = train_mod.resolve_device(device)
    train_mod.set_seed(seed)
    net = net.to(dev)
    if freeze:
        for p in net.backbone.parameters():
            p.requires_grad_(False)
        optimizer = torch.optim.Adam(net.head.parameters(), lr=lr)
    else:
        optimizer = torch.optim.Adam([{"params": net.backbone.parameters(), "lr": backbone_lr},
                                      {"params": net.head.parameters(), "lr": lr}])
    criterion = nn.BCEWithLogitsLoss()
    Xtr = torch.as_tensor(data.X_train, dtype=torch.float32, device=dev)
    Ytr = torch.as_tensor(data.Y_train, dtype=torch.float32, device=dev)
    Xva = torch.as_tensor(data.X_val, dtype=torch.float32, device=dev)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    stats0 = bn_running_stats(net.backbone)
    mon = Monitor(data.n_labels, loss="bce") if monitor else None
    rows, step_rows, n, step = [], [], len(Xtr), 0
    t_start = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        if freeze and backbone_bn == "eval":
            net.backbone.eval()  # the fix: a frozen backbone's batch norm keeps its pretrained statistics
        perm = torch.randperm(n, generator=gen).to(dev)
        total, grad_norms = 0.0, []
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            out = net(Xtr[idx])
            loss = criterion(out, Ytr[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norms.append(train_mod._grad_norm(net))
            if mon is not None:
                mon.update(loss=loss, outputs=out, targets=Ytr[idx], grad_norm=grad_norms[-1])
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            step += 1
            step_rows.append({"step": step, "epoch": epoch + 1, "loss": float(loss.detach())})
        p_val = _proba(net, Xva, eval_validation, batch_size, restore=False)
        m = metrics_mod.epoch_scores(data.Y_val, p_val)
        val_loss = float(nn.functional.binary_cross_entropy(torch.as_tensor(p_val).clamp(1e-7, 1 - 1e-7),
                                                            torch.as_tensor(data.Y_val, dtype=torch.float32)))
        drift = float((bn_running_stats(net.backbone) - stats0).norm() / stats0.norm().clamp_min(1e-12))
        rows.append({"epoch": epoch + 1, "train_loss": total / n, "val_loss": val_loss, "val_micro_f1": m["micro_f1"],
                     "val_macro_f1": m["macro_f1"], "val_map": m["map"], "val_pred_pos_rate": m["pred_pos_rate"],
                     "grad_norm": float(np.mean(grad_norms)), "bn_drift": drift})
        if mon is not None:
            mon.end_epoch(val_metric=m["map"], val_pred_rate=m["pred_pos_rate"])
    seconds = time.perf_counter() - t_start
    switches = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "backbone_lr": backbone_lr, "freeze": freeze,
                "backbone_bn": backbone_bn, "eval_validation": eval_validation, "seed": seed}
    results_mod.log_fit(desc, seconds, epochs=epochs, train_seconds=round(seconds, 3), device=str(dev), n_train=n,
                        loop="helpers.finetune.finetune")
    return FinetuneResult(model=net, history=pd.DataFrame(rows), steps=pd.DataFrame(step_rows), switches=switches,
                          train_seconds=seconds, monitor=mon)


def judge(result: FinetuneResult, data, *, eval_mode: bool = True, batch_size: int = 128) -> dict:
    """The book's verdict on a run: test macro-F1 at thresholds tuned on validation, test mAP, and test macro-F1
    and micro-F1 at 0.5. ``eval_mode=False`` reads validation and test as a loop without ``model.eval()`` would."""
    p_val = result.predict_proba(data.X_val, eval_mode=eval_mode, batch_size=batch_size)
    p_test = result.predict_proba(data.X_test, eval_mode=eval_mode, batch_size=batch_size)
    t = metrics_mod.tune_thresholds(data.Y_val, p_val)
    tuned, at_half = metrics_mod.evaluate(data.Y_test, p_test, threshold=t), metrics_mod.evaluate(data.Y_test, p_test)
    return {"tuned_macro_f1": tuned["macro_f1"], "map": at_half["map"], "macro_f1_at_0.5": at_half["macro_f1"],
            "micro_f1_at_0.5": at_half["micro_f1"], "val_map": metrics_mod.evaluate(data.Y_val, p_val)["map"]}


def first_losses(backbone: Backbone, data, heads: dict[str, nn.Module], *, n: int = 512) -> dict:
    """The BCE loss on the first ``n`` training rows of ``Net(backbone, head)`` before any step, per head
    (backbone in eval mode, head's dropout off), next to the prior predictor's loss on the same rows, and the
    mean feature value (non-negative features shift every logit by ``w . mean``)."""
    X = torch.as_tensor(data.X_train[:n], dtype=torch.float32)
    Y = torch.as_tensor(data.Y_train[:n], dtype=torch.float32)
    bb = copy.deepcopy(backbone).cpu().eval()
    with torch.no_grad():
        f = bb(X)
        out = {name: float(nn.functional.binary_cross_entropy_with_logits(copy.deepcopy(h).cpu().eval()(f), Y))
               for name, h in heads.items()}
    p = np.clip(data.Y_train.mean(0), 1e-4, 1 - 1e-4)
    logit = torch.as_tensor(np.log(p / (1 - p)), dtype=torch.float32).expand_as(Y)
    out["prior predictor"] = float(nn.functional.binary_cross_entropy_with_logits(logit, Y))
    out["feature_mean"], out["feature_min"] = float(f.mean()), float(f.min())
    return out


# --------------------------------------------------------------------------------------------------
# The multi-seed evidence of notebook 10 (sweeps/finetune.yaml -> evidence/finetune/)

FROZEN_OK = "frozen, BN eval (correct)"
MISTAKES = ("frozen, BN left in train mode", "raw inputs", "frozen, raw inputs", "one lr for all", "default head init",
            "validation without eval()", "validation without eval() (read in train mode)")
