"""DeepLocalize 38648195: a multi-label head (make_multilabel_classification, 3 labels) trained with
softmax + mean squared error; fixed to sigmoid + binary cross-entropy."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "Wardat-ISU/DeepLocalize"
PATH = "Benchmark/StackOverflow/38648195/{Buggy Code,Correct Code}/38648195.py"
POST = "https://stackoverflow.com/questions/38648195"
SCOPE = "multi-label"
BUG = "A softmax over 3 independent labels (rows with several labels) trained with MSE: the labels compete for one unit of probability."
FIX = "Dense(3, activation='sigmoid') with loss='binary_crossentropy'."
EXPECTED = ("SOFTMAX_ON_MULTILABEL", "MSE_FOR_CLASSIFICATION")
FIX_KEYWORDS = ("BCE", "binary_cross", "sigmoid")
ALARM = True
PORT = ("kept: Dense 20-relu-20-relu-3, softmax/sigmoid head, MSE/BCE, 20 features, 3 labels, batch 20, Keras 'sgd' "
        "(SGD lr 0.01); shrunk: 60,000 rows to a batch of 20 and 600 training rows of a linear multi-label rule")


def _data():
    return c.multilabel(600, 20, 3, seed=38)


def _model(head: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 20), nn.ReLU(), nn.Linear(20, 20), nn.ReLU(), nn.Linear(20, 3), head)


def buggy() -> Setup:
    x, y = _data()
    m = _model(nn.Softmax(dim=1))
    return Setup(m, nn.MSELoss(), x[:20], y[:20], torch.optim.SGD(m.parameters(), lr=0.01), y)


def clean() -> Setup:
    x, y = _data()
    m = _model(nn.Sigmoid())
    return Setup(m, nn.BCELoss(), x[:20], y[:20], torch.optim.SGD(m.parameters(), lr=0.01), y)
