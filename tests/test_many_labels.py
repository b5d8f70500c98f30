"""helpers.many_labels (notebook 09): ranking metrics, decision rules, the all-zero phase, memory counts,
the prior-bias setup and the notebook's parameter rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import ndcg_score

from helpers import data as D
from helpers import many_labels as M
from helpers import mistakes, params

Y = np.array([[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 0, 0]])
S = np.array([[0.9, 0.8, 0.1, 0.2], [0.5, 0.4, 0.3, 0.2], [0.1, 0.2, 0.3, 0.4]])


def test_precision_at_k_by_hand():
    # row 0: top-1 {0} hits 1; top-2 {0, 1} hits 1. Row 1: top-1 {0} hits 0; top-2 {0, 1} hits 1. Row 2 has no positive.
    assert M.precision_at_k(Y, S, 1) == pytest.approx(0.5)
    assert M.precision_at_k(Y, S, 2) == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert M.precision_at_k(Y, S, 4) == pytest.approx((2 / 4 + 1 / 4) / 2)


def test_ndcg_is_sklearns_on_rows_with_positives():
    assert M.ndcg_at_k(Y, S, 2) == pytest.approx(ndcg_score(Y[:2], S[:2], k=2))
    assert M.ranking_scores(Y, S, ks=(1, 2)).keys() == {"P@1", "nDCG@1", "P@2", "nDCG@2"}
    perfect = M.ranking_scores(Y[:2], Y[:2] + 0.0, ks=(1,))
    assert perfect == {"P@1": 1.0, "nDCG@1": 1.0}


@pytest.mark.parametrize("k", [0, 5, 1.5, True])
def test_bad_k_refused(k):
    with pytest.raises(ValueError, match=r"k="):
        M.precision_at_k(Y, S, k)


def test_no_positive_anywhere_refused():
    with pytest.raises(ValueError, match=r"no row has a positive"):
        M.ndcg_at_k(np.zeros((2, 3)), np.ones((2, 3)), 1)


def test_top_k_predictions():
    pred = M.top_k_predictions(S, 2)
    assert pred.sum(axis=1).tolist() == [2, 2, 2]
    assert pred[0].tolist() == [1, 1, 0, 0] and pred[2].tolist() == [0, 0, 1, 1]


def test_global_threshold_maximises_micro_f1():
    y = np.array([[1, 0], [1, 0], [0, 1], [0, 0]])
    p = np.array([[0.9, 0.2], [0.7, 0.1], [0.3, 0.72], [0.25, 0.05]])
    t = M.global_threshold(y, p)
    assert 0.25 < t <= 0.7  # keeps 0.3 (a positive) and drops 0.25 (a negative)
    assert ((p >= t) == y.astype(bool)).all()


def test_zero_phase():
    h = pd.DataFrame({"val_pred_pos_rate": [0.3, 0.0, 0.0, 0.01]})
    assert M.zero_phase(h) == 2  # the phase may start after the first epoch
    assert M.zero_phase(h.assign(val_pred_pos_rate=0.0)) == 4  # never left
    assert M.zero_phase(h.assign(val_pred_pos_rate=0.5)) == 0


def test_training_memory_counts_adam():
    model = torch.nn.Linear(10, 5)  # 55 float32 parameters
    mem = M.training_memory(model, batch_size=8, n_labels=5)
    assert mem["parameters"] == 220 and mem["adam_moments"] == 440
    assert mem["total"] == 4 * 220 + 2 * 8 * 5 * 4


def test_fit_setup_prior_bias_starts_at_the_prior():
    d = D.make_many_label_scenes(20, 200, 50, 50, seed=0)
    r = M.fit_setup(d, "bce_with_logits+prior_bias", epochs=1, seed=0, device="cpu", progress=False, lr=1e-12)
    bias = mistakes.last_linear(r.model).bias.detach()
    assert torch.allclose(bias, mistakes.prior_bias(d.Y_train), atol=1e-4)  # lr ~0: still the prior
    assert M.parse("focal+prior_bias") == ("focal", True) and M.parse("bce_with_logits") == ("bce_with_logits", False)
    with pytest.raises(ValueError):
        M.parse("bce_with_logits+nope")


def test_parameter_rules():
    M.setups_rule()("setups", ["bce_with_logits", "focal", "bce_with_logits+neg_over_pos+prior_bias"])
    for bad in ([], ["focal", "focal"], ["bce"], "focal", [1]):
        with pytest.raises(params.ParameterError, match=r"parameter `setups`"):
            M.setups_rule()("setups", bad)
    M.label_counts_rule()("label_counts", [])
    M.label_counts_rule()("label_counts", [20, 100, 1000])
    for bad in ([15], [100, 20], [20, 20], [20.0], None, [True]):
        with pytest.raises(params.ParameterError, match=r"parameter `label_counts`"):
            M.label_counts_rule()("label_counts", bad)
