"""helpers.label_claims: notebook 08's claim tests, scopes and evidence, on hand-made results."""

import numpy as np
import pandas as pd

from helpers import label_claims


def _by(noise_map, missing_rate):
    rows = [{"kind": k, "share": s, "map": m, "pred_pos_rate": r, "mean recall": 0.4, "macro_f1": 0.5}
            for k, s, m, r in (("noise", 0.0, 0.7, 0.2), ("noise", 0.3, noise_map, 0.2), ("missing", 0.0, 0.7, 0.2),
                               ("missing", 0.3, 0.6, missing_rate))]
    return pd.DataFrame(rows).set_index(["kind", "share"])


def test_corruption_claims_hold_fail_and_scope():
    cc = label_claims.corruption(_by(0.65, 0.1), [0.0, 0.3], steps=100, test_frequency=0.2)
    assert cc["label_noise_lowers_map"]["holds"]() and cc["missing_labels_lower_predicted_rate"]["holds"]()
    assert cc["label_noise_lowers_map"]["applies"] and cc["label_noise_lowers_map"]["evidence"]["map_ref"] == 0.7
    bad = label_claims.corruption(_by(0.75, 0.3), [0.0, 0.3], steps=100, test_frequency=0.2)
    assert not bad["label_noise_lowers_map"]["holds"]() and not bad["missing_labels_lower_predicted_rate"]["holds"]()
    short = label_claims.corruption(_by(0.65, 0.1), [0.0, 0.3], steps=40, test_frequency=0.2)
    assert not short["label_noise_lowers_map"]["applies"] and "40 here" in short["label_noise_lowers_map"]["why_not"]
    weak = label_claims.corruption(_by(0.65, 0.1), [0.0, 0.3], steps=100, test_frequency=0.5)  # clean mAP near chance
    assert not weak["label_noise_lowers_map"]["applies"] and weak["missing_labels_lower_predicted_rate"]["applies"]


def _per_label(f1_random_zero, seeds=5, ap=0.3):
    rows = []
    for s in range(seeds):
        for how in ("random", "stratified"):
            zero = how == "random" and s == 0
            rows.append({"split": how, "seed": s, "label": "9", "val positives": 0 if zero else 2,
                         "test F1": f1_random_zero if zero else 0.4, "test AP": ap, "test frequency": 0.02})
    return pd.DataFrame(rows)


def test_split_claims():
    Y_pool = np.zeros((500, 3))
    Y_pool[:40, 2] = 1  # the rare label: 40 positives, 1.6 expected in a 4 % validation carve
    sc = label_claims.splits(_per_label(0.1), Y_pool, [2], 0.04, 5)
    left, cost = sc["random_split_leaves_rare_labels_without_val_positives"], sc["no_val_positive_costs_rare_test_f1"]
    assert left["holds"] and left["applies"] and left["evidence"]["zero_random"] == 1
    assert cost["applies"] and cost["holds"]() and cost["evidence"]["test_f1_random"] == 0.1
    assert not label_claims.splits(_per_label(0.6), Y_pool, [2], 0.04, 5)["no_val_positive_costs_rare_test_f1"]["holds"]()
    unlearned = label_claims.splits(_per_label(0.1, ap=0.03), Y_pool, [2], 0.04, 5)["no_val_positive_costs_rare_test_f1"]
    assert not unlearned["applies"]  # test AP under 3x the frequency: the rare label was not learned
    assert not label_claims.splits(_per_label(0.1, seeds=3), Y_pool, [2], 0.04, 3)[
        "random_split_leaves_rare_labels_without_val_positives"]["applies"]


def test_misaligned_claim_is_not_applicable_when_the_test_split_lacks_a_label():
    """A small test split without some label: the test-only binarizer gives fewer columns, no model can be scored
    on them (evaluation refuses the shapes), so the notebook has no misaligned row and the claim cannot be judged."""
    from helpers.labels import check_split_labels

    rng = np.random.default_rng(0)
    Y_train = (rng.random((200, 10)) < 0.3).astype(np.float32)
    Y_own = (rng.random((16, 7)) < 0.3).astype(np.float32)  # 7 of the 10 labels in the test split
    aligned = pd.DataFrame({"aligned": {"tuned macro-F1": 0.8, "mAP": 0.9, "mAP of label frequencies": 0.3}}).T
    checks = {"aligned, labels only": check_split_labels(Y_train, Y_train[:16]),
              "misaligned, labels only": check_split_labels(Y_train, Y_own),
              "misaligned, with names": check_split_labels(Y_train, Y_own, names_a=list("abcdefghij"),
                                                           names_b=list("abcdefg"))}
    cc = label_claims.columns(aligned, {"aligned": 0.3}, checks, ["h"], steps=10**6, Y_train=Y_train, Y_test_own=Y_own)
    near = cc["misaligned_test_near_chance"]
    assert near["applies"] is False and "the test split lacks a label" in near["why_not"]
    assert cc["split_check_flags_misaligned_columns"]["holds"] is True  # the width alone is flagged
    full = pd.concat([aligned, pd.DataFrame({"misaligned": {"tuned macro-F1": 0.1, "mAP": 0.35,
                                                            "mAP of label frequencies": 0.3}}).T])
    cc = label_claims.columns(full, {"aligned": 0.3, "misaligned": 0.3}, checks, ["h"], steps=10**6, Y_train=Y_train,
                              Y_test_own=Y_train[:16])
    assert cc["misaligned_test_near_chance"]["applies"] is True and cc["misaligned_test_near_chance"]["holds"]() is True
