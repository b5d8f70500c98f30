"""DeepLocalize 45442843: a binary target predicted by Dense(1)-sigmoid-Dense(1)-softmax trained with
mean absolute error; fixed to a sigmoid output and binary cross-entropy."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "Wardat-ISU/DeepLocalize"
PATH = "Benchmark/StackOverflow/45442843/{Buggy Code,Correct Code}/45442843.py"
POST = "https://stackoverflow.com/questions/45442843"
SCOPE = "binary"
BUG = "Softmax over one output unit (always 1.0) trained with mean absolute error on a 0/1 target."
FIX = "Dense(1, activation='sigmoid') with loss='binary_crossentropy'."
EXPECTED = ("SOFTMAX_ON_MULTILABEL", "CONSTANT_OUTPUT", "MSE_FOR_CLASSIFICATION")
FIX_KEYWORDS = ("sigmoid", "BCE", "binary_cross")
ALARM = True
PORT = ("kept: 1 input, Dense(1)-sigmoid-Dense(1)-softmax + L1 vs Dense(1)-sigmoid-Dense(1)-sigmoid + BCE, RMSprop "
        "(Keras default lr 1e-3), bool target as float; shrunk: the CSV to 400 random rows of a threshold rule, "
        "batch 64 (the thread's 200)")


def _data():
    x = c.features(400, 1, seed=4544)
    return x, (x > 0.2).float()


def _model(head: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(1, 1), nn.Sigmoid(), nn.Linear(1, 1), head)


def buggy() -> Setup:
    x, y = _data()
    m = _model(nn.Softmax(dim=1))
    return Setup(m, nn.L1Loss(), x[:64], y[:64], torch.optim.RMSprop(m.parameters(), lr=1e-3), y)


def clean() -> Setup:
    x, y = _data()
    m = _model(nn.Sigmoid())
    return Setup(m, nn.BCELoss(), x[:64], y[:64], torch.optim.RMSprop(m.parameters(), lr=1e-3), y)
