"""Bug_Reproducibility 066 (Stack Overflow 75915809, "Accuracy value more than 1 with
nn.BCEWithLogitsLoss() loss function pytorch in Binary Classifier"): a ResNet with one output unit
trained with BCEWithLogitsLoss, whose predictions are torch.max(outputs, 1)."""

from __future__ import annotations

import torch
from torch import nn

from helpers.diagnose.benchmark import Setup
from tests.peer_cases import _common as c

SOURCE = "mehilshah/Bug_Reproducibility_DL_Bugs"
PATH = "Bugs/066/main.py (row 66 of Dataset/Dataset_Manual_Reproduction.csv: Bug ID 75915809)"
POST = "https://stackoverflow.com/questions/75915809"
SCOPE = "binary"
BUG = "Predictions are the argmax over a single output column (always class 0), compared with (N, 1) labels, so the accuracy is wrong (it even exceeds 1 by broadcasting)."
FIX = "preds = (outputs > 0) (sigmoid(outputs) > 0.5), shaped like the labels."
EXPECTED = ("ARGMAX_AS_MULTILABEL",)
FIX_KEYWORDS = ("sigmoid", "> 0")
ALARM = True
PORT = ("kept: a CNN with fc = Linear(features, 1), BCEWithLogitsLoss, labels.unsqueeze(1).float(), "
        "SGD(lr 0.001, momentum 0.9), preds = torch.max(outputs, 1)[1]; shrunk: ResNet18 on 224x224 ants/bees to "
        "a 2-conv CNN on 3x16x16 images of a linear rule, batch 4 to 32")


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(16, 1))


def _argmax(model, x):
    out = model(x)
    _, preds = torch.max(out, 1)
    return preds.float(), out


def _threshold(model, x):
    out = model(x)
    return (out > 0).float(), out


def _setup(predict) -> Setup:
    x, y = c.binary(320, 3 * 16 * 16, seed=66)
    m = _model()
    return Setup(m, nn.BCEWithLogitsLoss(), x[:32].reshape(-1, 3, 16, 16), y[:32],
                 torch.optim.SGD(m.parameters(), lr=0.001, momentum=0.9), y, predict=predict)


def buggy() -> Setup:
    return _setup(_argmax)


def clean() -> Setup:
    return _setup(_threshold)
