"""DeepLocalize 50481178: a binary problem (make_multilabel_classification with one class) with a
1-unit sigmoid + binary cross-entropy head, replaced by a 2-unit softmax + sparse categorical
cross-entropy. Both heads are valid for a binary target: the right answer is no alarm on either."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "Wardat-ISU/DeepLocalize"
PATH = "Benchmark/StackOverflow/50481178/{Buggy Code,Correct Code}/50481178.py"
POST = "https://stackoverflow.com/questions/50481178"
SCOPE = "binary"
BUG = "None in PyTorch terms: Dense(1) + sigmoid + binary cross-entropy on 0/1 targets is the textbook binary head."
FIX = "Dense(2, activation='softmax') with loss='sparse_categorical_crossentropy' (the benchmark's correct code)."
EXPECTED = ()
FIX_KEYWORDS = ()
ALARM = False
PORT = ("kept: 4 features, Dense 10-20-30-40-50 with relu, Dense(1)+sigmoid + BCE vs Dense(2) + CrossEntropyLoss "
        "(softmax inside, index targets), Adam, batch 10; shrunk: 1000 rows to 200 of a linear rule")


def _data():
    return c.binary(200, 4, seed=50481)


def _model(out: int, head: list[nn.Module]) -> nn.Module:
    torch.manual_seed(0)
    sizes, layers = [4, 10, 20, 30, 40, 50], []
    for a, b in zip(sizes, sizes[1:], strict=False):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(50, out), *head)


def buggy() -> Setup:
    x, y = _data()
    m = _model(1, [nn.Sigmoid()])
    return Setup(m, nn.BCELoss(), x[:10], y[:10], torch.optim.Adam(m.parameters(), lr=1e-3), y)


def clean() -> Setup:
    x, y = _data()
    m = _model(2, [])
    return Setup(m, nn.CrossEntropyLoss(), x[:10], y[:10, 0].long(), torch.optim.Adam(m.parameters(), lr=1e-3))
