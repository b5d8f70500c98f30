"""Loss setups the book compares: what the model emits, which loss it trains with, how probabilities
are read off its outputs, and how per-label ``pos_weight`` is computed.

A *setup* is one way a user wires a multi-label classifier. Each is a frozen :class:`LossSetup` in the
:data:`LOSSES` registry, looked up with :func:`get_loss`. The training loop (:mod:`helpers.train`)
builds the model with ``output=setup.model_output``, the loss with ``setup.criterion(pos_weight=...)``,
feeds targets through ``setup.targets(y)`` and evaluates ``setup.probabilities(outputs)``.

==================== ============ =============================== ============================ ==========
name                 model emits  loss                            probabilities                expected
==================== ============ =============================== ============================ ==========
bce_with_logits      logits       BCEWithLogitsLoss(pos_weight)   sigmoid(outputs)             the right
                                                                                               default
cross_entropy        logits       CrossEntropyLoss, float         softmax(outputs, dim=1)      trains and
                                  multi-hot targets                                            ranks, but
                                                                                               silently
                                                                                               caps F1
cross_entropy_long   logits       CrossEntropyLoss, ``.long()``   softmax(outputs, dim=1)      raises
                                  multi-hot targets                                            RuntimeError
bce_on_logits        logits       BCELoss on raw logits           sigmoid(outputs)             raises
                                                                                               RuntimeError
double_sigmoid       sigmoid      BCEWithLogitsLoss(pos_weight)   sigmoid(outputs), stuck in   trains badly
                                                                  (0.5, 0.731)
mse                  sigmoid      MSELoss                         outputs                      measured in
                                                                                               notebook 02
masked_bce           logits       BCEWithLogitsLoss(pos_weight)   sigmoid(outputs)             partial
                                  over the known entries only                                  labels
                                  (targets ``UNKNOWN = -1``
                                  ignored)
focal                logits       sigmoid focal loss,             sigmoid(outputs)             works
                                  alpha=0.25, gamma=2
asymmetric           logits       ASL, gamma_neg=4, gamma_pos=1,  sigmoid(outputs)             works
                                  clip=0.05 (mean, not sum)
==================== ============ =============================== ============================ ==========

The last column is the expectation the notebooks put to the test, not a measured result.

``pos_weight`` (:func:`compute_pos_weight`) is computed from the training split's labels only, with
one of :data:`POS_WEIGHT_STRATEGIES`; only the ``BCEWithLogitsLoss`` setups accept it. A setup
and a strategy are named together as ``"bce_with_logits+neg_over_pos"`` (:func:`setup_name`,
:func:`parse_setup`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

POS_WEIGHT_STRATEGIES = ("none", "neg_over_pos", "sqrt_neg_over_pos", "max_over_count")
ON_EMPTY = ("error", "one")
UNKNOWN = -1  # a target entry nobody annotated (partial labels): the masked loss ignores it


# --------------------------------------------------------------------------------------------------
# The two losses torch does not ship
# --------------------------------------------------------------------------------------------------
def sigmoid_focal_loss(inputs: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0,
                       reduction: str = "mean") -> torch.Tensor:
    """Sigmoid focal loss (Lin et al. 2017, "Focal Loss for Dense Object Detection"), computed as
    ``torchvision.ops.sigmoid_focal_loss`` does (that function defaults to ``reduction="none"``;
    this one to ``"mean"``).

    ``loss = alpha_t * (1 - p_t) ** gamma * BCE(inputs, targets)`` elementwise, with ``p = sigmoid
    (inputs)``, ``p_t = p*t + (1-p)*(1-t)`` and ``alpha_t = alpha*t + (1-alpha)*(1-t)``; a negative
    ``alpha`` switches the alpha weighting off.
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction={reduction!r} is not one of 'none', 'mean', 'sum'")
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def masked_bce_with_logits(inputs: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor | None = None,
                           reduction: str = "mean", unknown: float = UNKNOWN) -> torch.Tensor:
    """``BCEWithLogitsLoss`` over the known target entries only: entries equal to ``unknown`` (``-1``,
    :data:`UNKNOWN`: not annotated) add nothing to the loss and get no gradient. ``"mean"`` averages over
    the known entries (0 when there are none), so on fully known 0/1 targets it equals
    ``F.binary_cross_entropy_with_logits``. Targets other than 0, 1 and ``unknown`` raise ``ValueError``."""
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction={reduction!r} is not one of 'none', 'mean', 'sum'")
    if inputs.shape != targets.shape:
        raise ValueError(f"inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} must have the same shape")
    known = targets != unknown
    bad = known & (targets != 0) & (targets != 1)
    if bool(bad.any()):
        raise ValueError(f"masked_bce_with_logits: targets must be 0, 1 or {unknown} (unknown); got "
                         f"{targets[bad].flatten()[:3].tolist()}")
    safe = torch.where(known, targets, torch.zeros_like(targets))
    loss = F.binary_cross_entropy_with_logits(inputs, safe, pos_weight=pos_weight, reduction="none") * known
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / known.sum().clamp(min=1)


class MaskedBCEWithLogitsLoss(nn.BCEWithLogitsLoss):
    """:func:`masked_bce_with_logits` as a module: ``nn.BCEWithLogitsLoss`` (same ``pos_weight``) that ignores
    target entries equal to :data:`UNKNOWN` (-1). A subclass, so code that asks "is this BCE on logits?"
    (the monitor's chance loss) still says yes."""

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return masked_bce_with_logits(inputs, targets, self.pos_weight, self.reduction)


class SigmoidFocalLoss(nn.Module):
    """:func:`sigmoid_focal_loss` as a module (``alpha=0.25, gamma=2``, mean over all elements)."""

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "mean"):
        super().__init__()
        self.alpha, self.gamma, self.reduction = alpha, gamma, reduction

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return sigmoid_focal_loss(inputs, targets, self.alpha, self.gamma, self.reduction)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}"


class AsymmetricLoss(nn.Module):
    """Asymmetric loss, ASL (Ridnik et al. 2021, "Asymmetric Loss For Multi-Label Classification"),
    following the reference ``AsymmetricLoss`` / ``AsymmetricLossOptimized`` of Alibaba-MIIL/ASL
    with its defaults ``gamma_neg=4, gamma_pos=1, clip=0.05, eps=1e-8``:

    * ``xs_pos = sigmoid(x)``; ``xs_neg = min(1 - xs_pos + clip, 1)`` (the *probability shift*:
      negatives the model already puts below ``clip`` cost nothing and give no gradient);
    * ``loss = y*log(max(xs_pos, eps)) + (1-y)*log(max(xs_neg, eps))``;
    * asymmetric focusing: ``pt = xs_pos*y + xs_neg*(1-y)``, ``gamma = gamma_pos*y + gamma_neg*(1-y)``,
      ``loss *= (1 - pt) ** gamma``. The gradient flows through this weight too, as with the
      reference ``AsymmetricLossOptimized`` default ``disable_torch_grad_focal_loss=False``.

    The reference returns ``-loss.sum()``; this returns the **mean** over all elements, so the
    learning rates the book uses stay comparable with the other losses (the sum is ``N*L`` times
    larger). Set ``reduction="sum"`` for the reference's scale.
    """

    def __init__(self, gamma_neg: float = 4.0, gamma_pos: float = 1.0, clip: float | None = 0.05,
                 eps: float = 1e-8, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"reduction={reduction!r} is not one of 'none', 'mean', 'sum'")
        self.gamma_neg, self.gamma_pos, self.clip, self.eps, self.reduction = (
            gamma_neg, gamma_pos, clip, eps, reduction)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        xs_pos = torch.sigmoid(x)
        xs_neg = 1 - xs_pos
        if self.clip is not None and self.clip > 0:
            xs_neg = (xs_neg + self.clip).clamp(max=1)
        loss = y * torch.log(xs_pos.clamp(min=self.eps)) + (1 - y) * torch.log(xs_neg.clamp(min=self.eps))
        if self.gamma_neg > 0 or self.gamma_pos > 0:
            pt = xs_pos * y + xs_neg * (1 - y)
            gamma = self.gamma_pos * y + self.gamma_neg * (1 - y)
            loss = loss * torch.pow(1 - pt, gamma)
        loss = -loss
        if self.reduction == "mean":
            return loss.mean()
        if self.reduction == "sum":
            return loss.sum()
        return loss

    def extra_repr(self) -> str:
        return (f"gamma_neg={self.gamma_neg}, gamma_pos={self.gamma_pos}, clip={self.clip}, "
                f"eps={self.eps}, reduction={self.reduction!r}")


# --------------------------------------------------------------------------------------------------
# Setups
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LossSetup:
    """One way to wire a multi-label classifier: model output, loss, targets and probabilities.

    ``model_output`` is what the model's last layer emits (``"logits"`` or ``"sigmoid"``: pass it to
    :func:`helpers.models.build_model` as ``output=``). ``raises`` marks setups that PyTorch rejects
    at the first loss computation. ``accepts_pos_weight`` marks the setups whose loss takes a per-label
    ``pos_weight``.
    """

    name: str
    model_output: str
    summary: str
    accepts_pos_weight: bool = False
    raises: bool = False
    make_criterion: Callable[..., nn.Module] = field(default=nn.BCEWithLogitsLoss, repr=False)
    to_probabilities: Callable[[torch.Tensor], torch.Tensor] = field(default=torch.sigmoid, repr=False)
    target_dtype: torch.dtype = field(default=torch.float32, repr=False)

    def criterion(self, pos_weight: torch.Tensor | np.ndarray | None = None) -> nn.Module:
        """A fresh loss module; ``pos_weight`` (shape ``(L,)``) only where ``accepts_pos_weight``."""
        if pos_weight is None:
            return self.make_criterion()
        if not self.accepts_pos_weight:
            takers = ", ".join(n for n, s in LOSSES.items() if s.accepts_pos_weight)
            raise ValueError(f"setup {self.name!r} does not accept pos_weight; only these do: {takers}")
        return self.make_criterion(pos_weight=torch.as_tensor(pos_weight, dtype=torch.float32))

    def targets(self, y: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Float multi-hot targets ``(N, L)`` converted the way this setup feeds them to its loss."""
        return torch.as_tensor(y).to(self.target_dtype)

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        """Per-label probabilities ``(N, L)`` from model outputs, as this setup's user computes them."""
        return self.to_probabilities(outputs)


def _softmax(outputs: torch.Tensor) -> torch.Tensor:
    return torch.softmax(outputs, dim=1)


def _identity(outputs: torch.Tensor) -> torch.Tensor:
    return outputs


LOSSES: dict[str, LossSetup] = {s.name: s for s in (
    LossSetup(
        "bce_with_logits", "logits",
        "The right default: one independent sigmoid per label, the sigmoid fused into the loss for "
        "numerical stability; pos_weight up-weights each label's positives.",
        accepts_pos_weight=True, make_criterion=nn.BCEWithLogitsLoss, to_probabilities=torch.sigmoid,
    ),
    LossSetup(
        "cross_entropy", "logits",
        "The silent failure. CrossEntropyLoss takes float multi-hot targets as class probabilities "
        "without normalising them: each row costs -sum_c y_c*log(softmax(x)_c), so a row with k labels "
        "weighs k times a one-label row, its optimum splits the softmax mass 1/k per true label, and an "
        "all-zero row costs nothing. It trains and ranks labels well (good mAP), but softmax outputs sum "
        "to 1: at most one label can pass 0.5, so rows with two or more labels are never fully predicted.",
        make_criterion=nn.CrossEntropyLoss, to_probabilities=_softmax,
    ),
    LossSetup(
        "cross_entropy_long", "logits",
        "The popular article's example: multi-hot targets cast with .long() into CrossEntropyLoss. A "
        "target shaped like the input is read as class probabilities, which must be float, so torch "
        "raises RuntimeError at the first step.",
        raises=True, make_criterion=nn.CrossEntropyLoss, to_probabilities=_softmax, target_dtype=torch.int64,
    ),
    LossSetup(
        "bce_on_logits", "logits",
        "BCELoss fed raw logits: it expects probabilities in [0, 1] and raises RuntimeError on CPU. On "
        "CUDA the same check is a device-side assert, which kills the CUDA context: every later CUDA "
        "call in the process fails until the kernel is restarted.",
        raises=True, make_criterion=nn.BCELoss, to_probabilities=torch.sigmoid,
    ),
    LossSetup(
        "double_sigmoid", "sigmoid",
        "A sigmoid in the model and BCEWithLogitsLoss on top: the loss applies a second sigmoid, so "
        "its probabilities are squeezed into (0.5, 0.731). Every label is predicted positive at 0.5, "
        "and the gradient through two sigmoids is small.",
        accepts_pos_weight=True, make_criterion=nn.BCEWithLogitsLoss, to_probabilities=torch.sigmoid,
    ),
    LossSetup(
        "mse", "sigmoid",
        "MSELoss on sigmoid outputs: a regression loss on probabilities. Its gradient vanishes for "
        "confident wrong answers, so it learns slowly, especially rare labels.",
        make_criterion=nn.MSELoss, to_probabilities=_identity,
    ),
    LossSetup(
        "sigmoid_bce", "sigmoid",
        "A sigmoid in the model and BCELoss on its probabilities (the popular article's recommendation): "
        "the same loss as BCEWithLogitsLoss in exact arithmetic, but computed in two steps, so it clamps "
        "log(0) at -100 and its gradient vanishes once float32 sigmoid(x) rounds to 0 or 1 "
        "(notebook 03). No pos_weight argument (BCELoss's weight scales whole elements).",
        make_criterion=nn.BCELoss, to_probabilities=_identity,
    ),
    LossSetup(
        "masked_bce", "logits",
        "Partial labels: BCEWithLogitsLoss over the annotated entries only. Targets hold 0, 1 or UNKNOWN "
        "(-1) for an entry nobody annotated; those add nothing to the loss, where filling them with 0 "
        "would teach the model that the label is absent. On fully known targets it is bce_with_logits.",
        accepts_pos_weight=True, make_criterion=MaskedBCEWithLogitsLoss, to_probabilities=torch.sigmoid,
    ),
    LossSetup(
        "focal", "logits",
        "Sigmoid focal loss (Lin et al. 2017), alpha=0.25, gamma=2, mean over elements: down-weights "
        "easy elements, mostly the many easy negatives.",
        make_criterion=SigmoidFocalLoss, to_probabilities=torch.sigmoid,
    ),
    LossSetup(
        "asymmetric", "logits",
        "Asymmetric loss, ASL (Ridnik et al. 2021), gamma_neg=4, gamma_pos=1, clip=0.05: focuses harder "
        "on negatives and ignores very easy ones; mean instead of the reference's sum.",
        make_criterion=AsymmetricLoss, to_probabilities=torch.sigmoid,
    ),
)}


def get_loss(name: str) -> LossSetup:
    """The setup registered as ``name``; a ValueError lists the valid names."""
    if name in LOSSES:
        return LOSSES[name]
    hint = " (a name with '+strategy' is a setup name: split it with parse_setup)" if "+" in str(name) else ""
    raise ValueError(f"unknown loss {name!r}{hint}; valid names: {', '.join(LOSSES)}")


# --------------------------------------------------------------------------------------------------
# pos_weight
# --------------------------------------------------------------------------------------------------
def _check_strategy(strategy: str) -> None:
    if strategy not in POS_WEIGHT_STRATEGIES:
        raise ValueError(f"unknown pos_weight strategy {strategy!r}; valid ones: {', '.join(POS_WEIGHT_STRATEGIES)}")


def compute_pos_weight(Y_train: np.ndarray | torch.Tensor, strategy: str, *,
                       on_empty: str = "error") -> torch.Tensor | None:
    """Per-label ``pos_weight`` for ``BCEWithLogitsLoss`` from the **training** labels ``(N, L)`` (0/1).

    * ``"none"``: ``None`` (no weighting);
    * ``"neg_over_pos"``: negatives / positives per label, the choice PyTorch's documentation gives;
    * ``"sqrt_neg_over_pos"``: its square root, a milder push;
    * ``"max_over_count"``: ``max(count) / count``, the popular article's heuristic (the most frequent
      label gets 1).

    A label with no positive in the training split would get an infinite weight. ``on_empty="error"``
    raises a ValueError naming those labels; ``on_empty="one"`` gives them weight 1.0. The result is
    never inf or nan: a float32 tensor of shape ``(L,)``.
    """
    _check_strategy(strategy)
    if on_empty not in ON_EMPTY:
        raise ValueError(f"on_empty={on_empty!r} is not one of {ON_EMPTY}")
    if isinstance(Y_train, torch.Tensor):
        Y_train = Y_train.detach().cpu().numpy()
    Y = np.asarray(Y_train, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[0] == 0:
        raise ValueError(f"Y_train must be a non-empty (N, L) label matrix, got shape {Y.shape}")
    bad = ~np.isin(Y, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"Y_train must hold 0/1 labels; {int(bad.sum())} value(s) are something else")
    if strategy == "none":
        return None
    n = Y.shape[0]
    pos = Y.sum(axis=0)
    neg = n - pos
    empty = pos == 0
    if empty.any() and on_empty == "error":
        idx = np.flatnonzero(empty).tolist()
        counts = ", ".join(f"label {i}: 0 of {n}" for i in idx)
        raise ValueError(
            f"label(s) {idx} have no positive example in the training split ({counts}), so "
            f"pos_weight={strategy!r} would be infinite; pass on_empty='one' to give them weight 1.0")
    safe = np.where(empty, 1.0, pos)
    if strategy == "neg_over_pos":
        w = neg / safe
    elif strategy == "sqrt_neg_over_pos":
        w = np.sqrt(neg / safe)
    else:  # max_over_count
        w = pos.max() / safe
    w = np.where(empty, 1.0, w)
    return torch.as_tensor(w, dtype=torch.float32)


# --------------------------------------------------------------------------------------------------
# Setup names: "loss" or "loss+strategy"
# --------------------------------------------------------------------------------------------------
def setup_name(loss_name: str, strategy: str = "none") -> str:
    """``"bce_with_logits"`` for no weighting, ``"bce_with_logits+neg_over_pos"`` otherwise."""
    setup = get_loss(loss_name)
    _check_strategy(strategy)
    if strategy == "none":
        return setup.name
    if not setup.accepts_pos_weight:
        takers = ", ".join(n for n, s in LOSSES.items() if s.accepts_pos_weight)
        raise ValueError(f"setup {setup.name!r} does not accept pos_weight (strategy {strategy!r}); "
                         f"only these do: {takers}")
    return f"{setup.name}+{strategy}"


def parse_setup(name: str) -> tuple[str, str]:
    """Inverse of :func:`setup_name`: ``"bce_with_logits+neg_over_pos"`` -> ``("bce_with_logits",
    "neg_over_pos")``, ``"mse"`` -> ``("mse", "none")``; validated the same way."""
    loss_name, _, strategy = str(name).partition("+")
    strategy = strategy or "none"
    setup_name(loss_name, strategy)  # validates
    return loss_name, strategy


def stability_table(logits: torch.Tensor | np.ndarray, target: float) -> pd.DataFrame:
    """Loss and gradient of ``BCELoss(sigmoid(x))`` next to ``BCEWithLogitsLoss(x)``, element by element.

    Both compute the same function on paper. In float32, ``sigmoid(x)`` rounds to exactly 0 or 1 for
    ``|x|`` beyond about 17 (and underflows below 1e-38 past about -88); ``BCELoss`` then clamps its
    log at -100 and its gradient through the sigmoid vanishes. ``BCEWithLogitsLoss`` uses the
    log-sum-exp form ``max(x, 0) - x*y + log(1 + exp(-|x|))`` and stays exact.
    """
    x = torch.as_tensor(logits, dtype=torch.float32).detach()
    t = torch.full_like(x, float(target))
    cols = {"logit": x.numpy(), "target": t.numpy()}
    for name, fn in (("bce_of_sigmoid", lambda z: F.binary_cross_entropy(torch.sigmoid(z), t, reduction="none")),
                     ("with_logits", lambda z: F.binary_cross_entropy_with_logits(z, t, reduction="none"))):
        z = x.clone().requires_grad_(True)
        loss = fn(z)
        loss.sum().backward()
        cols[f"loss_{name}"] = loss.detach().numpy()
        cols[f"grad_{name}"] = z.grad.numpy()
    return pd.DataFrame(cols)
