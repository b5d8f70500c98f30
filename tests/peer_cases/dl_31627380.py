"""DeepLocalize 31627380: Titanic survival with to_categorical (two one-hot columns) and a 2-unit
softmax + categorical cross-entropy head, replaced by 2-unit sigmoid + binary cross-entropy. Both
are valid for one label per row; the right answer is single-label, no error."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c
from tests.peer_cases._losses import categorical_crossentropy

SOURCE = "Wardat-ISU/DeepLocalize"
PATH = "Benchmark/StackOverflow/31627380/{Buggy Code,Correct Code}/31627380.py"
POST = "https://stackoverflow.com/questions/31627380"
SCOPE = "single-label"
BUG = "None in PyTorch terms: a 2-way softmax + categorical cross-entropy on one-hot survival labels is valid."
FIX = "Activation('sigmoid') with loss='binary_crossentropy' (the benchmark's correct code)."
EXPECTED = ("SINGLE_LABEL_TARGETS",)
FIX_KEYWORDS = ()
ALARM = False
PORT = ("kept: Dense(512)-relu-Dropout(0.5)-Dense(2) with softmax + categorical CE vs sigmoid + BCE, one-hot "
        "targets of 2 columns, Adam; shrunk: 512 hidden units to 64, the Titanic CSV's 10 label-encoded columns to 10 random features")


def _data():
    x, y = c.classes(400, 10, 2, seed=31)
    return x, c.one_hot(y, 2)


def _model(head: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 2), head)


def buggy() -> Setup:
    x, y = _data()
    m = _model(nn.Softmax(dim=1))
    return Setup(m, categorical_crossentropy, x[:32], y[:32], torch.optim.Adam(m.parameters(), lr=1e-3), y)


def clean() -> Setup:
    x, y = _data()
    m = _model(nn.Sigmoid())
    return Setup(m, nn.BCELoss(), x[:32], y[:32], torch.optim.Adam(m.parameters(), lr=1e-3), y)
