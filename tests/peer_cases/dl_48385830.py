"""DeepLocalize 48385830: MNIST digits with a Dense(30)-Dense(10) network without activations trained
with mean squared error on one-hot targets (SGD lr 3.0); fixed to sigmoid hidden units, a softmax
output and categorical cross-entropy."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c
from tests.peer_cases._losses import categorical_crossentropy

SOURCE = "Wardat-ISU/DeepLocalize"
PATH = "Benchmark/StackOverflow/48385830/{Buggy Code,Correct Code}/48385830.py"
POST = "https://stackoverflow.com/questions/48385830"
SCOPE = "single-label"
BUG = "A linear network (no activations) trained with mean squared error on one-hot class targets."
FIX = "activation='sigmoid' on the hidden layer, activation='softmax' on the output, loss='categorical_crossentropy'."
EXPECTED = ("MSE_FOR_CLASSIFICATION",)
FIX_KEYWORDS = ("CrossEntropyLoss", "cross_entropy", "softmax")
ALARM = True
PORT = ("kept: Dense(30)-Dense(10) linear + MSE vs Dense(30)-sigmoid-Dense(10)-softmax + categorical CE, weights "
        "and biases N(0, 1), SGD(lr 3.0), one-hot targets; shrunk: 784 inputs to 64, 60,000 rows to a batch of 64")


def _data():
    x, y = c.classes(640, 64, 10, seed=48)
    return x, c.one_hot(y, 10)


def _model(hidden: list[nn.Module], head: list[nn.Module]) -> nn.Module:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(64, 30), *hidden, nn.Linear(30, 10), *head)
    for layer in m:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, std=1.0)
            nn.init.normal_(layer.bias, std=1.0)
    return m


def buggy() -> Setup:
    x, y = _data()
    m = _model([], [])
    return Setup(m, nn.MSELoss(), x[:64], y[:64], torch.optim.SGD(m.parameters(), lr=3.0), y)


def clean() -> Setup:
    x, y = _data()
    m = _model([nn.Sigmoid()], [nn.Softmax(dim=1)])
    return Setup(m, categorical_crossentropy, x[:64], y[:64], torch.optim.SGD(m.parameters(), lr=3.0), y)
