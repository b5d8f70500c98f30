"""TrainCheck stackoverflow-60335387 ("pytorch MNIST example not converge"): the MNIST example's
training loop without optimizer.zero_grad(), so gradients accumulate over every step."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from helpers.diagnose.benchmark import Setup
from helpers.diagnose.monitor import Monitor
from tests.peer_cases import _common as c

SOURCE = "OrderLab/TrainCheck-Evaluation-Workloads"
PATH = "silent-issue-detection/bug-reprod-scripts/stackoverflow-60335387/{bug.py,fixed.py}"
POST = "https://stackoverflow.com/questions/60335387"
SCOPE = "single-label"
BUG = "optimizer.zero_grad() is missing from the loop: each step applies the sum of all gradients so far."
FIX = "optimizer.zero_grad() before each backward (fixed.py)."
EXPECTED = ()
FIX_KEYWORDS = ("zero_grad",)
ALARM = True
PORT = ("kept: Conv(32)-relu-Conv(64)-maxpool-Linear(128)-relu-Linear(10) returning logits, CrossEntropyLoss, "
        "Adam(lr 1e-4, the README's failing setting), the loop without / with zero_grad; shrunk: 28x28 MNIST to "
        "1x12x12 images of 10 classes (a prototype per class plus noise), channels 32/64/128 to 8/16/32, 300 steps on batches of 32 for the "
        "monitor. No code names accumulated gradients, so EXPECTED is empty: the case can be detected, not "
        "diagnosed")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 8, 3, 1), nn.Conv2d(8, 16, 3, 1)
        self.fc1, self.fc2 = nn.Linear(16 * 4 * 4, 32), nn.Linear(32, 10)

    def forward(self, x):
        x = F.max_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


def _data():
    x, y = c.prototypes(960, 144, 10, seed=603)
    return x.reshape(-1, 1, 12, 12), y


def _train(zero_grad: bool) -> Monitor:
    x, y = _data()
    torch.manual_seed(0)
    m = Net()
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    mon = Monitor(10, loss="softmax")
    for step in range(300):
        i = 32 * (step % 30)
        xb, yb = x[i:i + 32], y[i:i + 32]
        if zero_grad:
            opt.zero_grad()
        out = m(xb)
        loss = F.cross_entropy(out, yb)
        loss.backward()
        mon.update(loss=loss, outputs=out, targets=F.one_hot(yb, 10).float(), model=m)
        opt.step()
    return mon


def _setup(zero_grad: bool) -> Setup:
    x, y = _data()
    torch.manual_seed(0)
    m = Net()
    return Setup(m, nn.CrossEntropyLoss(), x[:32], y[:32], torch.optim.Adam(m.parameters(), lr=1e-4),
                 train=lambda: _train(zero_grad))


def buggy() -> Setup:
    return _setup(False)


def clean() -> Setup:
    return _setup(True)
