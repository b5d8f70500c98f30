"""Bug_Reproducibility 041 (Stack Overflow 66720543, "Pytorch 1D tensors expected but got 2D
tensors"): a hand-written logistic regression whose binary cross-entropy receives
target.unsqueeze(1), shape (N, 1, 1), against predictions of shape (N, 1)."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "mehilshah/Bug_Reproducibility_DL_Bugs"
PATH = "Bugs/041/main.py (row 41 of Dataset/Dataset_Manual_Reproduction.csv: Bug ID 66720543)"
POST = "https://stackoverflow.com/questions/66720543"
SCOPE = "binary"
BUG = "Targets of shape (N, 1, 1) against predictions (N, 1): the hand-written BCE broadcasts to (N, N, 1) and averages every prediction against every target."
FIX = "Keep the targets (N, 1) like the predictions (drop the unsqueeze), and use matrix products for the gradient."
EXPECTED = ("SHAPE_MISMATCH",)
FIX_KEYWORDS = ("squeeze", "view", "shape")
ALARM = True
PORT = ("kept: sigmoid(data @ weights + bias) with randn weights (1 output), the hand-written loss "
        "(-1/m) * sum(y log p + (1 - y) log(1 - p)) with m = 400, (400, 2) inputs, targets of torch.randint(0, 2) "
        "as long, unsqueezed to (N, 1, 1) (bug) or float (N, 1) (fixed); changed: targets follow a linear rule, "
        "weights are parameters (the thread computes the gradient by hand)")


class LogReg(nn.Module):
    def __init__(self):
        super().__init__()
        g = c.gen(41)
        self.weights = nn.Parameter(torch.randn(2, 1, generator=g))
        self.bias = nn.Parameter(torch.randn(1, 1, generator=g))

    def forward(self, data):
        return 1 / (1 + torch.exp(-(data @ self.weights + self.bias)))


def loss_function(prediction, actual, m=400):
    return (-1 / m) * torch.sum(actual * torch.log(prediction) + (1 - actual) * torch.log(1 - prediction))


def _data():
    x, y = c.binary(400, 2, seed=41)
    return x, y


def buggy() -> Setup:
    x, y = _data()
    return Setup(LogReg(), loss_function, x, y.long().unsqueeze(1))


def clean() -> Setup:
    x, y = _data()
    return Setup(LogReg(), loss_function, x, y)
