"""DeepLocalize 45337371: Dense layers applied to (features, 1) inputs end in Dense(1) + softmax with
binary cross-entropy: the softmax runs over a last axis of size 1 and outputs 1 everywhere; fixed
to 2-D inputs and Dense(1, activation='sigmoid')."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "Wardat-ISU/DeepLocalize"
PATH = "Benchmark/StackOverflow/45337371/{Buggy Code,Correct Code}/45337371.py"
POST = "https://stackoverflow.com/questions/45337371"
SCOPE = "binary"
BUG = "Softmax over a last axis of size 1 (always 1.0) in front of binary cross-entropy, on (N, features, 1) inputs."
FIX = "input_shape=(num_features,) and Dense(1, activation='sigmoid')."
EXPECTED = ("SOFTMAX_ON_MULTILABEL", "CONSTANT_OUTPUT")
FIX_KEYWORDS = ("sigmoid", "BCEWithLogitsLoss")
ALARM = True
PORT = ("kept: (N, F, 1) inputs with Dense(60)-relu-Dense(50)-relu-Dense(1)-softmax on the last axis vs (N, F) "
        "inputs with the same layers and a sigmoid, BCE, Adam; changed: the thread's uniform random soft targets "
        "are 0/1 targets of a linear rule (per position for the buggy shape); shrunk: 1000 rows to a batch of 32, "
        "F = 8")

F = 8


def buggy() -> Setup:
    x = c.features(32, F, seed=45)
    y = (x > 0).float().unsqueeze(-1)
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(1, 60), nn.ReLU(), nn.Linear(60, 50), nn.ReLU(), nn.Linear(50, 1), nn.Softmax(dim=-1))
    return Setup(m, nn.BCELoss(), x.unsqueeze(-1), y, torch.optim.Adam(m.parameters(), lr=1e-3))


def clean() -> Setup:
    x, y = c.binary(320, F, seed=45)
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(F, 60), nn.ReLU(), nn.Linear(60, 50), nn.ReLU(), nn.Linear(50, 1), nn.Sigmoid())
    return Setup(m, nn.BCELoss(), x[:32], y[:32], torch.optim.Adam(m.parameters(), lr=1e-3), y)
