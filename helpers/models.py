"""The book's two small networks: a CNN for the digit scenes and an MLP for tabular data.

Both end in a plain linear layer and return **logits** (no final activation): that is what
``BCEWithLogitsLoss`` wants. The failure modes the book measures that need a squashing layer in the
model (``double_sigmoid``, ``mse``) ask for it with ``output="sigmoid"``; ``output="softmax"`` is
there for the diagnose notebook.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

OUTPUTS = ("logits", "sigmoid", "softmax")


def _head(output: str) -> list[nn.Module]:
    if output not in OUTPUTS:
        raise ValueError(f"output={output!r} is not one of {OUTPUTS}; use 'logits' with BCEWithLogitsLoss")
    return {"logits": [], "sigmoid": [nn.Sigmoid()], "softmax": [nn.Softmax(dim=1)]}[output]


class SmallCNN(nn.Sequential):
    """Two 3x3 conv blocks (conv, batch norm, ReLU, 2x2 max-pool) and a linear head.

    For 16x16 scenes with ``width=32`` it has about 26k parameters: small enough to train a
    dozen times in a notebook on a 2-core CPU, big enough to read four digits.
    """

    def __init__(self, in_shape: Sequence[int], n_labels: int, *, width: int = 32, output: str = "logits"):
        c, h, w = in_shape
        if h < 4 or w < 4:
            raise ValueError(f"SmallCNN needs images of at least 4x4 pixels, got {h}x{w}")
        super().__init__(
            nn.Conv2d(c, width // 2, 3, padding=1), nn.BatchNorm2d(width // 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width // 2, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(width * (h // 4) * (w // 4), n_labels),
            *_head(output),
        )


class MLP(nn.Sequential):
    """Two hidden layers with ReLU and dropout, then a linear head: a sound baseline for
    standardized tabular features such as the MULAN benchmarks."""

    def __init__(self, n_features: int, n_labels: int, *, width: int = 128, dropout: float = 0.2,
                 output: str = "logits"):
        super().__init__(
            nn.Linear(n_features, width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, n_labels),
            *_head(output),
        )


def build_model(data, n_labels: int | None = None, *, output: str = "logits", width: int | None = None,
                seed: int = 0) -> nn.Module:
    """The book's model for ``data``: a :class:`SmallCNN` for images, an :class:`MLP` for tables.

    ``data`` is a :class:`helpers.data.MultiLabelData` or an input shape without the batch
    dimension (then pass ``n_labels``). Weights are initialised from ``seed``, so two setups
    compared in a notebook start from the same weights.
    """
    if hasattr(data, "input_shape"):
        shape, n_labels = tuple(data.input_shape), data.n_labels
    else:
        shape = tuple(data)
        if n_labels is None:
            raise ValueError("build_model(shape, n_labels): pass n_labels when giving a shape")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if len(shape) == 3:
            return SmallCNN(shape, n_labels, width=width or 32, output=output)
        if len(shape) == 1:
            return MLP(shape[0], n_labels, width=width or 128, output=output)
    raise ValueError(f"input shape {shape} is neither an image (C, H, W) nor a feature vector (F,)")
