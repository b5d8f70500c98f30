"""DeepLocalize 50079585: a small CNN on three image classes read with class_mode='binary' and a
1-unit sigmoid + binary cross-entropy head; fixed to Dense(3) softmax + categorical cross-entropy."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "Wardat-ISU/DeepLocalize"
PATH = "Benchmark/StackOverflow/50079585/{Buggy Code,Correct Code}/50079585.py"
POST = "https://stackoverflow.com/questions/50079585"
SCOPE = "single-label"
BUG = "Three classes fed as one binary target (values 0, 1, 2) to a single sigmoid unit with binary cross-entropy."
FIX = "Dense(3) + softmax with loss='categorical_crossentropy' and class_mode='categorical'."
EXPECTED = ("TARGET_NOT_BINARY",)
FIX_KEYWORDS = ("CrossEntropyLoss", "softmax", "categorical")
ALARM = True
PORT = ("kept: conv-relu-pool blocks, Flatten, Dense-relu, Dense(1)+sigmoid + BCE vs Dense(3) + CrossEntropyLoss "
        "(softmax inside, index targets), RMSprop, batch 16, targets 0./1./2. as flow_from_directory's binary mode "
        "gives them; shrunk: 150x150 RGB images to 3x16x16, three conv blocks (32/32/64 filters) to two (8/8), "
        "Dense(64) to 16, Dropout(0.5) left out")


def _data():
    x, y = c.classes(160, 3 * 16 * 16, 3, seed=50)
    return x.reshape(-1, 3, 16, 16), y


def _model(out: int, head: list[nn.Module]) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 2 * 2, 16), nn.ReLU(), nn.Linear(16, out), *head)


def buggy() -> Setup:
    x, y = _data()
    m = _model(1, [nn.Sigmoid()])
    return Setup(m, nn.BCELoss(), x[:16], y[:16].float().unsqueeze(1), torch.optim.RMSprop(m.parameters(), lr=1e-3))


def clean() -> Setup:
    x, y = _data()
    m = _model(3, [])
    return Setup(m, nn.CrossEntropyLoss(), x[:16], y[:16], torch.optim.RMSprop(m.parameters(), lr=1e-3))
