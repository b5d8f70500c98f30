"""Bug_Reproducibility 080 (Stack Overflow 65949258): a logistic-regression module whose constructor is spelled ___init___
(three underscores), so its Linear layer is never created and the model has no parameters."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "mehilshah/Bug_Reproducibility_DL_Bugs"
PATH = "Bugs/080/main.py (row 80 of Dataset/Dataset_Manual_Reproduction.csv: Bug ID 65949258)"
POST = "https://stackoverflow.com/questions/65949258"
SCOPE = "single-label"
BUG = "The constructor is named ___init___, so nn.Module's __init__ runs instead and self.linear never exists: no parameters, and forward raises."
FIX = "Spell the constructor __init__ (and call the Linear layer, not the ModuleList)."
EXPECTED = ("MODEL_ERROR",)
FIX_KEYWORDS = ("__init__",)
ALARM = True
PORT = ("kept: the misspelled constructor, torch.sigmoid(Linear(28*28 -> out)) in forward; added: BCELoss on one-hot "
        "targets (the thread shows no loss) and no optimizer (the thread's SGD over the empty parameter list raises "
        "before any training, so the checker is given the model alone); shrunk: 784 inputs to 64, 128 outputs to 10")


class LR(nn.Module):
    def ___init___(self):  # the thread's typo
        super().___init___()
        self.linear = nn.ModuleList()
        self.linear.append(nn.Linear(in_features=64, out_features=10, bias=True))

    def forward(self, x):
        return torch.sigmoid(self.linear(x))


class FixedLR(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(in_features=64, out_features=10, bias=True)

    def forward(self, x):
        return torch.sigmoid(self.linear(x))


def _data():
    x, y = c.classes(320, 64, 10, seed=80)
    return x, c.one_hot(y, 10)


def buggy() -> Setup:
    x, y = _data()
    return Setup(LR(), nn.BCELoss(), x[:32], y[:32], None, y)


def clean() -> Setup:
    x, y = _data()
    torch.manual_seed(0)
    m = FixedLR()
    return Setup(m, nn.BCELoss(), x[:32], y[:32], torch.optim.SGD(m.parameters(), lr=0.005), y)
