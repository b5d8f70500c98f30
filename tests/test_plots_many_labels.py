"""Per-label figures at any label count (issue 11: 2,000 labels x 50 rows kept notebook 03 in
``pr_curves`` for minutes): past a cap they draw the worst or most frequent labels and say so.
Checked by what is drawn (the number of panels and bars), never by timing."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from helpers import data, plots  # noqa: E402

L, N = 2000, 50


def _many_labels(seed=0):
    rng = np.random.default_rng(seed)
    Y = (rng.random((N, L)) < 0.1).astype(np.float32)
    P = np.clip(Y * 0.6 + rng.random((N, L)) * 0.5, 0, 1)
    return Y, P, [f"l{j}" for j in range(L)]


def _visible_axes(fig):
    return [ax for ax in fig.axes if ax.axison]


def test_pr_curves_draw_the_worst_labels_and_say_so():
    Y, P, names = _many_labels()
    P[:, 7] = 1 - Y[:, 7]  # label l7 ranks its positives last: among the worst
    fig = plots.pr_curves(Y, P, names)
    shown = [ax.get_title() for ax in _visible_axes(fig)]
    assert len(shown) == 20 and "l7" in shown
    assert fig._suptitle.get_text() == "the 20 labels with the lowest average precision, of 2000"
    plt.close(fig)
    few = plots.pr_curves(Y[:, :10], P[:, :10], names[:10])  # at most the cap: every label, as before
    assert [ax.get_title() for ax in _visible_axes(few)] == names[:10] and few._suptitle is None
    plt.close(few)


def test_other_per_label_figures_cap_the_labels():
    Y, P, names = _many_labels()
    per_label = pd.DataFrame({"label": names * 2, "f1": np.r_[np.linspace(0, 1, L), np.linspace(0, 1, L)],
                              "setup": ["a"] * L + ["b"] * L})
    fig = plots.per_label_bars(per_label)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == names[:30]  # the lowest f1
    assert ax.get_title() == "the 30 labels with the lowest f1 of 2000"
    plt.close(fig)

    C = data.cooccurrence(Y)
    fig = plots.cooccurrence_heatmap(C, names)
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(ticks) <= 30 and "most frequent 30" not in fig.axes[0].get_title()
    assert fig.axes[0].get_title() == "label co-occurrence (train): the 30 most frequent of 2000 labels"
    plt.close(fig)

    freq = pd.DataFrame({"label": names, "split": "train", "frequency": Y.mean(axis=0)})
    fig = plots.label_frequency(freq)
    assert len(fig.axes[0].get_xticklabels()) == 30
    assert fig._suptitle.get_text() == "the 30 most frequent of 2000 labels"
    plt.close(fig)


def test_average_precision_for_the_ranking_matches_scikit_learn_without_ties():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(1)
    Y, P = rng.random((200, 30)) < 0.2, rng.random((200, 30))
    np.testing.assert_allclose(plots._average_precision(Y, P), average_precision_score(Y, P, average=None))
    assert np.isnan(plots._average_precision(np.zeros((5, 1)), rng.random((5, 1))))[0]
