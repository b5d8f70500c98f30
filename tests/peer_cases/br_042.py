"""Bug_Reproducibility 042 (Stack Overflow 71457035, "PyTorch NN not training"): a one-output binary
classifier ending in log_softmax(dim=1), trained with BCELoss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "mehilshah/Bug_Reproducibility_DL_Bugs"
PATH = "Bugs/042/main.py (row 42 of Dataset/Dataset_Manual_Reproduction.csv: Bug ID 71457035)"
POST = "https://stackoverflow.com/questions/71457035"
SCOPE = "binary"
BUG = "log_softmax over a single output unit is always 0 (log 1), so BCELoss gets a constant that is not a probability and nothing trains."
FIX = "A sigmoid on the single output (or BCEWithLogitsLoss on the raw output)."
EXPECTED = ("SOFTMAX_ON_MULTILABEL", "CONSTANT_OUTPUT", "PROBS_EXPECTED")
FIX_KEYWORDS = ("sigmoid", "BCEWithLogitsLoss")
ALARM = True
PORT = ("kept: Linear(22, 10)-relu-Linear(10, 1), F.log_softmax(dim=1) vs torch.sigmoid in forward, BCELoss, "
        "SGD(lr 0.003), (N, 1) float targets; changed: the thread's targets are all ones (np.ones), here 0/1 of a "
        "linear rule so the clean twin can learn; shrunk: 4000 rows to 400, the full-batch step to a batch of 64")


class Classifier(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.fc1, self.fc2, self.head = nn.Linear(22, 10), nn.Linear(10, 1), head

    def forward(self, x):
        x = x.view(x.shape[0], -1)
        return self.head(self.fc2(F.relu(self.fc1(x))))


def _setup(head) -> Setup:
    x, y = c.binary(400, 22, seed=42)
    torch.manual_seed(0)
    m = Classifier(head)
    return Setup(m, nn.BCELoss(), x[:64], y[:64], torch.optim.SGD(m.parameters(), lr=0.003), y)


def _log_softmax(z):
    return F.log_softmax(z, dim=1)


def buggy() -> Setup:
    return _setup(_log_softmax)


def clean() -> Setup:
    return _setup(torch.sigmoid)
