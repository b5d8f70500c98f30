"""DeepLocalize 59325381: MNIST where the labels are divided by 255 together with the pixels; sparse
categorical cross-entropy then casts every label to class 0."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "Wardat-ISU/DeepLocalize"
PATH = "Benchmark/StackOverflow/59325381/{Buggy Code,Correct Code}/59325381.py"
POST = "https://stackoverflow.com/questions/59325381"
SCOPE = "single-label"
BUG = "y_train = y_train / 255 scales the class labels like the pixels, so every label becomes class 0 when cast to an index."
FIX = "Leave the labels as class indices (the correct code also moves to one-hot targets and categorical cross-entropy)."
EXPECTED = ()
FIX_KEYWORDS = ("label", "target")
ALARM = True
PORT = ("kept: Flatten-Dense(128)-relu-Dense(10)-softmax, sparse categorical CE (ported as NLLLoss on the log of the "
        "softmax, the same value), Adam, labels / 255 cast to long as Keras's sparse loss casts them (bug) vs the "
        "labels themselves (fix); shrunk: 28x28 to 8x8 images of 10 classes (a prototype per class plus noise), "
        "a batch of 64. No code names constant class targets, so EXPECTED is empty")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10), nn.Softmax(dim=1))

    def forward(self, x):
        return self.body(x)


def sparse_categorical_crossentropy(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Keras's sparse_categorical_crossentropy on probabilities and integer labels."""
    return nn.functional.nll_loss(probs.clamp(1e-7, 1.0).log(), labels)


def _data():
    x, y = c.prototypes(640, 64, 10, seed=593, scale=1.5)
    return x.reshape(-1, 1, 8, 8), y


def _setup(labels) -> Setup:
    x, _ = _data()
    torch.manual_seed(0)
    m = Net()
    return Setup(m, sparse_categorical_crossentropy, x[:64], labels[:64], torch.optim.Adam(m.parameters(), lr=1e-3))


def buggy() -> Setup:
    _, y = _data()
    return _setup((y / 255).long())


def clean() -> Setup:
    _, y = _data()
    return _setup(y)
