"""DeepLocalize 44164749: an MLP on MNIST with a softmax + categorical cross-entropy head, which the
benchmark's "correct" program replaces by sigmoid + binary cross-entropy. The program loads MNIST
with to_categorical: one label per row, so both heads are valid and the right answer is to say the
task is single-label, with no multi-label error."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c
from tests.peer_cases._losses import categorical_crossentropy

SOURCE = "Wardat-ISU/DeepLocalize"
PATH = "Benchmark/StackOverflow/44164749/{Buggy Code,Correct Code}/44164749.py"
POST = "https://stackoverflow.com/questions/44164749"
SCOPE = "single-label"
BUG = "None in PyTorch terms: softmax + categorical cross-entropy on one-hot MNIST labels is the textbook single-label head."
FIX = "Dense(10, activation='sigmoid') with loss='binary_crossentropy' (the benchmark's correct code)."
EXPECTED = ("SINGLE_LABEL_TARGETS",)
FIX_KEYWORDS = ()
ALARM = False
PORT = ("kept: Dense-relu-Dense-relu-Dense(10) with softmax + categorical CE (Keras's formula on probabilities) vs "
        "sigmoid + BCE, one-hot float targets, SGD(lr 0.01, momentum 0.9, nesterov); shrunk: 784 inputs to 64, "
        "5000/600 hidden units to 128/32, 60,000 rows to a batch of 64 of 10 linear classes")


def _data():
    x, y = c.classes(640, 64, 10, seed=44)
    return x, c.one_hot(y, 10)


def _model(head: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 32), nn.ReLU(), nn.Linear(32, 10), head)


def _sgd(m):
    return torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True)


def buggy() -> Setup:
    x, y = _data()
    m = _model(nn.Softmax(dim=1))
    return Setup(m, categorical_crossentropy, x[:64], y[:64], _sgd(m), y)


def clean() -> Setup:
    x, y = _data()
    m = _model(nn.Sigmoid())
    return Setup(m, nn.BCELoss(), x[:64], y[:64], _sgd(m), y)
