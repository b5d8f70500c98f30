"""DeepLocalize 51930566: iris with one-hot targets and a Dense(4)-relu-Dense(3)-sigmoid head trained
with categorical cross-entropy; fixed to a softmax output."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "Wardat-ISU/DeepLocalize"
PATH = "Benchmark/StackOverflow/51930566/{Buggy Code,Correct Code}/51930566.py"
POST = "https://stackoverflow.com/questions/51930566"
SCOPE = "single-label"
BUG = "A sigmoid output (independent per class) where the single-label categorical cross-entropy expects a softmax."
FIX = "Dense(3, activation='softmax')."
EXPECTED = ()
FIX_KEYWORDS = ("softmax", "logits")
ALARM = True
PORT = ("kept: 4 inputs, Dense(4)-relu-Dense(3), sigmoid (bug) vs softmax (fix) output, Keras "
        "categorical_crossentropy on the outputs (it renormalizes them to sum to 1, then takes the log), one-hot "
        "targets, Adam, batch 5, 'normal' init (N(0, 0.05)); shrunk: iris's 150 rows to 150 random rows of 3 linear "
        "classes. No code names a sigmoid head on a single-label loss, so EXPECTED is empty")


def keras_categorical_crossentropy(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Keras's categorical_crossentropy on probabilities: renormalize each row, clip, log."""
    p = (y_pred / y_pred.sum(1, keepdim=True)).clamp(1e-7, 1 - 1e-7)
    return -(y_true * p.log()).sum(1).mean()


def _data():
    x, y = c.classes(150, 4, 3, seed=519)
    return x, c.one_hot(y, 3)


def _model(head: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 3), head)
    for layer in m:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, std=0.05)
            nn.init.zeros_(layer.bias)
    return m


def buggy() -> Setup:
    x, y = _data()
    m = _model(nn.Sigmoid())
    return Setup(m, keras_categorical_crossentropy, x[:5], y[:5], torch.optim.Adam(m.parameters(), lr=1e-3), y)


def clean() -> Setup:
    x, y = _data()
    m = _model(nn.Softmax(dim=1))
    return Setup(m, keras_categorical_crossentropy, x[:5], y[:5], torch.optim.Adam(m.parameters(), lr=1e-3), y)
