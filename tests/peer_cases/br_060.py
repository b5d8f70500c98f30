"""Bug_Reproducibility 060 (Stack Overflow 61781193): an LSTM text classifier whose output is
F.softmax without dim on the (1, N, 3) last hidden state, then CrossEntropyLoss; the loss sits at
ln 3 = 1.0986 for every epoch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from helpers.diagnose.benchmark import Setup
from helpers.diagnose.monitor import Monitor
from tests.peer_cases import _common as c

SOURCE = "mehilshah/Bug_Reproducibility_DL_Bugs"
PATH = "Bugs/060/main.py (row 60 of Dataset/Dataset_Manual_Reproduction.csv: Bug ID 61781193)"
POST = "https://stackoverflow.com/questions/61781193"
SCOPE = "single-label"
BUG = "F.softmax without dim picks dim 0, the LSTM's layer axis of size 1, so every output is 1.0 and CrossEntropyLoss stays at ln 3."
FIX = "Return the logits (CrossEntropyLoss applies log_softmax itself), or softmax over the class dim."
EXPECTED = ("CONSTANT_OUTPUT",)
FIX_KEYWORDS = ("softmax", "logits")
ALARM = True
PORT = ("kept: Embedding-Dropout(0.3)-LSTM(batch_first)-Linear-relu-Dropout(0.8)-Linear-relu-Dropout-Linear(3) on "
        "h_t of shape (1, N, 3), softmax over dim 0 (what F.softmax picks without dim), .view(-1, 3) into "
        "CrossEntropyLoss, AdamW(lr 1e-2), class-index targets; changed: the class is a function of the last "
        "token (the thread's labels are random); shrunk: vocabulary 200 to 20, length 80 to 12, embedding 300 to "
        "16, hidden 100/1024/512 to 8/32/16, 120 training steps on batches of 32 for the monitor")

V, T = 20, 12


class Model(nn.Module):
    def __init__(self, softmax_dim: int | None):
        super().__init__()
        self.softmax_dim = softmax_dim
        self.embd, self.embd_dropout = nn.Embedding(V + 1, 16), nn.Dropout(0.3)
        self.LSTM = nn.LSTM(input_size=16, hidden_size=8, batch_first=True)
        self.lin1, self.lin2, self.lin3 = nn.Linear(8, 32), nn.Linear(32, 16), nn.Linear(16, 3)
        self.lin_dropout = nn.Dropout(0.8)

    def forward(self, inp):
        inp = self.embd_dropout(self.embd(inp))
        _, (h_t, _) = self.LSTM(inp)
        h_t = F.relu(self.lin_dropout(self.lin1(h_t)))
        h_t = F.relu(self.lin_dropout(self.lin2(h_t)))
        out = self.lin3(h_t)
        return out if self.softmax_dim is None else F.softmax(out, dim=self.softmax_dim)


def loss_fn(out, target):
    return F.cross_entropy(out.view(-1, 3), target)


def _data(n: int = 640):
    tokens = torch.randint(0, V, (n, T), generator=c.gen(60))
    return tokens, tokens[:, -1] % 3


def _train(softmax_dim) -> Monitor:
    x, y = _data()
    torch.manual_seed(0)
    m = Model(softmax_dim)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    mon = Monitor(3, loss="softmax")
    for step in range(120):
        xb, yb = x[32 * (step % 20):32 * (step % 20 + 1)], y[32 * (step % 20):32 * (step % 20 + 1)]
        out = m(xb).view(-1, 3)
        loss = loss_fn(out, yb)
        opt.zero_grad()
        loss.backward()
        mon.update(loss=loss, probs=out.detach() if softmax_dim is not None else torch.softmax(out.detach(), 1),
                   targets=F.one_hot(yb, 3).float(), model=m)
        opt.step()
    return mon


def _setup(softmax_dim) -> Setup:
    x, y = _data()
    torch.manual_seed(0)
    m = Model(softmax_dim)
    return Setup(m, loss_fn, x[:32], y[:32], torch.optim.AdamW(m.parameters(), lr=1e-2),
                 train=lambda: _train(softmax_dim))


def buggy() -> Setup:
    return _setup(0)


def clean() -> Setup:
    return _setup(None)
