"""TrainCheck pytorch-forum-84911 ("Obtaining abnormal changes in loss and accuracy"): fine-tuning a
pretrained CNN on CIFAR-100 where every parameter but the BatchNorm ones is frozen, the new
classifier too, and the optimizer holds only the frozen classifier."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "OrderLab/TrainCheck-Evaluation-Workloads"
PATH = "silent-issue-detection/bug-reprod-scripts/pytorch-forum-84911/{bug.py,fixed.py}"
POST = "https://discuss.pytorch.org/t/obtaining-abnormal-changes-in-loss-and-accuracy/84911"
SCOPE = "single-label"
BUG = "The classifier's parameters are set to requires_grad=False while the optimizer holds only them: nothing the optimizer steps can change."
FIX = "for param in model._fc.parameters(): param.requires_grad = True (fixed.py)."
EXPECTED = ("NO_LEARNING", "OPTIMIZER_PARAMS")
FIX_KEYWORDS = ("requires_grad",)
ALARM = True
PORT = ("kept: parameters frozen unless 'bn' is in the name, the classifier _fc = Linear(features, classes) frozen "
        "(bug) or trainable (fixed.py), Adam(model._fc.parameters(), lr 1e-3), CrossEntropyLoss, class-index "
        "targets; shrunk: EfficientNet-b0 (pretrained) to a 2-conv CNN with BatchNorm, CIFAR-100 224x224 to 10 "
        "classes of 3x16x16 images of a linear rule, batch 64")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16)
        self._fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.relu(self.bn2(self.conv2(x)))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def _setup(fc_trainable: bool) -> Setup:
    x, y = c.classes(640, 3 * 16 * 16, 10, seed=84911)
    torch.manual_seed(0)
    m = Net()
    opt = torch.optim.Adam(m._fc.parameters(), lr=0.001)
    for name, param in m.named_parameters():
        if "bn" not in name:
            param.requires_grad = False
    for param in m._fc.parameters():
        param.requires_grad = fc_trainable
    return Setup(m, nn.CrossEntropyLoss(), x[:64].reshape(-1, 3, 16, 16), y[:64], opt)


def buggy() -> Setup:
    return _setup(False)


def clean() -> Setup:
    return _setup(True)
