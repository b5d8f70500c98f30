"""One positive and one negative case for every rule in the diagnose registry, and a test that no
registered code lacks them. check_setup rules run on the small MLP of test_diagnose; prediction
and monitor rules on hand-made numbers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.diagnose import RULES, Monitor, Report, check_predictions
from tests.test_diagnose import Y_TRAIN, D, L, X, Y, check, make_data, mlp


def _y_without(label: int) -> torch.Tensor:
    y = Y.clone()
    y[:, label] = 0
    return y


def _tt_with(label: int, positives: int) -> torch.Tensor:
    tt = Y_TRAIN.clone()
    tt[:, label] = 0
    tt[:positives, label] = 1
    return tt


def _zero_model() -> nn.Module:
    model = mlp()
    for p in model.parameters():
        nn.init.zeros_(p)
    return model


def _biased(value: float) -> nn.Module:
    model = mlp()
    with torch.no_grad():
        model[3].bias.fill_(value)
    return model


class _Dict(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = mlp()

    def forward(self, x):
        return {"logits": self.body(x)}


def _focal(out, y):
    p = torch.sigmoid(out)
    return (-(y * (1 - p) ** 2 * torch.log(p + 1e-6)) - (1 - y) * p**2 * torch.log(1 - p + 1e-6)).mean()


def _raises(out, y):
    raise ValueError("boom")


def _masked_bce(out, y):
    known = (y >= 0).float()
    return (F.binary_cross_entropy_with_logits(out, y.clamp(min=0), reduction="none") * known).sum() / known.sum()


_Y_MASKED = torch.where((Y == 0) & (torch.arange(L) % 3 == 0), torch.tensor(-1.0), Y)  # some negatives unknown
_FREQ = Y_TRAIN.mean(0)


def _opt(make):
    model = mlp()
    return model, make(model)


def _optimizer_case(make, **kw) -> Report:
    model, opt = _opt(make)
    return check(model, optimizer=opt, **kw)


# --- prediction and monitor fixtures -----------------------------------------------------------------

_LOGITS = torch.randn(200, L, generator=torch.Generator().manual_seed(3)) * 2
_YP = (torch.sigmoid(_LOGITS + torch.randn(200, L, generator=torch.Generator().manual_seed(4))) > 0.5).float()
_YP[_YP.sum(1) < 2, :2] = 1  # several labels per row
_SWAP = [1, 0, *range(2, L)]  # two label columns exchanged at evaluation
_SPARSE = torch.zeros(200, 20)
_SPARSE[torch.arange(200), torch.arange(200) % 20] = 1  # 5% positive


def _monitor(losses, *, outputs=None, targets=None, grads=None, epochs=None, **kw) -> Report:
    mon = Monitor(L, **kw)
    for i, v in enumerate(losses):
        mon.update(loss=torch.tensor(float(v)), outputs=outputs, targets=targets,
                   grad_norm=None if grads is None else grads[i])
    for e in epochs or []:
        mon.end_epoch(**e)
    return mon.report()


_FALLING = [1.0 * 0.9**i for i in range(40)]
_FLAT_CHANCE = [math.log(2) + 0.002 * ((-1) ** i) for i in range(40)]
_Y_SPARSE_TRAIN = (torch.rand(500, L, generator=torch.Generator().manual_seed(5)) < 0.1).float()
_PRIOR = float(-(lambda p: p * p.log() + (1 - p) * (1 - p).log())(_Y_SPARSE_TRAIN.mean(0)).mean())
_AT_PRIOR = [0.69 - (0.69 - _PRIOR) * (1 - 0.8**i) for i in range(40)]  # falls to the prior and stays
_NOISY_FLAT = [0.5 + 0.05 * math.sin(1.7 * i) for i in range(40)]  # moves from batch to batch, not over the run


def _epochs_monitor(train, val, rate) -> Report:
    mon = Monitor(L)
    for t, v, r in zip(train, val, rate, strict=True):
        for _ in range(5):
            mon.update(loss=torch.tensor(t))
        mon.end_epoch(val_metric=v, val_pred_rate=r)
    return mon.report()


# code -> (positive case, negative case); each returns a Report
CASES = {
    "INPUT_DTYPE": (lambda: check(x=X.double()), lambda: check()),
    "SHAPE_MISMATCH": (lambda: check(y=Y[:50]), lambda: check()),
    "NON_FINITE": (lambda: check(x=torch.where(torch.arange(D) == 0, float("nan"), X)), lambda: check()),
    "SINGLE_LABEL_TARGETS": (lambda: check(criterion=nn.CrossEntropyLoss(), y=Y.argmax(1), train_targets=None),
                             lambda: check(criterion=nn.CrossEntropyLoss())),
    "TARGET_DTYPE": (lambda: check(y=Y.long()), lambda: check()),
    "TARGET_NOT_BINARY": (lambda: check(y=Y * 2), lambda: check()),
    "NO_TRAIN_TARGETS": (lambda: check(train_targets=None), lambda: check()),
    "EMPTY_LABEL": (lambda: check(train_targets=_tt_with(0, 0)), lambda: check()),
    "RARE_LABEL": (lambda: check(train_targets=_tt_with(0, 2)), lambda: check()),
    "BATCH_TOO_SMALL": (lambda: check(y=_y_without(2)), lambda: check()),
    "MODEL_ERROR": (lambda: check(nn.Linear(D + 3, L)), lambda: check()),
    "OUTPUT_NOT_TENSOR": (lambda: check(_Dict()), lambda: check()),
    "SOFTMAX_ON_MULTILABEL": (lambda: check(criterion=nn.CrossEntropyLoss()), lambda: check()),
    "DOUBLE_SIGMOID": (lambda: check(mlp(nn.Sigmoid())), lambda: check()),
    "LOGITS_NONNEGATIVE": (lambda: check(mlp(nn.ReLU())), lambda: check()),
    "PROBS_EXPECTED": (lambda: check(criterion=nn.BCELoss()), lambda: check(mlp(nn.Sigmoid()), nn.BCELoss())),
    "SIGMOID_THEN_BCELOSS": (lambda: check(mlp(nn.Sigmoid()), nn.BCELoss()), lambda: check()),
    "MSE_FOR_CLASSIFICATION": (lambda: check(criterion=nn.MSELoss()), lambda: check()),
    "CONSTANT_OUTPUT": (lambda: check(_zero_model()), lambda: check()),
    "LOSS_UNKNOWN": (lambda: check(criterion=_focal), lambda: check()),
    "LOSS_ERROR": (lambda: check(criterion=_raises), lambda: check()),
    "LOSS_REDUCTION": (lambda: check(criterion=nn.BCEWithLogitsLoss(reduction="none")), lambda: check()),
    "LOSS_AT_INIT": (lambda: check(x=X * 1000), lambda: check()),
    "BIAS_INIT": (lambda: check(x=make_data(rate=0.05)[0], y=make_data(rate=0.05)[1], train_targets=None),
                  lambda: check()),
    "POS_WEIGHT_INVALID": (lambda: check(criterion=nn.BCEWithLogitsLoss(pos_weight=torch.full((L,), math.inf))),
                           lambda: check(criterion=nn.BCEWithLogitsLoss(
                               pos_weight=(len(Y_TRAIN) - Y_TRAIN.sum(0)) / Y_TRAIN.sum(0)))),
    "POS_WEIGHT_INVERTED": (lambda: check(criterion=nn.BCEWithLogitsLoss(pos_weight=_FREQ / (1 - _FREQ))),
                            lambda: check(criterion=nn.BCEWithLogitsLoss(pos_weight=(1 - _FREQ) / _FREQ))),
    "MASKED_TARGETS": (lambda: check(criterion=_masked_bce, y=_Y_MASKED), lambda: check(criterion=_masked_bce)),
    "MASK_NOT_IGNORED": (lambda: check(y=_Y_MASKED), lambda: check(criterion=_masked_bce, y=_Y_MASKED)),
    "OPTIMIZER_PARAMS": (lambda: _optimizer_case(lambda m: torch.optim.Adam(m[0].parameters())),
                         lambda: _optimizer_case(lambda m: torch.optim.Adam(m.parameters()))),
    "LEARNING_RATE": (lambda: _optimizer_case(lambda m: torch.optim.Adam(m.parameters(), lr=1.0)),
                      lambda: _optimizer_case(lambda m: torch.optim.Adam(m.parameters(), lr=1e-3))),
    "WEIGHT_DECAY": (lambda: _optimizer_case(lambda m: torch.optim.Adam(m.parameters(), weight_decay=0.1)),
                     lambda: _optimizer_case(lambda m: torch.optim.AdamW(m.parameters()))),
    "MODEL_IN_EVAL": (lambda: check(mlp().eval()), lambda: check()),
    "NO_LEARNING": (lambda: _optimizer_case(lambda m: torch.optim.Adam(m.parameters(), lr=0.0)), lambda: check()),
    "COLLAPSED_PREDICTIONS": (lambda: check(_biased(8.0)), lambda: check()),
    "ARGMAX_AS_MULTILABEL": (lambda: check_predictions(F.one_hot(_LOGITS.argmax(1), L), _YP),
                             lambda: check_predictions((_LOGITS > 0).float(), _YP)),
    "THRESHOLD_ON_LOGITS": (lambda: check_predictions((_LOGITS > 0.5).float(), _YP, scores=_LOGITS),
                            lambda: check_predictions((_LOGITS > 0).float(), _YP, scores=_LOGITS)),
    "SOFTMAX_THRESHOLD": (lambda: check_predictions((_LOGITS.softmax(1) > 0.5).float(), _YP,
                                                    scores=_LOGITS.softmax(1)),
                          lambda: check_predictions((_LOGITS.sigmoid() > 0.5).float(), _YP,
                                                    scores=_LOGITS.sigmoid())),
    "ACCURACY_PARADOX": (lambda: check_predictions(torch.zeros_like(_SPARSE), _SPARSE),
                         lambda: check_predictions((_LOGITS > 0).float(), _YP)),
    "LABEL_COLUMNS_MISALIGNED": (lambda: check_predictions((_LOGITS > 0).float(), _YP[:, _SWAP], scores=_LOGITS,
                                                           train_targets=_YP),
                                 lambda: check_predictions((_LOGITS > 0).float(), _YP, scores=_LOGITS,
                                                           train_targets=_YP)),
    "LOSS_NON_FINITE": (lambda: _monitor([*_FALLING[:5], math.nan, *_FALLING[5:]]), lambda: _monitor(_FALLING)),
    "LOSS_AT_LN2": (lambda: _monitor(_FLAT_CHANCE), lambda: _monitor(_FALLING)),
    "LOSS_AT_PRIOR": (lambda: _monitor(_AT_PRIOR, train_targets=_Y_SPARSE_TRAIN),
                      lambda: _monitor([v * 0.5 for v in _AT_PRIOR], train_targets=_Y_SPARSE_TRAIN)),
    "LOSS_FLAT": (lambda: _monitor(_NOISY_FLAT), lambda: _monitor(_FALLING)),
    "PRED_RATE_COLLAPSE": (lambda: _monitor(_FALLING, outputs=torch.full((96, L), -3.0), targets=Y),
                           lambda: _monitor(_FALLING, outputs=(Y - 0.5) * 4, targets=Y)),
    "GRAD_VANISHING": (lambda: _monitor(_FALLING, grads=[0.5 * 0.5**i for i in range(40)]),
                       lambda: _monitor(_FALLING, grads=[0.5] * 40)),
    "GRAD_EXPLODING": (lambda: _monitor(_FALLING, grads=[0.5] * 30 + [1e5] * 10),
                       lambda: _monitor(_FALLING, grads=[0.5] * 40)),
    "LOSS_UNSTABLE": (lambda: _monitor(_FALLING[:20] + [0.5 + 0.1 * i for i in range(20)]),
                      lambda: _monitor(_FALLING)),
    "VAL_FLAT": (lambda: _epochs_monitor([1.0, 0.7, 0.5, 0.3], [0.50, 0.50, 0.505, 0.50], [0.2] * 4),
                 lambda: _epochs_monitor([1.0, 0.7, 0.5, 0.3], [0.50, 0.60, 0.70, 0.75], [0.2] * 4)),
    "ALL_ZERO_PHASE": (lambda: _epochs_monitor([0.5, 0.4, 0.3, 0.2], [0.0, 0.0, 0.4, 0.6], [0.0, 0.0, 0.1, 0.2]),
                       lambda: _epochs_monitor([0.5, 0.4, 0.3, 0.2], [0.3, 0.4, 0.5, 0.6], [0.1, 0.1, 0.1, 0.2])),
}


def test_every_registered_rule_has_a_positive_and_a_negative_case():
    assert set(CASES) == set(RULES), f"missing: {set(RULES) - set(CASES)}; unknown: {set(CASES) - set(RULES)}"
    for code, r in RULES.items():
        assert r.func is not None and r.func.code == code and r.doc and "\n" not in r.doc and r.fix
        assert r.see and r.see[:2].isdigit(), f"{code}: no notebook section to see (registry.SEE)"


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_positive(code):
    report = CASES[code][0]()
    assert code in report, f"{code} not reported:\n{report}"
    f = report.get(code)
    assert f.message and f.fix and f.severity in RULES[code].severities
    assert f"Next: notebook {RULES[code].see}." in f.message  # every finding names the next step


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_negative(code):
    report = CASES[code][1]()
    assert code not in report, f"{code} reported on the negative case:\n{report}"


def test_argmax_over_a_single_output_column():
    # a binary head (one logit per row) predicted with torch.max(outputs, 1)[1]: index 0 for every row
    g = torch.Generator().manual_seed(7)
    logits = torch.randn(64, 1, generator=g) * 2
    y = (torch.sigmoid(logits + torch.randn(64, 1, generator=g)) > 0.5).float()
    bad = check_predictions(torch.max(logits, 1)[1].float(), y, scores=logits)
    assert bad.get("ARGMAX_AS_MULTILABEL").severity == "error"
    assert "torch.max(outputs, 1)[1]" in bad.get("ARGMAX_AS_MULTILABEL").message
    # the thread's fix, and a head that truly predicts nothing positive (no score passes 0 or 0.5)
    assert "ARGMAX_AS_MULTILABEL" not in check_predictions((logits > 0).float(), y, scores=logits)
    low = -logits.abs() - 0.1
    assert "ARGMAX_AS_MULTILABEL" not in check_predictions(torch.zeros(64, 1), y, scores=low)
