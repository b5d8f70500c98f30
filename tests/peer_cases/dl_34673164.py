"""DeepLocalize 34673164: a binary problem (two one-hot columns) with a tanh MLP, a 2-unit softmax
and mean squared error; fixed to sigmoid + binary cross-entropy (and a BatchNormalization)."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "Wardat-ISU/DeepLocalize"
PATH = "Benchmark/StackOverflow/34673164/{Buggy Model,Correct Model}"
POST = "https://stackoverflow.com/questions/34673164"
SCOPE = "binary"
BUG = "A classifier trained with mean squared error on softmax outputs (with SGD lr 0.1, momentum 0.9)."
FIX = "Activation('sigmoid') with loss='binary_crossentropy', plus BatchNormalization() before the first Dense."
EXPECTED = ("MSE_FOR_CLASSIFICATION",)
FIX_KEYWORDS = ("BCE", "binary_cross", "cross-entropy", "crossentropy")
ALARM = True
PORT = ("kept: 16 inputs, Dense 64-tanh-64-tanh-2, softmax + MSE vs BatchNorm + sigmoid + BCE, one-hot targets, "
        "batch 16, SGD(lr 0.1, momentum 0.9, nesterov); shrunk: the CSV to 320 random rows of a linear rule")


def _data():
    x, y = c.classes(320, 16, 2, seed=34)
    return x, c.one_hot(y, 2)


def _sgd(m):
    return torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True)


def buggy() -> Setup:
    x, y = _data()
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2), nn.Softmax(dim=1))
    return Setup(m, nn.MSELoss(), x[:16], y[:16], _sgd(m), y)


def clean() -> Setup:
    x, y = _data()
    torch.manual_seed(0)
    m = nn.Sequential(nn.BatchNorm1d(16), nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                      nn.Linear(64, 2), nn.Sigmoid())
    return Setup(m, nn.BCELoss(), x[:16], y[:16], _sgd(m), y)
