"""DeepLocalize 44066044: a binary classifier whose last layer is Dense(1) + relu with binary
cross-entropy; fixed to Dense(1, activation='sigmoid')."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "Wardat-ISU/DeepLocalize"
PATH = "Benchmark/StackOverflow/44066044/{Buggy Code,Correct Code}/44066044.py"
POST = "https://stackoverflow.com/questions/44066044"
SCOPE = "binary"
BUG = "A ReLU output (unbounded, often exactly 0) fed to binary cross-entropy, which needs probabilities."
FIX = "Dense(1, kernel_initializer='normal', activation='sigmoid')."
EXPECTED = ("PROBS_EXPECTED", "LOGITS_NONNEGATIVE")
FIX_KEYWORDS = ("sigmoid", "BCEWithLogitsLoss")
ALARM = True
PORT = ("kept: 11 inputs, Dense 12-relu-12-relu-1 with a relu vs sigmoid output, kernel_initializer='normal' "
        "(N(0, 0.05)), BCE, Adam; shrunk: the CSV to 400 random rows of a linear rule, batch 32")


def _data():
    return c.binary(400, 11, seed=44066)


def _model(head: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(11, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 1), head)
    for layer in m:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, std=0.05)
            nn.init.zeros_(layer.bias)
    return m


def buggy() -> Setup:
    x, y = _data()
    m = _model(nn.ReLU())
    return Setup(m, nn.BCELoss(), x[:32], y[:32], torch.optim.Adam(m.parameters(), lr=1e-3), y)


def clean() -> Setup:
    x, y = _data()
    m = _model(nn.Sigmoid())
    return Setup(m, nn.BCELoss(), x[:32], y[:32], torch.optim.Adam(m.parameters(), lr=1e-3), y)
