"""The many-label scenes (issue 18): a label is a digit class in a grid cell; 100 labels on 2x5 cells,
1,000 on 10x10, at low density with a long tail. Checked by their statistics, exactly where they are
exact (cardinality, one digit per scene) and within a few standard errors where they are sampled."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import data as D
from helpers.data import scenes as data_scenes


@pytest.mark.parametrize(("n_labels", "grid"), [(20, (1, 2)), (100, (2, 5)), (200, (4, 5)), (1000, (10, 10))])
def test_grid_holds_ten_labels_per_cell(n_labels, grid):
    assert D.many_label_grid(n_labels) == grid
    names = D.many_label_names(n_labels)
    assert len(set(names)) == n_labels
    pairs = {(int(n.split("@")[0]), n.split("@")[1]) for n in names}
    cells = {f"{r},{c}" for r in range(grid[0]) for c in range(grid[1])}
    assert pairs == {(d, cell) for d in range(10) for cell in cells}  # every digit in every cell, once


@pytest.mark.parametrize("n_labels", [10, 15, 105, 0, "100"])
def test_label_counts_refused(n_labels):
    with pytest.raises(D.DataError, match=r"n_labels="):
        D.make_many_label_scenes(n_labels, 50, 10, 10)


def test_objects_checked_against_the_cells():
    with pytest.raises(D.DataError, match=r"up to 3 digits per scene do not fit in 2 grid cells"):
        D.make_many_label_scenes(20, 50, 10, 10, objects=3)
    d = D.make_many_label_scenes(1000, 3000, 10, 10, objects=(12, 12), tail=0.0, seed=0)  # past make_scenes' cap of 10
    assert (d.Y_train.sum(axis=1) == 12).all()


def test_each_label_is_the_digit_drawn_in_its_cell():
    images, target = data_scenes._digits()
    d = D.make_many_label_scenes(100, 300, 20, 20, seed=1, drop_empty_labels=True)
    rows, cols = D.many_label_grid(100)
    for i in range(50):
        x = d.X_train[i, 0]
        shown = set()
        for r in range(rows):
            for c in range(cols):
                cell = x[8 * r:8 * r + 8, 8 * c:8 * c + 8]
                if cell.any():
                    match = [s for s in d.source_ids["train"][i] if s >= 0 and np.array_equal(images[s], cell)]
                    assert match, (i, r, c)
                    shown.add(f"{target[match[0]]}@{r},{c}")
        assert shown == {d.label_names[j] for j in np.flatnonzero(d.Y_train[i])}


def test_cardinality_density_and_long_tail():
    n = 20000
    d = D.make_many_label_scenes(100, n, 10, 10, objects=(1, 3), tail=1.0, seed=0)
    card = d.Y_train.sum(axis=1)
    assert set(np.unique(card)) == {1, 2, 3}  # one digit per cell: as many labels as digits, uniform 1..3
    assert abs(card.mean() - 2.0) < 4 * np.sqrt(2 / 3 / n)
    assert abs(d.Y_train.mean() - card.mean() / 100) < 1e-9  # density = cardinality / L
    counts = d.Y_train.sum(axis=0)
    assert np.corrcoef(np.log(np.arange(1, 101)), np.log(counts))[0, 1] < -0.95  # Zipf-like: log-log linear
    assert counts[:10].sum() > 5 * counts[-10:].sum()


def test_one_digit_per_scene_gives_the_zipf_frequencies_exactly():
    n = 40000
    d = D.make_many_label_scenes(100, n, 10, 10, objects=1, tail=1.0, seed=2)
    p = 1 / np.arange(1, 101)
    p /= p.sum()  # with one digit, P(label j) = weight / total weight
    counts = d.Y_train.sum(axis=0)
    z = (counts - n * p) / np.sqrt(n * p * (1 - p))
    assert np.abs(z).max() < 4.5  # 100 labels: the largest |z| of 100 normals stays under 4.5
    assert abs(float(np.sum(z ** 2)) - 100) < 6 * np.sqrt(200)  # chi-square with ~100 dof


def test_1000_labels_at_low_density_with_labels_dropped_and_reported():
    with pytest.raises(D.DataError, match=r"have no positive example among the 2000 training scenes.*"
                                          r"drop_empty_labels=True"):
        D.make_many_label_scenes(1000, 2000, 100, 100, tail=1.0, seed=0)
    d = D.make_many_label_scenes(1000, 2000, 100, 100, tail=1.0, seed=0, drop_empty_labels=True)
    dropped = d.info["dropped_labels"]
    assert dropped["count"] > 0 and d.n_labels == 1000 - dropped["count"]
    assert d.Y_val.shape[1] == d.Y_test.shape[1] == d.n_labels and (d.Y_train.sum(axis=0) > 0).all()
    assert d.X_train.shape[1:] == (1, 80, 80) and d.Y_train.mean() < 0.01
    assert f"dropped {dropped['count']} label(s)" in d.summary()


def test_deterministic_disjoint_and_split_streams():
    a = D.make_many_label_scenes(100, 2000, 50, 50, tail=0.0, seed=3)
    b = D.make_many_label_scenes(100, 2000, 50, 50, tail=0.0, seed=3)
    bigger = D.make_many_label_scenes(100, 3000, 50, 50, tail=0.0, seed=3)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.Y_test, b.Y_test)
    assert np.array_equal(a.Y_val, bigger.Y_val) and np.array_equal(a.X_test, bigger.X_test)
    assert D.shared_sources(a) == {"train & val": 0, "train & test": 0, "val & test": 0}
    assert a.label_names == D.many_label_names(100)  # ranks are a property of n_labels, not of the seed
