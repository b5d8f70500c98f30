"""The loaders' ``drop_empty_labels`` option (issue 18): labels without a training positive are refused
by default, with a message that says which case each is in, or dropped from every split and reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import data as D
from helpers.results import repo_root

SHARED = next((p for p in (repo_root().parent / "shared", repo_root() / "shared") if p.is_dir()),
              repo_root().parent / "shared") / "data" / "multilabel"

# MULAN's training splits hold no positive of these labels (../shared/data/multilabel/README.md).
EMPTY_IN_FILE = {
    "medical": ["Class-8-596_8", "Class-15-593_1", "Class-18-786_59", "Class-22-789_09", "Class-29-783_0",
                "Class-33-788_41", "Class-42-599_7"],
    "corel5k": ["grouper", "moss", "aerial"],
    "genbase": ["PDOC50199", "PDOC00660"],
    "enron": ["D.D18"],
}


def _arrays(n_train=40, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    Y = np.zeros((n_train, 3), dtype=np.uint8)
    Y[np.arange(n_train), np.arange(n_train) % 3] = 1
    return {"X_train": rng.normal(size=(n_train, 4)).astype(np.float32), "Y_train": Y,
            "X_test": rng.normal(size=(n_test, 4)).astype(np.float32),
            "Y_test": rng.integers(0, 2, (n_test, 3)).astype(np.uint8), "label_names": np.array(["a", "b", "c"])}


def _npz(tmp_path: Path, **arrays) -> Path:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("name", sorted(EMPTY_IN_FILE))
def test_mulan_sets_refused_by_default_and_loaded_with_the_option(name):
    path = SHARED / f"{name}.npz"
    if not path.is_file():
        pytest.skip(f"{path} is not here")
    with pytest.raises(D.DataError) as refused:
        D.load_data(path)
    msg = str(refused.value)
    assert "none in the file's" in msg and "drop_empty_labels=True" in msg
    assert "try another seed" not in msg  # no seed can help a label the file never gives for training
    assert all(repr(label) in msg for label in EMPTY_IN_FILE[name])

    d = D.load_data(path, drop_empty_labels=True)
    raw = np.load(path, allow_pickle=False)
    dropped = d.info["dropped_labels"]
    assert dropped["names"] == EMPTY_IN_FILE[name] and dropped["count"] == len(EMPTY_IN_FILE[name])
    assert dropped["no_positive_in_file"] == EMPTY_IN_FILE[name] and dropped["positives_all_carved_out"] == []
    assert d.n_labels == raw["Y_train"].shape[1] - dropped["count"]
    assert not set(d.label_names) & set(dropped["names"])
    assert (d.Y_train.sum(axis=0) > 0).all()
    assert d.Y_val.shape[1] == d.Y_test.shape[1] == d.n_labels
    keep = [list(raw["label_names"]).index(n) for n in d.label_names]
    assert np.array_equal(d.Y_test, raw["Y_test"][:, keep])  # the kept columns, in file order
    assert f"dropped {dropped['count']} label(s) without a training positive" in d.summary()
    assert EMPTY_IN_FILE[name][0] in d.summary()


def test_the_option_keeps_a_file_without_empty_labels_unchanged(tmp_path):
    path = _npz(tmp_path, **_arrays())
    d, kept = D.load_npz(path), D.load_npz(path, drop_empty_labels=True)
    assert kept.label_names == d.label_names and np.array_equal(kept.Y_val, d.Y_val)
    assert kept.info["dropped_labels"]["count"] == 0 and "dropped" not in kept.summary()


def test_none_in_file_and_none_left_after_carving_are_told_apart(tmp_path):
    a = _arrays()
    a["Y_train"][:, 2] = 0  # 'c': no positive in the file's training rows
    a["Y_train"][0, 2] = 1  # ... but one, which a large validation fraction takes (iterative stratification
    #                        gives a label's lone positive to the split that wants the larger share)
    path = _npz(tmp_path, **a)
    with pytest.raises(D.DataError, match=r"label\(s\) 'c' \(1 positive\(s\)\) have no positive example in the "
                                          r"training split: all their positives went to the validation rows carved "
                                          r"from train \(val_fraction=0.6, seed=0\); try another seed or a smaller "
                                          r"val_fraction\. .*Drop those label columns, or pass drop_empty_labels=True"):
        D.load_npz(path, val_fraction=0.6)
    d = D.load_npz(path, val_fraction=0.6, drop_empty_labels=True)
    assert d.label_names == ["a", "b"] and d.info["dropped_labels"]["positives_all_carved_out"] == ["c"]

    a["Y_train"][:, 2] = 0
    a["Y_train"][:, 1] = 0  # 'b' now has none in the file, 'c' none at all either
    path = _npz(tmp_path, **{**a, "Y_train": np.c_[a["Y_train"], np.eye(40, dtype=np.uint8)[0]],
                             "Y_test": np.c_[a["Y_test"], np.ones(20, np.uint8)],
                             "label_names": np.array(["a", "b", "c", "d"])})
    with pytest.raises(D.DataError) as both:
        D.load_npz(path, val_fraction=0.6)
    msg = str(both.value)
    assert "label(s) 'b', 'c' have no positive example in the training split: none in the file's 40 training rows" in msg
    assert "label(s) 'd' (1 positive(s))" in msg and "try another seed" in msg


def test_given_validation_split_says_no_seed_helps(tmp_path):
    a = _arrays()
    a["Y_train"][:, 1] = 0
    path = _npz(tmp_path, **a, X_val=a["X_test"], Y_val=a["Y_test"])
    with pytest.raises(D.DataError) as refused:
        D.load_npz(path)
    assert "none in the file's 40 training rows" in str(refused.value) and "val_fraction" not in str(refused.value)


def test_dropping_too_many_labels_is_refused(tmp_path):
    a = _arrays()
    a["Y_train"][:, 1:] = 0
    with pytest.raises(D.DataError, match=r"drop_empty_labels=True dropped 2 label\(s\).*left 1"):
        D.load_npz(_npz(tmp_path, **a), drop_empty_labels=True)


def test_csv_without_split_column(tmp_path):
    rng = np.random.default_rng(0)
    n = 60
    df = pd.DataFrame({"x": rng.normal(size=n), "label_a": np.arange(n) % 2, "label_b": 1 - np.arange(n) % 2,
                       "label_c": 0, "label_d": (np.arange(n) == 0).astype(int)})
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    with pytest.raises(D.DataError) as refused:
        D.load_csv(path, val_fraction=0.45, test_fraction=0.45)
    msg = str(refused.value)
    assert "'c' have no positive example in the training split: none in the file's 60 rows" in msg
    assert "'d' (1 positive(s))" in msg and "val_fraction or test_fraction" in msg
    d = D.load_data(path, val_fraction=0.45, test_fraction=0.45, drop_empty_labels=True)
    assert d.label_names == ["a", "b"] and d.info["dropped_labels"]["names"] == ["c", "d"]


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_the_option_is_a_bool(tmp_path, value):
    with pytest.raises(D.DataError, match=r"drop_empty_labels=.* give True or False"):
        D.load_data(_npz(tmp_path, **_arrays()), drop_empty_labels=value)
