"""helpers.labels: corruptions change exactly what they report, splits and scores behave."""

import numpy as np
import pytest

from helpers import data, labels


@pytest.fixture(scope="module")
def Y():
    rng = np.random.default_rng(0)
    Y = (rng.random((400, 6)) < [0.5, 0.3, 0.2, 0.1, 0.05, 0.03]).astype(np.float32)
    Y[0] = 1  # every label has a positive
    return Y


def test_flip_labels_flips_one_label_in_a_share_of_rows(Y):
    noisy, changed = labels.flip_labels(Y, 0.1, seed=3)
    assert changed.sum() == 40 and (changed.sum(axis=1) <= 1).all()
    assert ((noisy != Y) == changed).all() and noisy.dtype == Y.dtype
    same, none = labels.flip_labels(Y, 0.0)
    assert not none.any() and (same == Y).all()


def test_drop_positives_only_removes_positives(Y):
    missing, changed = labels.drop_positives(Y, 0.25, seed=1)
    assert changed.sum() == round(0.25 * Y.sum())
    assert (Y[changed] == 1).all() and (missing[changed] == 0).all() and (missing <= Y).all()


def test_shuffle_rows_keeps_label_sets(Y):
    sh = labels.shuffle_rows(Y, seed=0)
    assert sorted(map(tuple, sh)) == sorted(map(tuple, Y)) and not (sh == Y).all()


def test_bad_inputs_raise(Y):
    with pytest.raises(ValueError, match="share"):
        labels.flip_labels(Y, 1.5)
    with pytest.raises(ValueError, match="0/1"):
        labels.drop_positives(Y * 2, 0.1)
    with pytest.raises(ValueError, match="how"):
        labels.split_indices(Y, 0.2, how="kfold")


def test_label_lists():
    assert labels.to_label_lists(np.array([[1, 0, 1], [0, 0, 0]])) == [[0, 2], []]


def test_stratified_split_keeps_rare_label_shares(Y):
    rare = Y[:, -1].sum()
    counts = {how: [Y[labels.split_indices(Y, 0.2, seed=s, how=how)[1], -1].sum() for s in range(8)]
              for how in labels.SPLITTERS}
    assert np.std(counts["stratified"]) <= np.std(counts["random"])
    assert all(abs(c - 0.2 * rare) <= 1.5 for c in counts["stratified"])
    tr, va = labels.split_indices(Y, 0.2, seed=0)
    assert len(va) == 80 and len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(Y)


def test_out_of_fold_probs_never_sees_the_row(Y):
    X = np.arange(len(Y), dtype=np.float32)[:, None]
    seen = []

    def fit_predict(X_fit, Y_fit, X_held):
        assert not np.intersect1d(X_fit[:, 0], X_held[:, 0]).size
        seen.append(len(X_held))
        return np.full((len(X_held), Y_fit.shape[1]), 0.5)

    p = labels.out_of_fold_probs(X, Y, fit_predict, folds=4)
    assert sum(seen) == len(Y) and not np.isnan(p).any()


def test_find_issues_flags_obvious_errors(Y):
    noisy, changed = labels.flip_labels(Y, 0.05, seed=2)
    probs = np.clip(Y * 0.9 + 0.05, 0, 1)  # a model that knows the clean labels
    flags = labels.find_issues(noisy, probs)
    s = labels.detection_scores(flags, changed.any(axis=1))
    assert s["recall"] > 0.8 and s["precision"] > 0.8 and s["corrupted"] == 20


def test_detection_scores():
    s = labels.detection_scores(np.array([1, 1, 0, 0], bool), np.array([1, 0, 1, 0], bool))
    assert s == {"precision": 0.5, "recall": 0.5, "flagged": 2, "corrupted": 2, "both": 1, "base_rate": 0.5}


def test_with_train_and_with_split():
    d = data.make_scenes(n_train=60, n_val=20, n_test=20, seed=0)
    sub = labels.with_train(d, d.Y_train[:10], d.X_train[:10])
    assert len(sub.X_train) == 10 and sub.X_val is d.X_val
    with pytest.raises(ValueError, match="shape"):
        labels.with_train(d, d.Y_train[:10])
    part = labels.with_split(d, d.X_train, d.Y_train, np.arange(40), np.arange(40, 60))
    assert len(part.Y_val) == 20 and part.X_test is d.X_test


def test_hide_entries_and_fill_unknown(Y):
    part, hidden = labels.hide_entries(Y, 0.3, seed=2)
    assert (part[hidden] == labels.UNKNOWN).all() and (part[~hidden] == Y[~hidden]).all()
    assert 0.25 < hidden.mean() < 0.35
    filled = labels.fill_unknown(part)
    assert (filled[hidden] == 0).all() and (filled <= Y).all() and np.isin(filled, (0, 1)).all()
    with pytest.raises(ValueError, match="0, 1 or -1"):
        labels.fill_unknown(np.array([[0.5, 1.0]]))


def test_tune_thresholds_known_skips_unknown_rows():
    Yp = np.array([[1, 0], [1, 1], [0, 0], [-1, 1], [-1, 0]], dtype=np.float32)
    probs = np.array([[0.3, 0.1], [0.35, 0.9], [0.1, 0.2], [0.05, 0.8], [0.02, 0.3]])
    t = labels.tune_thresholds_known(Yp, probs)
    # label 0 on its 3 known rows: positives at 0.3 and 0.35, the negative at 0.1 -> a threshold in (0.1, 0.3]
    assert 0.1 < t[0] <= 0.3
    # read as negatives, the unknown rows (0.05, 0.02) would not change label 0's best threshold, but a
    # known-only tuning must not see them at all: all-unknown columns keep 0.5
    assert labels.tune_thresholds_known(np.full((3, 1), -1.0), np.full((3, 1), 0.7))[0] == 0.5


def test_binarize_sorts_classes_unless_given():
    rows = [["zero", "two"], ["one"], ["two"]]
    Y, names = labels.binarize(rows)
    assert names == ["one", "two", "zero"] and Y.tolist() == [[0, 1, 1], [1, 0, 0], [0, 1, 0]]
    Y2, names2 = labels.binarize(rows, classes=["zero", "one", "two"])
    assert names2 == ["zero", "one", "two"] and Y2[0].tolist() == [1, 0, 1]


def test_check_split_labels_catches_permuted_columns():
    rng = np.random.default_rng(0)
    freq = np.array([0.5, 0.3, 0.15, 0.05, 0.02])
    A = (rng.random((2000, 5)) < freq).astype(np.float32)
    B = (rng.random((1000, 5)) < freq).astype(np.float32)
    assert labels.check_split_labels(A, B).ok  # same labels, same order: no false alarm
    bad = labels.check_split_labels(A, B[:, [4, 3, 2, 1, 0]])
    assert not bad.ok and "beyond chance" in bad.message and len(bad.table) == 5
    assert not labels.check_split_labels(A, B[:, :4]).ok  # a split that lacks a class: fewer columns
    named = labels.check_split_labels(A, B, names_a=list("abcde"), names_b=list("abced"))
    assert not named.ok and "name their columns differently" in named.message
    assert labels.check_split_labels(A, B, names_a=list("abcde"), names_b=list("abcde")).ok


def test_compare_rows_and_zero_positive_counts(Y):
    import pandas as pd

    t = pd.DataFrame({"map": [0.5, 0.4]}, index=["clean", "noisy"])
    assert labels.compare_rows(t, "clean", "noisy", ["map"]) == {"map": 0.4, "map_ref": 0.5}
    assert labels.compare_rows(t, "absent", "noisy", ["map"]) == {"map": 0.4, "map_ref": None}
    # column 3 (about 10%: some 40 positives), 10% into validation: stratification keeps about 4 there every time,
    # while a random carve sometimes leaves none
    assert labels.zero_positive_counts(Y, [3], 0.1, range(20), "stratified") == 0
    assert 0 <= labels.zero_positive_counts(Y, [5], 0.05, range(20), "random") <= 20
    # iterative stratification rounds a label's validation share down: at an expected 0.6 positives it gives none
    assert labels.zero_positive_counts(Y, [5], 0.05, range(5), "stratified") == 5


def test_scored_tunes_on_known_entries_and_scores_test():
    class Fixed:  # a "run" that returns its inputs as probabilities: inputs are the labels blurred, a perfect ranker
        def predict_proba(self, X):
            return np.asarray(X, dtype=np.float64)

    Yv = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=np.float32)
    Yt = np.array([[1, 0], [0, 1], [0, 0], [1, 1]], dtype=np.float32)
    fake = type("D", (), {"X_val": Yv * 0.6 + 0.2, "X_test": Yt * 0.6 + 0.2, "Y_test": Yt})()
    # row 2 is unknown for both labels: were it read as a negative (score 0.8), no threshold would give F1 1
    row = labels.scored(fake, Fixed(), np.where([[1, 1], [1, 1], [0, 0], [1, 1]], Yv, -1), "x")
    assert row["setup"] == "x" and row["mAP"] == 1.0 and row["tuned macro-F1"] == 1.0


def test_masked_setup_trains_on_partial_labels_with_fit():
    import torch

    from helpers import models, train

    tiny = data.make_scenes(n_train=64, n_val=32, n_test=32, seed=1)
    part, hidden = labels.hide_entries(tiny.Y_train, 0.5, seed=0)
    run = train.fit(models.build_model(tiny, seed=0), labels.with_train(tiny, part), "masked_bce", epochs=1,
                    batch_size=32, seed=0, device="cpu", progress=False)
    assert np.isfinite(run.history["train_loss"]).all()
    # the trained setup's criterion on the partial targets is the loss over the known entries only
    with torch.no_grad():
        out = run.model.eval()(torch.as_tensor(tiny.X_train))
    y = torch.as_tensor(part)
    known = ~torch.as_tensor(hidden)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(out[known], y[known])
    assert float(run.loss.criterion()(out, y)) == pytest.approx(float(ref), rel=1e-5)


class _Prior:
    """A "run" that predicts each label's training frequency for every example (a model that learned nothing)."""

    def __init__(self, Y_train):
        self.p = np.asarray(Y_train, dtype=np.float64).clip(0, 1).mean(0)

    def predict_proba(self, X):
        return np.tile(self.p, (len(X), 1))


def test_corruption_runs_trains_one_model_per_corruption_and_reuses_the_clean_one():
    tiny = data.make_scenes(n_train=80, n_val=40, n_test=40, seed=2)
    seen = []

    def train_fn(ds):
        seen.append(ds.Y_train.copy())
        return _Prior(ds.Y_train)

    rows, per_label, clean = labels.corruption_runs(tiny, [0.0, 0.3], train_fn, seed=1)
    assert len(seen) == 3 and [(r["kind"], r["share"]) for r in rows] == [("noise", 0.0), ("noise", 0.3),
                                                                          ("missing", 0.0), ("missing", 0.3)]
    assert (seen[0] == tiny.Y_train).all() and isinstance(clean, _Prior) and rows[0]["changed entries"] == 0
    assert rows[1]["changed entries"] == round(0.3 * 80) and rows[3]["changed entries"] == round(0.3 * tiny.Y_train.sum())
    assert {"macro_f1", "tuned macro_f1", "map", "pred_pos_rate", "mean recall"} <= set(rows[1])
    assert len(per_label) == 3 * tiny.n_labels
    _, _, none = labels.corruption_runs(tiny, [0.3], train_fn)
    assert none is None  # no share 0: no clean run


def test_split_runs_pairs_both_carves_per_seed_and_stratification_keeps_rare_positives():
    tiny = data.make_scenes(n_train=300, n_val=100, n_test=60, tail=2.5, seed=0)
    X = np.concatenate([tiny.X_train, tiny.X_val])
    Y = np.concatenate([tiny.Y_train, tiny.Y_val])
    rare = np.argsort(Y.sum(0), kind="stable")[:2].tolist()
    calls = []
    per_label, per_run = labels.split_runs(tiny, X, Y, rare, val_fraction=0.1, seeds=range(3),
                                           train_fn=lambda part, s: calls.append(s) or _Prior(part.Y_train))
    assert calls == [0, 1, 2]  # one model per seed serves both carves: paired
    assert len(per_label) == 2 * 3 * 2 and len(per_run) == 2 * 3
    strat = per_label[per_label["split"] == "stratified"]
    expected = Y[:, rare].sum(0) * 0.1
    assert (strat.groupby("label")["val positives"].min().to_numpy() >= np.floor(expected).min()).all()
    assert set(per_run.columns) >= {"split", "seed", "rare tuned F1", "tuned macro-F1"}
    assert (per_run["train size"] < 0.9 * len(Y) + 2).all()  # neither carve's validation rows are trained on


def test_split_paired_and_zero_val_cost():
    import pandas as pd

    per_run = pd.DataFrame([{"split": sp, "seed": s, "rare tuned F1": v + (0.2 if sp == "stratified" else 0),
                             "tuned macro-F1": v, "mAP": v}
                            for s, v in enumerate([0.3, 0.5, 0.4, 0.6, 0.45]) for sp in labels.SPLITTERS])
    judged = labels.split_paired(per_run)
    assert judged.loc["rare tuned F1", "mean"] == pytest.approx(0.2) and judged.loc["rare tuned F1", "n"] == 5
    assert judged.loc["rare tuned F1", "verdict"] == "a difference"
    assert judged.loc["tuned macro-F1", "verdict"] == "equivalent"
    per_label = pd.DataFrame([
        {"split": "random", "seed": 0, "label": "9", "val positives": 0, "test F1": 0.1, "test AP": 0.3},
        {"split": "random", "seed": 1, "label": "9", "val positives": 2, "test F1": 0.5, "test AP": 0.4},
        {"split": "stratified", "seed": 0, "label": "9", "val positives": 2, "test F1": 0.4, "test AP": 0.35},
        {"split": "stratified", "seed": 1, "label": "9", "val positives": 2, "test F1": 0.45, "test AP": 0.4}])
    cost = labels.zero_val_cost(per_label)
    assert cost["pairs_without_val_positive"] == 1 and cost["pairs"] == 2
    assert cost["test_f1_random"] == 0.1 and cost["test_f1_stratified"] == 0.4
    assert labels.zero_val_cost(per_label.assign(**{"val positives": 1})) == {"pairs_without_val_positive": 0, "pairs": 2}


def test_record_entries():
    import pandas as pd

    rows = [{"kind": k, "share": sh, "mean recall": 0.4, "macro_f1": 0.5 - sh, "tuned macro_f1": 0.6 - sh,
             "map": 0.7, "pred_pos_rate": 0.2} for k in ("noise", "missing") for sh in (0.0, 0.3)]
    partial = pd.DataFrame({"tuned macro-F1": [0.4, 0.5], "mAP": [0.5, 0.6], "macro-F1 at 0.5": [0.3, 0.45]},
                           index=["blank", "masked"])
    entries = labels.record_entries(rows, partial, {"blank": "partial blanks as 0", "masked": "partial masked loss"})
    assert [(e["setup"], e["threshold"]) for e in entries] == [
        (s, t) for s in ("clean", "noise 0.3", "missing 0.3", "partial blanks as 0", "partial masked loss")
        for t in ("0.5", "tuned")]
    assert entries[3]["macro_f1"] == pytest.approx(0.3) and entries[-1]["macro_f1"] == 0.5
