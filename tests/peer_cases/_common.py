"""Shared data for the peer cases: small seeded batches with a learnable structure (targets are a
fixed function of the inputs), in the shapes and dtypes the threads use."""

from __future__ import annotations

import torch


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def features(n: int, d: int, seed: int = 0) -> torch.Tensor:
    """(n, d) float32 standard-normal inputs."""
    return torch.randn(n, d, generator=gen(seed))


def multilabel(n: int, d: int, labels: int, seed: int = 0, rate: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and (n, labels) multi-hot float targets from a random linear map, about ``rate``
    positives per label, at least two labels on some rows (make_multilabel_classification-like)."""
    x = features(n, d, seed)
    w = torch.randn(d, labels, generator=gen(seed + 1))
    z = x @ w
    y = (z > torch.quantile(z, 1 - rate, dim=0, keepdim=True)).float()
    return x, y


def binary(n: int, d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and (n, 1) float 0/1 targets (about half positive)."""
    x = features(n, d, seed)
    w = torch.randn(d, 1, generator=gen(seed + 1))
    return x, (x @ w > 0).float()


def classes(n: int, d: int, c: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and (n,) long class indices in [0, c) (argmax of a random linear map)."""
    x = features(n, d, seed)
    w = torch.randn(d, c, generator=gen(seed + 1))
    return x, (x @ w).argmax(1)


def one_hot(y: torch.Tensor, c: int) -> torch.Tensor:
    """(n, c) float one-hot rows (keras.utils.to_categorical)."""
    return torch.nn.functional.one_hot(y, c).float()


def prototypes(n: int, d: int, c: int, seed: int = 0, scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and (n,) long class indices: each row is its class's random prototype times
    ``scale`` plus unit noise (well separated classes, learnable in a few hundred steps)."""
    y = torch.randint(0, c, (n,), generator=gen(seed))
    protos = torch.randn(c, d, generator=gen(seed + 1))
    return scale * protos[y] + torch.randn(n, d, generator=gen(seed + 2)), y
