"""Keras losses written out in PyTorch, for ports that keep a Keras head exactly."""

from __future__ import annotations

import torch


def categorical_crossentropy(probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Keras ``categorical_crossentropy`` on softmax probabilities and one-hot targets."""
    return -(targets * probs.clamp(1e-7, 1.0).log()).sum(1).mean()
