"""Tests of helpers.data: the digit scenes, the file loaders, their error messages and label statistics."""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import data as D
from helpers.data import scenes as data_scenes
from helpers.results import repo_root

YEAST = repo_root().parent / "shared" / "data" / "multilabel" / "yeast.npz"


@pytest.fixture(scope="module")
def scenes() -> D.MultiLabelData:
    return D.make_scenes(seed=0)


def _save_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _tabular_arrays(n_train=40, n_test=20, n_features=3, n_labels=2, seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    Y_train = np.zeros((n_train, n_labels), dtype=np.uint8)
    Y_train[np.arange(n_train), np.arange(n_train) % n_labels] = 1  # every label has positives
    return {
        "X_train": rng.normal(5.0, 2.0, (n_train, n_features)).astype(np.float32),
        "Y_train": Y_train,
        "X_test": rng.normal(5.0, 2.0, (n_test, n_features)).astype(np.float32),
        "Y_test": rng.integers(0, 2, (n_test, n_labels)).astype(np.uint8),
    }


# ------------------------------------------------------------------------------------------------
# Scenes


def test_scene_shapes_dtypes_ranges(scenes):
    d = scenes
    assert (d.name, d.kind) == ("scenes", "image")
    assert d.X_train.shape == (2000, 1, 16, 16) and d.X_val.shape == (500, 1, 16, 16)
    assert d.X_test.shape == (1000, 1, 16, 16)
    assert d.Y_train.shape == (2000, 10) and d.Y_test.shape == (1000, 10)
    assert d.X_train.dtype == np.float32 and d.Y_train.dtype == np.float32
    assert d.X_train.min() == 0.0 and d.X_train.max() == 1.0
    assert set(np.unique(d.Y_train)) == {0.0, 1.0}
    assert d.label_names == [str(i) for i in range(10)]
    assert d.input_shape == (1, 16, 16) and d.n_labels == 10
    assert d.source_ids["train"].shape == (2000, 3) and d.source_ids["train"].dtype == np.int64
    X, Y = d.split("val")
    assert X is d.X_val and Y is d.Y_val
    with pytest.raises(KeyError, match="unknown split 'valid'"):
        d.split("valid")
    assert d.summary() == (f"scenes (image 1x16x16): train 2000 / val 500 / test 1000, 10 labels, "
                           f"cardinality {d.Y_train.sum(1).mean():.3f} (train)")


def test_scene_pixels_are_the_recorded_digits(scenes):
    images, target = data_scenes._digits()
    d = scenes
    for i in range(5):
        ids = d.source_ids["train"][i]
        ids = ids[ids >= 0]
        # labels are exactly the classes of the recorded source digits
        assert sorted(np.flatnonzero(d.Y_train[i])) == sorted(target[ids])
        cells = d.X_train[i, 0].reshape(2, 8, 2, 8).transpose(0, 2, 1, 3).reshape(4, 8, 8)
        nonempty = [c for c in cells if c.any()]
        assert len(nonempty) == len(ids)  # every digit image has ink, one digit per cell
        for img in images[ids]:
            assert any(np.array_equal(img, c) for c in cells)


def test_scene_digit_pools_are_disjoint(scenes):
    used = {s: set(scenes.source_ids[s][scenes.source_ids[s] >= 0].tolist()) for s in D.SPLITS}
    assert not used["train"] & used["val"]
    assert not used["train"] & used["test"]
    assert not used["val"] & used["test"]
    # the pools are 60/20/20 of 1,797 digits and 2000 scenes use nearly all train digits
    assert 1000 < len(used["train"]) <= 1078


def test_scene_determinism():
    a, b, c = D.make_scenes(200, 50, 50, seed=3), D.make_scenes(200, 50, 50, seed=3), D.make_scenes(200, 50, 50, seed=4)
    for s in D.SPLITS:
        np.testing.assert_array_equal(a.split(s)[0], b.split(s)[0])
        np.testing.assert_array_equal(a.split(s)[1], b.split(s)[1])
        np.testing.assert_array_equal(a.source_ids[s], b.source_ids[s])
        assert not np.array_equal(a.split(s)[0], c.split(s)[0])
    # each split has its own stream: more training scenes leave val and test unchanged
    bigger = D.make_scenes(400, 50, 50, seed=3)
    np.testing.assert_array_equal(bigger.X_val, a.X_val)
    np.testing.assert_array_equal(bigger.X_test, a.X_test)


def test_scene_cardinality_follows_objects():
    exact = D.make_scenes(300, 50, 50, objects=(2, 2), seed=0)
    for s in D.SPLITS:
        assert exact.split(s)[1].sum(axis=1).tolist() == [2.0] * len(exact.split(s)[1])
    assert D.label_stats(exact.Y_train)["cardinality"] == 2.0
    one = D.make_scenes(100, 10, 10, objects=1, seed=0)
    assert (one.Y_train.sum(axis=1) == 1).all() and one.source_ids["train"].shape == (100, 1)
    d = D.make_scenes(4000, 10, 10, objects=3, seed=0)  # 1..3 uniform: mean 2
    k = d.Y_train.sum(axis=1)
    assert set(np.unique(k)) == {1.0, 2.0, 3.0}
    assert abs(k.mean() - 2.0) < 0.05
    assert ((d.source_ids["train"] >= 0).sum(axis=1) == k).all()
    big = D.make_scenes(50, 10, 10, grid=(3, 3), objects=(4, 9), seed=0)
    assert big.input_shape == (1, 24, 24)
    assert big.Y_train.sum(axis=1).min() >= 4 and big.Y_train.sum(axis=1).max() <= 9


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"objects": 5}, r"up to 5 digits per scene do not fit in 4 grid cells"),
    ({"objects": (3, 2)}, r"need 1 <= lo <= hi"),
    ({"grid": (4, 4), "objects": 11}, r"at most 10"),
    ({"tail": -1.0}, r"tail=-1.0: the long-tail exponent must be"),
    ({"n_val": 0}, r"n_val=0: each split needs at least one scene"),
])
def test_scene_parameter_errors(kwargs, match):
    with pytest.raises(D.DataError, match=match):
        D.make_scenes(**{"n_train": 50, "n_val": 10, "n_test": 10, **kwargs})


def test_scene_missing_training_label_is_an_error():
    with pytest.raises(D.DataError, match=r"label\(s\) .*9 have no positive example among the 20 training "
                                          r"scenes.*larger n_train or a smaller tail"):
        D.make_scenes(20, 10, 10, tail=3.3, seed=0)


def test_tail_calibration():
    # exact rate of the rarest label at the documented tail: about 1 scene in 200
    rate = D.rare_label_rate(D.RARE_TAIL, 3)
    assert D.RARE_TAIL == 3.3
    assert 1 / 210 < rate < 1 / 190
    assert D.rare_label_rate(2.0, 3) > 1 / 50 > 1 / 200 > D.rare_label_rate(4.0, 3)
    # balanced: every label in 2/10 of the scenes on average (mean 2 of 10 classes)
    np.testing.assert_allclose(D.label_rates(0.0, 3), 0.2)
    rates = D.label_rates(D.RARE_TAIL, 3)
    assert math.isclose(rates.sum(), 2.0) and (np.diff(rates) < 0).all()
    # and the generator matches: 40,000 training scenes -> ~205 positives of label "9" (sd ~14)
    d = D.make_scenes(40000, 10, 10, tail=D.RARE_TAIL, seed=1)
    freq = d.Y_train.mean(axis=0)
    assert abs(freq[9] - rate) < 0.0012
    np.testing.assert_allclose(freq, rates, atol=0.01)


# ------------------------------------------------------------------------------------------------
# Statistics


def test_label_stats_by_hand():
    Y = np.array([
        [1, 1, 0, 0],
        [1, 0, 0, 0],
        [1, 1, 1, 0],
        [1, 0, 0, 0],
        [0, 0, 0, 0],
    ])
    st = D.label_stats(Y, ["a", "b", "c", "d"])
    # counts a=4, b=2, c=1, d=0; labels per row 2,1,3,1,0 -> 7/5
    assert st["n"] == 5 and st["n_labels"] == 4
    assert st["cardinality"] == pytest.approx(1.4)
    assert st["density"] == pytest.approx(0.35)
    assert st["n_labelsets"] == 4  # {a,b}, {a}, {a,b,c}, {}
    assert st["counts"].to_dict() == {"a": 4, "b": 2, "c": 1, "d": 0}
    assert st["frequency"].to_dict() == pytest.approx({"a": 0.8, "b": 0.4, "c": 0.2, "d": 0.0})
    # IRLbl = max count / count: 4/4, 4/2, 4/1; d has no positives -> NaN, excluded, reported
    assert st["irlbl"][["a", "b", "c"]].tolist() == [1.0, 2.0, 4.0]
    assert math.isnan(st["irlbl"]["d"])
    assert st["mean_ir"] == pytest.approx(7 / 3)
    assert st["max_ir"] == 4.0
    assert st["zero_labels"] == ["d"]
    default = D.label_stats(Y)
    assert list(default["frequency"].index) == ["label_0", "label_1", "label_2", "label_3"]


def test_cooccurrence_by_hand():
    Y = np.array([[1, 1, 0], [1, 0, 1], [1, 1, 1], [0, 0, 1]], dtype=np.float32)
    C = D.cooccurrence(Y)
    assert C.dtype == np.int64
    np.testing.assert_array_equal(C, [[3, 2, 2], [2, 2, 1], [2, 1, 3]])


def test_split_table(scenes):
    wide = D.split_table(scenes)
    assert list(wide.index) == scenes.label_names
    assert list(wide.columns) == ["train_positives", "train_frequency", "val_positives", "val_frequency",
                                  "test_positives", "test_frequency"]
    np.testing.assert_array_equal(wide["train_positives"], scenes.Y_train.sum(axis=0))
    np.testing.assert_allclose(wide["test_frequency"], scenes.Y_test.mean(axis=0))
    long = D.split_table(scenes, long=True)
    assert list(long.columns) == ["label", "split", "positives", "frequency"] and len(long) == 30


def _hand_data(source_ids=None) -> D.MultiLabelData:
    Y = {"train": np.array([[1, 1, 0], [1, 0, 1], [1, 1, 1], [0, 0, 1]], dtype=np.float32),
         "val": np.array([[1, 0, 0], [1, 1, 0]], dtype=np.float32),
         "test": np.array([[0, 1, 0], [0, 1, 1], [1, 1, 0]], dtype=np.float32)}
    X = {s: np.zeros((len(y), 2), dtype=np.float32) for s, y in Y.items()}
    return D.MultiLabelData(name="hand", kind="tabular", label_names=["a", "b", "c"],
                            source_ids=source_ids or {}, **{f"X_{s}": X[s] for s in X},
                            **{f"Y_{s}": Y[s] for s in Y})


def test_stats_table_by_hand(scenes):
    d = _hand_data()
    t = D.stats_table(d)
    assert list(t.index) == [("hand", "train"), ("hand", "val"), ("hand", "test")]
    assert list(t.columns) == ["n", "n_labels", "cardinality", "density", "n_labelsets", "mean_ir", "max_ir",
                               "rarest_label", "rarest_positives", "rarest_frequency"]
    train = t.loc[("hand", "train")]
    assert (train["n"], train["n_labelsets"], train["rarest_label"], train["rarest_positives"]) == (4, 4, "b", 2)
    assert train["cardinality"] == pytest.approx(2.0) and train["density"] == pytest.approx(2 / 3)
    assert train["mean_ir"] == pytest.approx((1 + 1.5 + 1) / 3) and train["max_ir"] == pytest.approx(1.5)
    assert train["rarest_frequency"] == pytest.approx(0.5)
    val = t.loc[("hand", "val")]  # label c has no positive: rarest with 0, left out of MeanIR
    assert (val["rarest_label"], val["rarest_positives"], val["rarest_frequency"]) == ("c", 0, 0.0)
    assert val["mean_ir"] == pytest.approx(1.5) and val["max_ir"] == pytest.approx(2.0)
    both = D.stats_table({"x": d, "y": scenes}, splits=["train"])
    assert list(both.index) == [("x", "train"), ("y", "train")]
    assert both.loc[("y", "train"), "mean_ir"] == pytest.approx(D.label_stats(scenes.Y_train)["mean_ir"])


def test_shared_sources(scenes):
    assert D.shared_sources(scenes) == {"train & val": 0, "train & test": 0, "val & test": 0}
    ids = {"train": np.array([[0, 1, -1], [2, 3, 4]]), "val": np.array([[4, -1, -1], [1, 9, -1]]),
           "test": np.array([[5, -1, -1], [-1, -1, -1]])}
    assert D.shared_sources(_hand_data(ids)) == {"train & val": 2, "train & test": 0, "val & test": 0}
    ids["test"] = np.array([[9, 9, 1], [1, -1, -1]])  # repeats count once
    assert D.shared_sources(_hand_data(ids)) == {"train & val": 2, "train & test": 1, "val & test": 2}
    with pytest.raises(D.DataError, match=r"hand: no source_ids recorded; only generated scenes"):
        D.shared_sources(_hand_data())
    with pytest.raises(D.DataError, match=r"source_ids lacks split\(s\) test"):
        D.shared_sources(_hand_data({"train": ids["train"], "val": ids["val"]}))


# ------------------------------------------------------------------------------------------------
# npz


def test_npz_round_trip_and_standardization(tmp_path):
    arrays = _tabular_arrays()
    arrays["X_train"][:, 2] = 7.0  # a constant column
    arrays["X_val"] = arrays["X_test"][:5] + 100.0  # val far from train: must not move the statistics
    arrays["Y_val"] = arrays["Y_test"][:5]
    path = _save_npz(tmp_path / "mine.npz", label_names=np.array(["cat", "dog"]),
                     feature_names=np.array(["f0", "f1", "f2"]), **arrays)
    d = D.load_npz(path)
    assert (d.name, d.kind, d.input_shape, d.n_labels) == ("mine", "tabular", (3,), 2)
    assert d.label_names == ["cat", "dog"] and d.feature_names == ["f0", "f1", "f2"]
    assert d.X_train.dtype == np.float32 and d.Y_train.dtype == np.float32
    np.testing.assert_array_equal(d.Y_train, arrays["Y_train"])
    np.testing.assert_array_equal(d.Y_val, arrays["Y_val"])
    mean, std = arrays["X_train"].astype(np.float64).mean(0), arrays["X_train"].astype(np.float64).std(0)
    std[2] = 1.0
    np.testing.assert_allclose(d.X_train.mean(0), [0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(d.X_train.std(0), [1, 1, 0], atol=1e-5)
    np.testing.assert_allclose(d.X_test, (arrays["X_test"] - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d.X_val, (arrays["X_val"] - mean) / std, rtol=1e-5, atol=1e-5)
    assert d.X_val.mean() > 10  # val/test are standardized with train's statistics, not their own
    assert d.info["standardize"]["constant_features"] == ["f2"]


def test_npz_val_carved_from_train(tmp_path):
    arrays = _tabular_arrays(n_train=50)
    path = _save_npz(tmp_path / "noval.npz", **arrays)
    d = D.load_npz(path, val_fraction=0.2, seed=1)
    assert (len(d.X_train), len(d.X_val), len(d.X_test)) == (40, 10, 20)
    assert d.label_names == ["label_0", "label_1"] and d.feature_names == ["x0", "x1", "x2"]
    again = D.load_npz(path, val_fraction=0.2, seed=1)
    other = D.load_npz(path, val_fraction=0.2, seed=2)
    np.testing.assert_array_equal(d.X_val, again.X_val)
    assert not np.array_equal(d.Y_val, other.Y_val)  # another seed carves other rows
    # the carved rows are the original rows (un-standardized, they are the file's rows)
    raw = arrays["X_train"].astype(np.float64)
    restored = d.X_val * d.info["standardize"]["std"] + d.info["standardize"]["mean"]
    assert all(np.isclose(raw, r, atol=1e-4).all(axis=1).any() for r in restored)


def test_npz_images(tmp_path):
    rng = np.random.default_rng(0)
    Y = np.eye(3, dtype=np.uint8)[np.arange(12) % 3]
    path = _save_npz(tmp_path / "imgs.npz", X_train=rng.random((12, 5, 6)), Y_train=Y,
                     X_test=rng.random((6, 5, 6)), Y_test=Y[:6], X_val=rng.random((3, 5, 6)), Y_val=Y[:3])
    d = D.load_npz(path)
    assert d.kind == "image" and d.input_shape == (1, 5, 6) and d.feature_names is None
    four = _save_npz(tmp_path / "imgs4.npz", X_train=rng.random((12, 2, 5, 6)), Y_train=Y,
                     X_test=rng.random((6, 2, 5, 6)), Y_test=Y[:6])
    assert D.load_npz(four).input_shape == (2, 5, 6)


def test_npz_refuses_pickle(tmp_path):
    arrays = _tabular_arrays()
    arrays["label_names"] = np.array(["a", None], dtype=object)
    path = _save_npz(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(D.DataError, match=r"array 'label_names' is an object array, which needs pickling.*"
                                          r"refused \(allow_pickle=False\)"):
        D.load_npz(path)


def _bad(arrays: dict, **changes) -> dict:
    out = {k: v.copy() for k, v in arrays.items()}
    out.update(changes)
    return {k: v for k, v in out.items() if v is not None}


@pytest.mark.parametrize(("change", "match"), [
    (lambda a: _bad(a, Y_test=None), r"lacks Y_test; it holds X_train, Y_train, X_test"),
    (lambda a: _bad(a, Y_train=np.where(a["Y_train"] == 1, 2, 0)),
     r"Y_train is not binary: 40 entries are not 0/1 \(values 2; first at row 0, label column 0\)"),
    (lambda a: _bad(a, Y_test=a["Y_test"][:-1]), r"test split: X_test has 20 rows but Y_test has 19"),
    (lambda a: _bad(a, Y_test=np.ones((20, 3), np.uint8)), r"Y_test has 3 label columns but Y_train has 2"),
    (lambda a: _bad(a, X_test=np.ones((20, 4), np.float32)), r"X_test has per-example shape \(4,\) but X_train "
                                                             r"has \(3,\)"),
    (lambda a: _bad(a, X_train=np.where(np.arange(3) == 1, np.nan, a["X_train"]).astype(np.float32)),
     r"X_train has 40 NaN/inf value\(s\) \(first at row 0, feature 'x1'"),
    (lambda a: _bad(a, X_test=np.full((20, 3), np.inf, np.float32)), r"X_test has 60 NaN/inf"),
    (lambda a: _bad(a, Y_train=np.c_[a["Y_train"], np.zeros(40, np.uint8)],
                    Y_test=np.c_[a["Y_test"], np.ones(20, np.uint8)]),
     r"label\(s\) 'label_2' have no positive example in the training split.*Drop those label columns"),
    (lambda a: _bad(a, label_names=np.array(["a", "b", "c"])), r"label_names has 3 entries but the data has 2"),
    (lambda a: _bad(a, X_train=np.zeros((0, 3), np.float32), Y_train=np.zeros((0, 2), np.uint8)),
     r"Y_train is empty \(shape \(0, 2\)\)"),
    (lambda a: _bad(a, Y_val=a["Y_test"]), r"has only one of X_val / Y_val"),
])
def test_npz_errors(tmp_path, change, match):
    path = _save_npz(tmp_path / "bad.npz", **change(_tabular_arrays()))
    with pytest.raises(D.DataError, match=match):
        D.load_npz(path)


def test_npz_empty_and_garbage_files(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(D.DataError, match=r"empty.npz is empty \(0 bytes\)"):
        D.load_npz(tmp_path / "empty.npz")
    (tmp_path / "junk.npz").write_text("not an archive")
    with pytest.raises(D.DataError, match=r"junk.npz is not an .npz file: it does not start with the zip") as exc:
        D.load_npz(tmp_path / "junk.npz")
    assert "pickle" not in str(exc.value)  # never nudge towards unpickling
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 a zip signature, then nothing")
    with pytest.raises(D.DataError, match=r"broken.npz is not a readable .npz archive"):
        D.load_npz(tmp_path / "broken.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    (tmp_path / "single.npy").rename(tmp_path / "single.npz")
    with pytest.raises(D.DataError, match=r"holds a single array, not an .npz archive"):
        D.load_npz(tmp_path / "single.npz")


# ------------------------------------------------------------------------------------------------
# csv


def _frame(n=50, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "a": rng.normal(3, 2, n),
        "b": rng.integers(0, 10, n),
        "label_x": np.arange(n) % 2,
        "label_y": (np.arange(n) % 3 == 0).astype(int),
    })


def test_csv_random_split(tmp_path):
    path = tmp_path / "t.csv"
    _frame().to_csv(path, index=False)
    d = D.load_csv(path, seed=0)
    assert (len(d.X_train), len(d.X_val), len(d.X_test)) == (30, 10, 10)
    assert d.label_names == ["x", "y"] and d.feature_names == ["a", "b"] and d.kind == "tabular"
    np.testing.assert_allclose(d.X_train.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(D.load_csv(path, seed=0).X_test, d.X_test)
    assert not np.array_equal(D.load_csv(path, seed=1).X_test, d.X_test)
    by_list = D.load_csv(path, label_columns=["label_x", "label_y"])
    assert by_list.label_names == ["label_x", "label_y"]


def test_csv_split_column(tmp_path):
    df = _frame(20)
    df["split"] = ["train"] * 12 + ["val"] * 3 + ["test"] * 5
    path = tmp_path / "s.csv"
    df.to_csv(path, index=False)
    d = D.load_csv(path)
    assert (len(d.X_train), len(d.X_val), len(d.X_test)) == (12, 3, 5)
    np.testing.assert_array_equal(d.Y_test, df[["label_x", "label_y"]].to_numpy()[15:])
    train = df[["a", "b"]].to_numpy()[:12]  # standardized with the 12 training rows only
    expected = (df[["a", "b"]].to_numpy()[15:] - train.mean(0)) / train.std(0)
    np.testing.assert_allclose(d.X_test, expected, rtol=1e-5, atol=1e-5)
    # without val rows, val is carved from train
    df["split"] = ["train"] * 15 + ["test"] * 5
    df.to_csv(path, index=False)
    d = D.load_csv(path, val_fraction=0.2)
    assert (len(d.X_train), len(d.X_val), len(d.X_test)) == (12, 3, 5)


@pytest.mark.parametrize(("edit", "match"), [
    (lambda df: df.assign(c=["u"] * len(df)), r"feature column\(s\) \['c'\] are not numeric"),
    (lambda df: df.assign(label_y=2), r"label columns is not binary: 50 entries are not 0/1 \(values 2.0; first "
                                      r"at row 0, label column 1\)"),
    (lambda df: df.assign(label_y=["no"] * len(df)), r"label column 'label_y' is not binary: it holds text"),
    (lambda df: df.assign(a=[np.nan] + [1.0] * (len(df) - 1)), r"features has 1 NaN/inf value\(s\) \(first at "
                                                                r"row 0, feature 'a'"),
    (lambda df: df.rename(columns={"label_x": "x", "label_y": "y"}), r"no column starts with the label prefix"),
    (lambda df: df.assign(split="training"), r"column 'split' holds \['training'\]; allowed values"),
    (lambda df: df.assign(split="train"), r"no row has split='test'"),
    (lambda df: df.head(0), r"has a header but no rows"),
    (lambda df: df.head(2), r"has 2 rows: too few for a train / val / test split"),
])
def test_csv_errors(tmp_path, edit, match):
    path = tmp_path / "bad.csv"
    edit(_frame()).to_csv(path, index=False)
    with pytest.raises(D.DataError, match=match):
        D.load_csv(path)


def test_csv_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(D.DataError, match=r"empty.csv is empty"):
        D.load_csv(tmp_path / "empty.csv")


# ------------------------------------------------------------------------------------------------
# load_data


def test_load_data_scenes_and_paths(tmp_path, monkeypatch):
    d = D.load_data("scenes", seed=2, n_train=100, n_val=20, n_test=20, objects=(1, 1), val_fraction=0.3)
    assert d.name == "scenes" and len(d.X_train) == 100 and (d.Y_train.sum(1) == 1).all()
    assert D.load_data(d) is d
    arrays = _tabular_arrays()
    _save_npz(tmp_path / "mine.npz", **arrays)
    monkeypatch.chdir(tmp_path)
    # scene parameters are accepted and ignored for files; val_fraction reaches the loader
    f = D.load_data("mine.npz", seed=0, n_train=5, grid=(3, 3), tail=2.0, val_fraction=0.25)
    assert (f.name, len(f.X_train), len(f.X_val)) == ("mine", 30, 10)
    with pytest.raises(D.DataError, match=r"'nothere.npz' is neither 'scenes' nor an existing file; tried "
                                          r".*nothere.npz and .*nothere.npz"):
        D.load_data("nothere.npz")
    (tmp_path / "x.parquet").write_text("x")
    with pytest.raises(D.DataError, match=r"unsupported file type '.parquet'"):
        D.load_data("x.parquet")


def test_load_data_relative_to_repo_root(monkeypatch, tmp_path):
    if not YEAST.is_file():
        pytest.skip(f"{YEAST} is not here")
    monkeypatch.chdir(tmp_path)  # not found relative to cwd, found relative to the repository root
    d = D.load_data("../shared/data/multilabel/yeast.npz", n_train=10, tail=3.3)
    assert d.name == "yeast" and d.n_labels == 14


def test_yeast():
    if not YEAST.is_file():
        pytest.skip(f"{YEAST} is not here")
    raw = np.load(YEAST, allow_pickle=False)
    assert raw["X_train"].shape == (1500, 103) and raw["X_test"].shape == (917, 103)
    assert D.label_stats(raw["Y_train"])["cardinality"] == pytest.approx(4.228, abs=0.001)
    d = D.load_npz(YEAST, seed=0)
    assert d.kind == "tabular" and d.n_labels == 14 and d.input_shape == (103,)
    assert d.X_test.shape == (917, 103) and len(d.X_train) + len(d.X_val) == 1500
    assert d.label_names == [f"Class{i}" for i in range(1, 15)]
    assert len(d.feature_names) == 103 and d.info["source"]
    st = D.label_stats(np.r_[d.Y_train, d.Y_val], d.label_names)
    assert st["cardinality"] == pytest.approx(4.228, abs=0.001)
    assert st["counts"].tolist() == [476, 645, 598, 532, 441, 378, 261, 289, 98, 161, 198, 1128, 1116, 21]
    assert st["max_ir"] == pytest.approx(1128 / 21)


# ------------------------------------------------------------------------------------------------
# Stratified validation split (issue 9) and the inputs that used to slip through (issue 11)


def _rare_labels(n=1000, seed=0) -> np.ndarray:
    """10 common labels (30 %) and 10 rare ones with 5 positives each."""
    rng = np.random.default_rng(seed)
    Y = (rng.random((n, 20)) < np.r_[np.full(10, 0.3), np.zeros(10)]).astype(np.float32)
    for j in range(10, 20):
        Y[rng.choice(n, 5, replace=False), j] = 1
    return Y


def test_stratified_split_keeps_validation_positives_of_rare_labels():
    Y = _rare_labels()
    missed = {"stratified": 0, "random": 0}
    for seed in range(20):
        keep, take = D.stratified_split(Y, 0.2, seed)
        assert len(np.union1d(keep, take)) == len(Y) and not len(np.intersect1d(keep, take))
        assert abs(len(take) - 200) <= 10  # iterative stratification sizes are close to the fraction
        missed["stratified"] += int((Y[take, 10:].sum(axis=0) == 0).sum())
        _, take_r = D.random_split(len(Y), 0.2, seed)
        missed["random"] += int((Y[take_r, 10:].sum(axis=0) == 0).sum())
    # 20 seeds x 10 rare labels: a random 20 % misses all 5 positives of a label about 0.8**5 = 1/3 of the time.
    assert missed["stratified"] == 0 and missed["random"] > 30, missed
    np.testing.assert_array_equal(D.stratified_split(Y, 0.2, 3)[1], D.stratified_split(Y, 0.2, 3)[1])


def test_bring_your_own_validation_split_is_stratified(tmp_path):
    Y = _rare_labels(n=500)
    X = np.random.default_rng(0).normal(size=(500, 3))
    path = _save_npz(tmp_path / "rare.npz", X_train=X, Y_train=Y, X_test=X[:50], Y_test=Y[:50])
    d = D.load_npz(path, val_fraction=0.2, seed=0)
    assert d.info["val_carved_from_train"]["stratified"]
    _, take = D.stratified_split(Y, 0.2, 0)
    np.testing.assert_array_equal(d.Y_val, Y[take])  # exactly the public function's rows
    assert (d.Y_val[:, 10:].sum(axis=0) >= 1).all()
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(**{f"label_{j}": Y[:, j] for j in range(20)})
    frame.to_csv(tmp_path / "rare.csv", index=False)
    c = D.load_csv(tmp_path / "rare.csv", val_fraction=0.2, test_fraction=0.2, seed=0)
    assert c.info["split"]["stratified"] and (c.Y_val[:, 10:].sum(axis=0) >= 1).all()
    assert (c.Y_test[:, 10:].sum(axis=0) >= 1).all()


def test_image_values_beyond_float32_are_refused_after_the_cast(tmp_path):
    arrays = _tabular_arrays()
    images = np.random.default_rng(0).random((40, 4, 4))
    images[3, 1, 2] = 1e39  # finite in float64, inf in float32
    path = _save_npz(tmp_path / "big.npz", X_train=images, Y_train=arrays["Y_train"],
                     X_test=np.random.default_rng(1).random((20, 4, 4)), Y_test=arrays["Y_test"])
    with pytest.raises(D.DataError, match=r"X_train has values beyond the float32 range .*row \d+: 1e\+39"):
        D.load_npz(path, val_fraction=0.2)


def test_tabular_values_whose_std_overflows_are_refused(tmp_path):
    arrays = _tabular_arrays()
    arrays["X_train"] = arrays["X_train"].astype(np.float64)
    arrays["X_train"][:, 1] *= 1e200
    path = _save_npz(tmp_path / "huge.npz", **arrays)
    with pytest.raises(D.DataError, match=r"feature 'x1' has values up to .*e\+20\d: its standard deviation "
                                          r"overflows float64"):
        D.load_npz(path)
    ok = _tabular_arrays()
    ok["X_train"] = ok["X_train"].astype(np.float64) * 1e39  # beyond float32, but standardizing is fine
    ok["X_test"] = ok["X_test"].astype(np.float64) * 1e39
    d = D.load_npz(_save_npz(tmp_path / "ok.npz", **ok))
    assert np.isfinite(d.X_train).all() and abs(float(d.X_train.std()) - 1) < 0.01


def test_constant_label_and_single_label_column_are_refused(tmp_path):
    arrays = _tabular_arrays()
    arrays["Y_train"][:, 0] = 1
    with pytest.raises(D.DataError, match=r"label\(s\) 'label_0' are positive in every training row"):
        D.load_npz(_save_npz(tmp_path / "always.npz", **arrays))
    one = _tabular_arrays(n_labels=1)
    one["Y_train"][::2] = 0
    with pytest.raises(D.DataError, match=r"single label column \('label_0'\); that is binary classification"):
        D.load_npz(_save_npz(tmp_path / "one.npz", **one))


def _npz_with_header(path: Path, shape: tuple) -> Path:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    arrays = _tabular_arrays()
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("X_train.npy", header.getvalue() + b"\0" * 64)
        for key in ("Y_train", "X_test", "Y_test"):
            buf = io.BytesIO()
            np.save(buf, arrays[key])
            z.writestr(f"{key}.npy", buf.getvalue())
    return path


def test_npz_header_claiming_a_huge_shape_is_refused_before_allocating(tmp_path):
    path = _npz_with_header(tmp_path / "huge_header.npz", (10**7, 10**7))
    with pytest.raises(D.DataError, match=r"array 'X_train' claims shape \(10000000, 10000000\) of float64 "
                                          r"\(800,000,000,000,000 bytes\) but the file holds 64 bytes"):
        D.load_npz(path)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"seed": -1}, r"seed=-1: seeds must be >= 0"),
    ({"seed": "0"}, r"seed='0' is str: give a whole number >= 0"),
    ({"seed": 1.5}, r"seed=1.5 is float"),
    ({"val_fraction": "0.2"}, r"val_fraction='0.2' is str: give a number between 0 and 1 \(without quotes: "
                              r"val_fraction=0.2\)"),
    ({"val_fraction": 1.0}, r"val_fraction=1.0: must be between 0 and 1"),
    ({"n_train": "100"}, r"n_train='100' is str: give a whole number >= 1 \(without quotes: n_train=100\)"),
    ({"n_train": 0}, r"n_train=0: each split needs at least one scene"),
    ({"n_test": True}, r"n_test=True is bool"),
])
def test_parameter_types_get_one_clear_line(kwargs, match):
    with pytest.raises(D.DataError, match=match):
        D.load_data("scenes", **kwargs)
    assert D.make_scenes(n_train=300.0, n_val=50, n_test=50).X_train.shape[0] == 300  # whole floats are fine


def test_file_loaders_check_their_parameters(tmp_path):
    path = _save_npz(tmp_path / "ok.npz", **_tabular_arrays())
    with pytest.raises(D.DataError, match=r"val_fraction='0.2' is str"):
        D.load_data(path, val_fraction="0.2")
    with pytest.raises(D.DataError, match=r"seed=-1: seeds must be >= 0"):
        D.load_npz(path, seed=-1)
    _frame().to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(D.DataError, match=r"test_fraction='0.2' is str"):
        D.load_csv(tmp_path / "t.csv", test_fraction="0.2")
