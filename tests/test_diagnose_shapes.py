"""Issue 17 §3: the shapes and wrappers real code uses, each with a positive case built from the described
setup and a negative case on its correct twin (the small MLP and data of test_diagnose)."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from helpers.diagnose import Monitor, check_predictions, check_setup
from tests.test_diagnose import Y_TRAIN, D, L, X, Y, check, mlp


def _problems(report) -> set[str]:
    return {f.code for f in report if f.severity in ("error", "warning")}


# --- tuple outputs: the element shaped like the targets ----------------------------------------------------


class _Tuple(nn.Module):
    """Returns (seg_pred, exist_pred): a (N, 3, 4) map first, then the (N, L) head the loss uses."""

    def __init__(self, head=()):
        super().__init__()
        self.body, self.seg = mlp(*head), nn.Linear(D, 12)

    def forward(self, x):
        return self.seg(x).reshape(-1, 3, 4), self.body(x)


def test_tuple_output_is_read_at_the_element_shaped_like_the_targets():
    bad = check(_Tuple((nn.Sigmoid(),)))
    assert "DOUBLE_SIGMOID" in bad and "SHAPE_MISMATCH" not in bad, str(bad)
    assert "out[1]" in bad.get("OUTPUT_NOT_TENSOR").message
    good = check(_Tuple())
    assert not _problems(good), str(good)


# --- CrossEntropyLoss with (N, 2, L) logits: a two-way softmax per label -----------------------------------


class _TwoWay(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = mlp()
        self.head = nn.Linear(L, 2 * L)

    def forward(self, x):
        return self.head(self.body(x)).reshape(-1, 2, L)


def test_cross_entropy_two_way_per_label_is_valid():
    good = check(_TwoWay(), nn.CrossEntropyLoss(), y=Y.long())
    assert not _problems(good), str(good)
    assert good.facts.get("formulation") == "a two-way softmax per label"
    bad = check(criterion=nn.CrossEntropyLoss(), y=Y.long())  # (N, L) logits, (N, L) long multi-hot: the .long() mistake
    assert {"TARGET_DTYPE", "SOFTMAX_ON_MULTILABEL"} <= _problems(bad), str(bad)


# --- NO_LEARNING at a small, healthy lr --------------------------------------------------------------------


def test_small_healthy_lr_is_not_called_broken():
    for make in (lambda m: torch.optim.Adam(m.parameters(), lr=2e-5), lambda m: torch.optim.SGD(m.parameters(), lr=0.01)):
        model = mlp()
        rep = check(model, optimizer=make(model))
        assert "NO_LEARNING" not in _problems(rep), str(rep)
    model = mlp()
    small = check(model, optimizer=torch.optim.Adam(model.parameters(), lr=2e-5))
    assert small.get("NO_LEARNING") is None or small.get("NO_LEARNING").severity == "info"
    model = mlp()
    zero = check(model, optimizer=torch.optim.Adam(model.parameters(), lr=0.0))
    assert zero.get("NO_LEARNING").severity == "error"  # lr 0 stays broken


# --- LOSS_UNSTABLE and the positives per batch -------------------------------------------------------------


def _batches_with_rates(rates, n=32):
    g = torch.Generator().manual_seed(0)
    return [(torch.rand(n, L, generator=g) < r).float() for r in rates]


def test_loss_varying_with_positives_per_batch_is_not_unstable():
    rates = [0.05 if (i // 4) % 2 else 0.4 for i in range(40)]  # windows alternate sparse and dense batches
    targets = _batches_with_rates(rates)
    mon, osc = Monitor(L), Monitor(L)
    for i, y in enumerate(targets):
        true = float(y.mean())
        mon.update(loss=0.2 + 1.2 * true - 0.001 * i, targets=y)  # the loss follows the batch's positives
        osc.update(loss=0.4 + (0.25 if (i // 4) % 2 == 0 else -0.2) * (1 if i >= 20 else 0.2), targets=targets[0])
    assert "LOSS_UNSTABLE" not in mon.report(), str(mon.report())
    assert "LOSS_UNSTABLE" in osc.report()  # the same swings with the positives per batch constant


# --- the tensor the loss receives ----------------------------------------------------------------------------


class _DictProbs(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = mlp()

    def forward(self, x):
        z = self.body(x)
        return {"logits": z, "probs": torch.sigmoid(z)}


def test_loss_on_the_whole_dict_is_judged_at_the_entry_it_uses():
    bad = check(_DictProbs(), lambda out, y: F.binary_cross_entropy_with_logits(out["probs"], y))
    assert "DOUBLE_SIGMOID" in bad and "LOSS_ERROR" not in bad, str(bad)
    assert "out['probs']" in bad.get("OUTPUT_NOT_TENSOR").message
    good = check(_DictProbs(), lambda out, y: F.binary_cross_entropy_with_logits(out["logits"], y))
    assert not _problems(good), str(good)
    assert good.facts["criterion_uses"] == "out['logits']"


# --- pos_weight inverted -------------------------------------------------------------------------------------


def _sparse_train(n=2000, seed=0):
    rates = torch.tensor([0.4, 0.2, 0.1, 0.05, 0.02, 0.01])
    return (torch.rand(n, L, generator=torch.Generator().manual_seed(seed)) < rates).float()


def test_pos_weight_positives_over_negatives_is_inverted():
    tt = _sparse_train()
    pos, neg = tt.sum(0), len(tt) - tt.sum(0)
    bad = check(criterion=nn.BCEWithLogitsLoss(pos_weight=pos / neg), train_targets=tt)
    f = bad.get("POS_WEIGHT_INVERTED")
    assert f is not None and "rarest label" in f.message, str(bad)
    good = check(criterion=nn.BCEWithLogitsLoss(pos_weight=neg / pos), train_targets=tt)
    assert "POS_WEIGHT_INVERTED" not in good
    assert "POS_WEIGHT_INVERTED" not in check(criterion=nn.BCEWithLogitsLoss(pos_weight=torch.tensor(3.0)),
                                              train_targets=tt)


# --- label columns in another order at evaluation ------------------------------------------------------------


def test_label_columns_reordered_at_evaluation():
    tt, ev = _sparse_train(seed=1), _sparse_train(n=1000, seed=2)
    order = list(reversed(range(L)))  # e.g. names sorted another way
    preds = torch.zeros_like(ev)
    bad = check_predictions(preds, ev[:, order], train_targets=tt)
    assert "LABEL_COLUMNS_MISALIGNED" in bad, str(bad)
    assert "LABEL_COLUMNS_MISALIGNED" not in check_predictions(preds, ev, train_targets=tt)


# --- wording -------------------------------------------------------------------------------------------------


def test_clean_report_and_fix_lines_keep_the_users_choices():
    model = mlp()
    clean = check(model, optimizer=torch.optim.Adam(model.parameters()))
    assert "none of the" in clean.to_text() and "known mistakes" in clean.to_text()
    model = mlp()
    stale = check(model, optimizer=torch.optim.SGD(mlp().parameters(), lr=0.05))
    fix = stale.get("NO_LEARNING").fix
    assert "torch.optim.SGD" in fix and "Adam" not in fix, fix


# --- HuggingFace-style outputs -------------------------------------------------------------------------------


@dataclasses.dataclass
class _SequenceClassifierOutput:  # the interface of transformers' ModelOutput: .loss and .logits
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None


class _HFStyle(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = mlp()

    def forward(self, x):
        return _SequenceClassifierOutput(logits=self.body(x))


def test_huggingface_style_output_with_integer_multi_hot_labels():
    # integer labels: problem_type inference picks single-label cross-entropy
    bad = check(_HFStyle(), nn.CrossEntropyLoss(), y=Y.long())
    assert "TARGET_DTYPE" in bad and "problem_type" in bad.get("TARGET_DTYPE").message, str(bad)
    assert ".logits" in bad.get("OUTPUT_NOT_TENSOR").message
    good = check(_HFStyle(), nn.BCEWithLogitsLoss())  # float multi-hot labels, problem_type multi_label
    assert not _problems(good), str(good)
    hf_loss = check(_HFStyle(), lambda out, y: F.binary_cross_entropy_with_logits(out.logits, y))
    assert not _problems(hf_loss) and hf_loss.facts["criterion_uses"] == "out.logits", str(hf_loss)


# --- single-label setups -------------------------------------------------------------------------------------


def test_one_hot_data_under_bce_is_called_single_label_not_an_error():
    one_hot = F.one_hot(Y.argmax(1), L).float()
    tt = F.one_hot(Y_TRAIN.argmax(1), L).float()
    rep = check(y=one_hot, train_targets=tt)
    assert "SINGLE_LABEL_TARGETS" in rep and rep.ok, str(rep)
    assert "SINGLE_LABEL_TARGETS" not in check()
    idx = check_setup(mlp(), nn.CrossEntropyLoss(), X, Y.argmax(1))
    assert "SINGLE_LABEL_TARGETS" in idx and idx.ok and not _problems(idx), str(idx)
