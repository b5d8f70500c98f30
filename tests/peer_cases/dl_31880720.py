"""DeepLocalize 31880720: a binary classifier whose last layer is Dense(1) + softmax with binary
cross-entropy: a softmax over one unit is always 1, so nothing can be learned; fixed to sigmoid."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "Wardat-ISU/DeepLocalize"
PATH = "Benchmark/StackOverflow/31880720/{Buggy Code,Correct Code}/31880720.py"
POST = "https://stackoverflow.com/questions/31880720"
SCOPE = "binary"
BUG = "Softmax over a single output unit (always 1.0) in front of binary cross-entropy."
FIX = "Dense(1, activation='sigmoid')."
EXPECTED = ("SOFTMAX_ON_MULTILABEL", "CONSTANT_OUTPUT")
FIX_KEYWORDS = ("sigmoid", "BCEWithLogitsLoss")
ALARM = True
PORT = ("kept: 128 inputs, Dense(50)-relu-relu, Dense(50)-relu, Dense(1) + softmax vs sigmoid, BCE, RMSprop "
        "(Keras default lr 1e-3); shrunk: the data to 256 random rows of a linear rule, batch 32")


def _data():
    return c.binary(256, 128, seed=31880)


def _model(head: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(128, 50), nn.ReLU(), nn.ReLU(), nn.Linear(50, 50), nn.ReLU(), nn.Linear(50, 1), head)


def buggy() -> Setup:
    x, y = _data()
    m = _model(nn.Softmax(dim=1))
    return Setup(m, nn.BCELoss(), x[:32], y[:32], torch.optim.RMSprop(m.parameters(), lr=1e-3), y)


def clean() -> Setup:
    x, y = _data()
    m = _model(nn.Sigmoid())
    return Setup(m, nn.BCELoss(), x[:32], y[:32], torch.optim.RMSprop(m.parameters(), lr=1e-3), y)
