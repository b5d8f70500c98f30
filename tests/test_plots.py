import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from helpers import data, plots  # noqa: E402


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_figure_saves_a_png(tmp_path):
    plots.set_style()
    d = data.make_scenes(n_train=300, n_val=100, n_test=100, seed=0)
    rng = np.random.default_rng(0)
    p = rng.random(d.Y_test.shape)
    hist = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.7, 0.5, 0.4], "val_loss": [0.7, 0.6, 0.5]})
    summary = pd.DataFrame({"setup": ["a", "b"], "micro_f1": [0.9, 0.5], "map": [0.95, 0.9]}).set_index("setup")
    per_label = pd.DataFrame({"label": list("0123") * 2, "f1": rng.random(8), "setup": ["a"] * 4 + ["b"] * 4})
    figs = {
        "grid": plots.sample_grid(d.X_train, d.Y_train, d.label_names, n=10),
        "freq": plots.label_frequency(data.split_table(d, long=True)),
        "card": plots.cardinality_hist(pd.DataFrame({"labels_per_example": d.Y_train.sum(1)})),
        "cooc": plots.cooccurrence_heatmap(data.cooccurrence(d.Y_train), d.label_names),
        "curves": plots.curves({"a": hist, "b": hist}),
        "bars": plots.metric_bars(summary, ["micro_f1", "map"]),
        "per_label": plots.per_label_bars(per_label),
        "pr": plots.pr_curves(d.Y_test, p, d.label_names),
        "probs": plots.prob_hist({"a": p, "b": p ** 2}),
        "line": plots.line(pd.DataFrame({"k": [1, 1, 2, 2], "f1": [0.9, 0.8, 0.7, 0.6]}), "k", "f1"),
        "scatter": plots.scatter(per_label.assign(freq=0.1), "freq", "f1", hue="setup"),
    }
    for name, fig in figs.items():
        assert isinstance(fig, plt.Figure)
        path = plots.save_figure(fig, tmp_path, name)
        assert _is_png(path), name
        plt.close(fig)
    assert plots.save_figure(plt.figure(), None, "x") is None
    assert sorted(p.stem for p in tmp_path.glob("*.png")) == sorted(figs)


def test_out_dir_argument_writes_file(tmp_path):
    plots.line(pd.DataFrame({"x": [0, 1], "y": [1, 2]}), "x", "y", out_dir=tmp_path, name="line")
    plt.close("all")
    assert _is_png(tmp_path / "line.png")
