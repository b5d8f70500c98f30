"""Figures for the book (seaborn on matplotlib), each returned as a figure and saved as PNG.

Every function takes ``out_dir`` and ``name``; when both are given the figure is written to
``out_dir/name.png`` (through :func:`save_figure`, the only place the book writes images). The
notebooks assign the returned figure (``fig = ...``), so the inline backend shows it once and no
``<Figure size ...>`` line is printed.

Per-label figures stay quick and readable at any label count: past ``max_labels`` labels they draw
only the worst (lowest metric) or most frequent ``max_labels`` labels, and their title says which.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from sklearn.metrics import precision_recall_curve

DPI = 90
MAX_LABELS = 30  # per-label figures draw at most this many labels (the worst or most frequent)


def _few(names: Sequence[str], score: Sequence[float], k: int, *, lowest: bool) -> list[int]:
    """Indices of the ``k`` labels with the lowest (or highest) score, in their original order;
    NaN scores last. All labels when there are at most ``k``."""
    if len(names) <= k:
        return list(range(len(names)))
    s = np.asarray(score, dtype=np.float64)
    key = np.where(np.isnan(s), np.inf, s if lowest else -s)
    return sorted(np.argsort(key, kind="stable")[:k].tolist())


def set_style() -> None:
    """The book's plot style: seaborn's whitegrid theme, compact figures, PNGs at 90 dpi."""
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind")
    matplotlib.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI, "figure.autolayout": False,
                                "savefig.bbox": "tight", "axes.titlesize": "medium"})


def save_figure(fig: plt.Figure, out_dir: str | os.PathLike | None, name: str | None) -> Path | None:
    """Write ``fig`` to ``out_dir/name.png`` (both given) and return the path; else do nothing."""
    if out_dir is None or name is None:
        return None
    path = Path(out_dir) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    # A constrained layout already fits everything, its outside legend included: no second, "tight" pass.
    fig.savefig(path, bbox_inches=None if fig.get_layout_engine() is not None else "tight")
    return path


def _finish(fig, out_dir, name, grid=None):
    # A seaborn FacetGrid lays itself out around its outside legend; Figure.tight_layout would not.
    # A figure with a layout engine (constrained) lays itself out when drawn.
    if grid is not None:
        grid.tight_layout()
    elif fig.get_layout_engine() is None:
        fig.tight_layout()
    save_figure(fig, out_dir, name)
    return fig


def sample_grid(X: np.ndarray, Y: np.ndarray, label_names: Sequence[str], *, n: int = 16, cols: int = 8,
                title: str | None = None, out_dir=None, name=None) -> plt.Figure:
    """The first ``n`` images with their label sets as titles."""
    n = min(n, len(X))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.5 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(X[i].squeeze(0), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title("{" + ",".join(label_names[j] for j in np.flatnonzero(Y[i])) + "}", fontsize=9)
    if title:
        fig.suptitle(title)
    return _finish(fig, out_dir, name)


def label_frequency(freq: pd.DataFrame, *, title: str | None = None, log: bool = False,
                    max_labels: int = MAX_LABELS, out_dir=None, name=None) -> plt.Figure:
    """Bars of per-label positive frequency; ``freq`` is long-form with columns label, split, frequency
    (and optionally a facet column ``setting``)."""
    facet = "setting" in freq.columns
    labels = list(pd.unique(freq["label"]))
    if len(labels) > max_labels:  # the most frequent ones
        mean = freq.groupby("label", sort=False)["frequency"].mean().reindex(labels)
        keep = [labels[i] for i in _few(labels, mean.to_numpy(), max_labels, lowest=False)]
        freq = freq[freq["label"].isin(keep)]
        title = f"{title + ': ' if title else ''}the {max_labels} most frequent of {len(labels)} labels"
    g = sns.catplot(data=freq, x="label", y="frequency", hue="split", col="setting" if facet else None,
                    kind="bar", height=3.2, aspect=1.4)
    if log:
        g.set(yscale="log")
    g.set_axis_labels("label", "fraction of scenes with the label")
    if title:
        g.figure.suptitle(title, y=1.03)
    return _finish(g.figure, out_dir, name, g)


def cardinality_hist(counts: pd.DataFrame, *, out_dir=None, name=None) -> plt.Figure:
    """Histogram of labels per example; ``counts`` long-form with columns labels_per_example and hue col."""
    hue = "setting" if "setting" in counts.columns else None
    fig, ax = plt.subplots(figsize=(5, 3))
    sns.histplot(data=counts, x="labels_per_example", hue=hue, discrete=True, multiple="dodge",
                 stat="probability", common_norm=False, shrink=0.8, ax=ax)
    ax.set_xlabel("labels per example")
    return _finish(fig, out_dir, name)


def cooccurrence_heatmap(C: np.ndarray, label_names: Sequence[str], *, title: str | None = None, ax=None,
                         max_labels: int = MAX_LABELS, out_dir=None, name=None) -> plt.Figure:
    """Heatmap of label co-occurrence counts (diagonal: label counts); past ``max_labels`` labels,
    those of the most frequent ones."""
    fig = ax.figure if ax is not None else plt.figure(figsize=(5.2, 4.3))
    ax = ax or fig.gca()
    C = np.asarray(C)
    keep = _few(label_names, np.diag(C), max_labels, lowest=False)
    title = title or "label co-occurrence (train)"
    if len(keep) < len(label_names):
        title += f": the {len(keep)} most frequent of {len(label_names)} labels"
    names = [label_names[i] for i in keep]
    sns.heatmap(pd.DataFrame(C[np.ix_(keep, keep)], index=names, columns=names), annot=len(names) <= 10,
                fmt="d", cmap="mako_r", cbar=False, ax=ax, annot_kws={"fontsize": 7})
    ax.set_title(title)
    return _finish(fig, out_dir, name)


def curves(histories: Mapping[str, pd.DataFrame], columns: Sequence[str] = ("train_loss", "val_loss"), *,
           sharey: bool = False, out_dir=None, name=None) -> plt.Figure:
    """Per-epoch curves for several runs: one panel per column, one line per run."""
    long = pd.concat([h.assign(setup=k) for k, h in histories.items()], ignore_index=True)
    long = long.melt(id_vars=["epoch", "setup"], value_vars=list(columns), var_name="quantity")
    # One row of seaborn line plots in a constrained layout: laid out once when drawn (a relplot's
    # FacetGrid lays itself out three times, most of the figure's cost in a notebook that draws many).
    fig, axes = plt.subplots(1, len(columns), figsize=(3.75 * len(columns) + 1.3, 3.0), sharey=sharey,
                             squeeze=False, layout="constrained")
    for i, (ax, column) in enumerate(zip(axes[0], columns, strict=True)):
        sns.lineplot(data=long[long["quantity"] == column], x="epoch", y="value", hue="setup", marker="o",
                     markersize=3, ax=ax, legend=i == len(columns) - 1)
        ax.set_title(column)
        ax.set_ylabel("")
    last = axes[0][-1]
    handles, labels = last.get_legend_handles_labels()
    last.get_legend().remove()
    fig.legend(handles, labels, title="setup", loc="outside right upper", frameon=False)  # laid out with the axes
    return _finish(fig, out_dir, name)


def metric_bars(summary: pd.DataFrame, metrics: Sequence[str], *, by: str = "setup", hue: str | None = None,
                out_dir=None, name=None) -> plt.Figure:
    """Grouped bars of headline metrics per setup (``summary``: one row per setup)."""
    long = summary.reset_index().melt(id_vars=[c for c in [by, hue] if c], value_vars=list(metrics),
                                      var_name="metric")
    g = sns.catplot(data=long, x="metric", y="value", hue=by, col=hue, kind="bar", height=3.2, aspect=1.6)
    g.set_axis_labels("", "")
    return _finish(g.figure, out_dir, name, g)


def per_label_bars(per_label: pd.DataFrame, metric: str = "f1", *, hue: str = "setup",
                   max_labels: int = MAX_LABELS, out_dir=None, name=None) -> plt.Figure:
    """Per-label bars of ``metric`` (long-form frame with columns label, ``metric``, ``hue``); past
    ``max_labels`` labels, the worst ones (lowest mean ``metric`` over ``hue``)."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    labels = list(pd.unique(per_label["label"]))
    if len(labels) > max_labels:
        mean = per_label.groupby("label", sort=False)[metric].mean().reindex(labels)
        keep = [labels[i] for i in _few(labels, mean.to_numpy(), max_labels, lowest=True)]
        per_label = per_label[per_label["label"].isin(keep)]
        ax.set_title(f"the {max_labels} labels with the lowest {metric} of {len(labels)}")
    sns.barplot(data=per_label, x="label", y=metric, hue=hue, ax=ax)
    ax.legend(loc="center left", bbox_to_anchor=(1, 0.5), fontsize=8)
    return _finish(fig, out_dir, name)


def _average_precision(y_true: np.ndarray, y_prob: np.ndarray) -> np.ndarray:
    """Per-label average precision, all labels at once (mean precision at each positive's rank;
    ties broken by order, so it can differ slightly from scikit-learn's); NaN without positives."""
    order = np.argsort(-y_prob, axis=0, kind="stable")
    hits = np.take_along_axis(np.asarray(y_true, dtype=np.float64), order, axis=0)
    precision = np.cumsum(hits, axis=0) / np.arange(1, len(hits) + 1)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (precision * hits).sum(axis=0) / hits.sum(axis=0)


def pr_curves(y_true: np.ndarray, y_prob: np.ndarray, label_names: Sequence[str], *, cols: int = 5,
              max_labels: int = 20, out_dir=None, name=None) -> plt.Figure:
    """One precision-recall curve per label (scikit-learn's ``precision_recall_curve``); past
    ``max_labels`` labels, the curves of the labels with the lowest average precision (labels
    without positives, which have no curve, last), as the title says."""
    y_true, y_prob = np.asarray(y_true), np.asarray(y_prob)
    L = y_true.shape[1]
    show = list(range(L))
    if L > max_labels:
        show = _few(label_names, _average_precision(y_true, y_prob), max_labels, lowest=True)
    rows = int(np.ceil(len(show) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 2.1 * rows), sharex=True, sharey=True,
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(show):
            ax.axis("off")
            continue
        j = show[i]
        if y_true[:, j].any():
            p, r, _ = precision_recall_curve(y_true[:, j], y_prob[:, j])
            ax.plot(r, p)
        ax.set_title(str(label_names[j]), fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
    if len(show) < L:
        fig.suptitle(f"the {len(show)} labels with the lowest average precision, of {L}")
    fig.supxlabel("recall")
    fig.supylabel("precision")
    return _finish(fig, out_dir, name)


def prob_hist(probs: Mapping[str, np.ndarray], *, threshold: float = 0.5, logy: bool = False,
              xlabel: str = "predicted probability", out_dir=None, name=None) -> plt.Figure:
    """Histograms of predicted probabilities per setup, with the decision threshold marked.

    The y axis is the share of the entries in each bin (``logy=True`` puts it on a log scale, for
    distributions with almost all their mass in one bin, such as the probabilities of negatives)."""
    long = pd.concat([pd.DataFrame({"probability": np.ravel(p), "setup": k}) for k, p in probs.items()])
    g = sns.displot(data=long, x="probability", col="setup", bins=np.linspace(0, 1, 41), stat="probability",
                    common_norm=False, height=2.6, aspect=1.1, facet_kws={"sharey": False})
    for ax in g.axes.flat:
        ax.axvline(threshold, color="k", ls="--", lw=1)
        if logy:
            ax.set_yscale("log")
    g.set_titles("{col_name}")
    g.set_axis_labels(xlabel, "share of entries" + (" (log scale)" if logy else ""))
    return _finish(g.figure, out_dir, name, g)


def line(df: pd.DataFrame, x: str, y: str, *, hue: str | None = None, style: str | None = None,
         logx: bool = False, logy: bool = False, title: str | None = None, ax=None,
         out_dir=None, name=None) -> plt.Figure:
    """A seaborn line plot (mean and 95% interval when ``x`` repeats) with markers."""
    fig = ax.figure if ax is not None else plt.figure(figsize=(5.5, 3.4))
    ax = ax or fig.gca()
    sns.lineplot(data=df, x=x, y=y, hue=hue, style=style, marker="o", ax=ax, errorbar=("ci", 95))
    if logx:
        ax.set_xscale("symlog" if (df[x] <= 0).any() else "log")
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    return _finish(fig, out_dir, name)


def scatter(df: pd.DataFrame, x: str, y: str, *, hue: str | None = None, logx: bool = False,
            title: str | None = None, out_dir=None, name=None) -> plt.Figure:
    """Scatter with one line per ``hue`` group (e.g. per-label recall against label frequency)."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    sns.lineplot(data=df, x=x, y=y, hue=hue, marker="o", ax=ax, errorbar=None)
    if logx:
        ax.set_xscale("log")
    if title:
        ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1, 0.5), fontsize=8)
    return _finish(fig, out_dir, name)
