"""helpers.many_label_claims: notebook 09's claim tests, scopes and evidence, on hand-made results."""

import numpy as np
import pandas as pd

from helpers import many_label_claims as MC


def _freq(plain_top, over_top):
    return pd.DataFrame({"plain": [plain_top, 0.01], "oversampled": [over_top, 0.2]}, index=["7@0", "3@4"])


def _over(carried=0.6):
    return pd.Series({"most frequent label: plain": 0.3, "most frequent label: oversampled": 0.2,
                      "its draws that come from rows oversampled for a rarer label": carried})


def test_oversampling_claim_holds_fails_and_needs_co_occurring_labels():
    several = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=np.float32)  # cardinality 2
    c = MC.oversampling(_freq(0.3, 0.2), _over(), several)["oversampling_keeps_frequent_label_frequent"]
    assert c["holds"] and c["applies"]
    assert c["evidence"] == {"label": "7@0", "plain": 0.3, "oversampled": 0.2, "carried_share": 0.6}
    assert not MC.oversampling(_freq(0.3, 0.1), _over(), several)["oversampling_keeps_frequent_label_frequent"]["holds"]
    single = np.eye(3, dtype=np.float32)  # one label per row: nothing is carried along
    c = MC.oversampling(_freq(0.3, 0.2), _over(), single)["oversampling_keeps_frequent_label_frequent"]
    assert not c["applies"] and "cardinality above 1.05" in c["why_not"]


def _sweep(zero_small, zero_large, prior_better=True, counts=(20, 100)):
    rows = []
    for L, z in zip(counts, (zero_small, zero_large), strict=True):
        rows.append({"labels": L, "bias": "default", "val mAP, epoch 1": 0.1, "all-zero epochs": z})
        rows.append({"labels": L, "bias": "prior", "val mAP, epoch 1": 0.3 if prior_better else 0.05,
                     "all-zero epochs": 0})
    return pd.DataFrame(rows)


def test_sweep_claims_hold_fail_and_are_not_applicable_without_a_sweep():
    cc = MC.label_count_sweep(_sweep(1, 4), sweep_epochs=8)
    first, longer = cc["prior_bias_raises_first_epoch_map"], cc["all_zero_phase_longer_with_more_labels"]
    assert first["applies"] and first["holds"]() and first["evidence"]["map_epoch1"][20] == {"default": 0.1, "prior": 0.3}
    assert longer["applies"] and longer["holds"]() and longer["evidence"] == {"all_zero_epochs": {20: 1, 100: 4}, "epochs": 8}
    assert not MC.label_count_sweep(_sweep(1, 4, prior_better=False), 8)["prior_bias_raises_first_epoch_map"]["holds"]()
    assert not MC.label_count_sweep(_sweep(3, 3), 8)["all_zero_phase_longer_with_more_labels"]["holds"]()
    close = MC.label_count_sweep(_sweep(1, 4, counts=(50, 100)), 8)["all_zero_phase_longer_with_more_labels"]
    assert not close["applies"] and "at least 5 times" in close["why_not"]  # 100 < 5 x 50
    none = MC.label_count_sweep(pd.DataFrame(), 8)
    assert not none["prior_bias_raises_first_epoch_map"]["applies"] and none["prior_bias_raises_first_epoch_map"]["evidence"] == {"map_epoch1": {}}
    assert not none["all_zero_phase_longer_with_more_labels"]["applies"]


def test_short_budget_claim_holds_fails_and_keeps_its_scope():
    table = pd.DataFrame({"mAP": [0.3, 0.5]}, index=["bce_with_logits", MC.PRIOR])
    Y = np.zeros((100, 50), dtype=np.float32)
    Y[np.arange(100), np.arange(100) % 50] = 1  # density 0.02
    setups = list(table.index)
    c = MC.short_budget(table, setups, 6, Y, correct="bce_with_logits")["prior_bias_raises_test_map"]
    assert c["applies"] and c["holds"]() and c["evidence"]["map"] == {"bce_with_logits": 0.3, MC.PRIOR: 0.5}
    near = pd.DataFrame({"mAP": [0.3, 0.34]}, index=setups)
    assert not MC.short_budget(near, setups, 6, Y, correct="bce_with_logits")["prior_bias_raises_test_map"]["holds"]()
    assert not MC.short_budget(table, setups, 20, Y, correct="bce_with_logits")["prior_bias_raises_test_map"]["applies"]
    assert not MC.short_budget(table, setups, 6, np.ones((10, 5), np.float32), correct="bce_with_logits")[
        "prior_bias_raises_test_map"]["applies"]  # dense labels
    assert not MC.short_budget(table, ["bce_with_logits"], 6, Y, correct="bce_with_logits")["prior_bias_raises_test_map"]["applies"]
