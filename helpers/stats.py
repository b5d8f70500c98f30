"""The book's statistics for comparing setups over seeds: paired differences, t-intervals, Holm, verdicts.

Every multi-seed comparison in the book is made the same way:

1. **Paired differences.** Each run of a sweep trains every setup on the same data from the same
   initial weights, so a setup is compared with its reference per seed: ``d_s = metric(setup, s) -
   metric(reference, s)`` (:func:`paired_differences`).
2. **Mean with a t-interval.** The mean of the ``n`` differences with a confidence interval from
   Student's t with ``n - 1`` degrees of freedom (``scipy.stats``; :func:`t_interval`), and the
   two-sided p-value of the paired t-test (``scipy.stats.ttest_1samp(d, 0)``, the same as
   ``scipy.stats.ttest_rel(a, b)``).
3. **Holm across a table.** The comparisons one table (or figure) makes are corrected together
   (:func:`holm`): sorted by p-value, the ``k``-th smallest (1-based) is judged at level ``alpha / (m
   - k + 1)``, and its interval is drawn at confidence ``1 - alpha / (m - k + 1)`` (Holm's step-down
   level; the step-down stops at the first comparison it keeps, so a later interval that happens to
   exclude 0 still does not count: its Holm-adjusted p-value says so).
4. **A smallest effect of interest** (SESOI), declared with the comparison (:data:`SESOI`: 0.01 in
   macro-F1, micro-F1 and mAP). Each comparison is then exactly one of (:func:`verdict`):

   - ``"a difference"``: the Holm-adjusted p-value is below ``alpha`` (so the corrected interval
     excludes 0) and the mean's size exceeds the SESOI;
   - ``"equivalent"``: the corrected interval lies within ``[-SESOI, +SESOI]``;
   - ``"inconclusive"``: neither (more seeds would be needed to say which).

:func:`judge` does 2-4 for a table of comparisons and :func:`sentence` writes one comparison in
words from its numbers, always with its number of seeds. Nothing stronger than these three words
is said anywhere in the book.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

ALPHA = 0.05  # family-wise error rate of one table's comparisons (Holm)
SESOI = {"macro_f1": 0.01, "micro_f1": 0.01, "map": 0.01, "samples_f1": 0.01}  # smallest effects of interest
DIFFERENCE, EQUIVALENT, INCONCLUSIVE = "a difference", "equivalent", "inconclusive"
VERDICTS = (DIFFERENCE, EQUIVALENT, INCONCLUSIVE)
COLUMNS = ("n", "mean", "sd", "p", "p_holm", "ci95_low", "ci95_high", "level", "low", "high", "sesoi", "verdict")


def _diffs(d: Sequence[float] | np.ndarray) -> np.ndarray:
    a = np.asarray(d, dtype=np.float64).ravel()
    if np.isnan(a).any():
        raise ValueError(f"{int(np.isnan(a).sum())} of {a.size} paired differences are NaN: a run lacks the setup "
                         "or its reference (drop that seed from both before comparing)")
    return a


def t_interval(d: Sequence[float] | np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The ``level`` confidence interval of the mean of ``d`` from Student's t (``n - 1`` degrees of
    freedom). ``(nan, nan)`` for fewer than 2 values; ``(mean, mean)`` when all values are equal."""
    a = _diffs(d)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if a.size < 2:
        return float("nan"), float("nan")
    if np.ptp(a) == 0:
        return float(a[0]), float(a[0])
    mean, sem = float(a.mean()), float(sps.sem(a))
    low, high = sps.t.interval(level, df=a.size - 1, loc=mean, scale=sem)
    return float(low), float(high)


def p_value(d: Sequence[float] | np.ndarray) -> float:
    """Two-sided p-value of the paired t-test of mean 0 (``scipy.stats.ttest_1samp(d, 0)``). With all
    differences equal: 0 when they are not 0, 1 when they are; NaN for fewer than 2 values."""
    a = _diffs(d)
    if a.size < 2:
        return float("nan")
    if np.ptp(a) == 0:
        return 0.0 if a[0] != 0 else 1.0
    return float(sps.ttest_1samp(a, 0.0).pvalue)


def holm(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values, in the input order: the ``k``-th smallest ``p_(k)`` becomes ``max_{j <= k}
    min(1, (m - j + 1) p_(j))``. NaN p-values stay NaN and do not count in ``m``."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


def holm_levels(p: Sequence[float] | np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """The confidence level of each comparison's Holm-corrected interval: ``1 - alpha / (m - k + 1)``
    for the comparison with the ``k``-th smallest p-value (``1 - alpha / m`` for the smallest, ``1 -
    alpha`` for the largest). NaN p-values get ``1 - alpha / m``."""
    p = np.asarray(p, dtype=np.float64)
    ok = np.flatnonzero(~np.isnan(p))
    m = max(ok.size, 1)
    levels = np.full(p.shape, 1 - alpha / m)
    order = ok[np.argsort(p[ok], kind="stable")]
    levels[order] = 1 - alpha / (m - np.arange(ok.size))
    return levels


def verdict(mean: float, low: float, high: float, sesoi: float, p_holm: float, alpha: float = ALPHA) -> str:
    """Exactly one of ``"a difference"`` (``p_holm < alpha``, the corrected interval ``[low, high]``
    excludes 0, and ``|mean| > sesoi``), ``"equivalent"`` (``-sesoi <= low`` and ``high <= sesoi``) or
    ``"inconclusive"``. The first two exclude each other: equivalence needs ``|mean| <= sesoi``."""
    if not sesoi > 0:
        raise ValueError(f"the smallest effect of interest must be positive, got {sesoi}")
    if any(np.isnan(v) for v in (mean, low, high)):
        return INCONCLUSIVE
    excludes_zero = low > 0 or high < 0
    if excludes_zero and not np.isnan(p_holm) and p_holm < alpha and abs(mean) > sesoi:
        return DIFFERENCE
    if -sesoi <= low and high <= sesoi:
        return EQUIVALENT
    return INCONCLUSIVE


def _sesoi_for(key: Any, metric: str | None, sesoi: float | Mapping[str, float] | None) -> float:
    if isinstance(sesoi, int | float) and not isinstance(sesoi, bool):
        return float(sesoi)
    table = SESOI if sesoi is None else sesoi
    if metric is None or metric not in table:
        raise ValueError(f"no smallest effect of interest for {key!r} (metric {metric!r}): declare one, e.g. "
                         f"sesoi=0.01 or sesoi={{{metric!r}: 0.01}}")
    return float(table[metric])


def judge(diffs: Mapping[Any, Sequence[float] | np.ndarray], sesoi: float | Mapping[str, float] | None = None,
          metric: str | Mapping[Any, str] | None = None, alpha: float = ALPHA) -> pd.DataFrame:
    """Judge the comparisons of one table together: ``diffs`` maps each comparison's key (a name or a
    tuple) to its per-seed paired differences. ``sesoi`` is one number, or a mapping metric -> SESOI
    (default :data:`SESOI`) with ``metric`` naming each comparison's metric (one name, or a mapping key
    -> metric). Returns one row per comparison (index: the keys) with :data:`COLUMNS`: ``n`` seeds,
    ``mean``, ``sd``, ``p``, ``p_holm``, the uncorrected 95 % interval ``ci95_low``/``ci95_high``, the
    Holm-corrected interval ``low``/``high`` at confidence ``level``, ``sesoi`` and ``verdict``."""
    keys = list(diffs)
    arrays = [_diffs(diffs[k]) for k in keys]
    p = np.array([p_value(a) for a in arrays])
    p_holm, levels = holm(p), holm_levels(p, alpha)
    rows = []
    for k, a, pk, ph, lev in zip(keys, arrays, p, p_holm, levels, strict=True):
        m = metric.get(k) if isinstance(metric, Mapping) else metric
        s = _sesoi_for(k, m, sesoi)
        mean = float(a.mean()) if a.size else float("nan")
        low, high = t_interval(a, lev) if a.size >= 2 else (float("nan"), float("nan"))
        lo95, hi95 = t_interval(a, 0.95) if a.size >= 2 else (float("nan"), float("nan"))
        rows.append({"n": int(a.size), "mean": mean, "sd": float(a.std(ddof=1)) if a.size >= 2 else float("nan"),
                     "p": pk, "p_holm": ph, "ci95_low": lo95, "ci95_high": hi95, "level": float(lev),
                     "low": low, "high": high, "sesoi": s, "verdict": verdict(mean, low, high, s, ph, alpha)})
    index = pd.MultiIndex.from_tuples(keys) if keys and all(isinstance(k, tuple) for k in keys) else pd.Index(keys)
    return pd.DataFrame(rows, index=index, columns=list(COLUMNS))


def paired_differences(table: pd.DataFrame, by: str | Sequence[str], metric: str, reference: str,
                       threshold: str | None = None) -> dict[tuple, np.ndarray]:
    """Per-seed differences ``metric(setup) - metric(reference)`` on the same run, from a sweep's results
    table (ok rows; one row per run, setup and threshold): ``{(*by values, setup): differences}``,
    seeds in order. A seed where either setup is missing is left out of that comparison."""
    by = [by] if isinstance(by, str) else list(by)
    ok = table[table["status"] == "ok"] if "status" in table.columns else table
    if threshold is not None:
        ok = ok[ok["threshold"].astype(str) == threshold]
    if reference not in set(ok["setup"]):
        raise ValueError(f"no {reference!r} rows{f' at threshold {threshold}' if threshold else ''} to compare with; "
                         f"setups: {sorted(set(ok['setup']))}")
    wide = ok.pivot_table(index=[*by, "seed"], columns="setup", values=metric).sort_index()
    out: dict[tuple, np.ndarray] = {}
    levels = wide.index.droplevel("seed").unique() if by else [()]
    for lv in levels:
        lv_t = lv if isinstance(lv, tuple) else (lv,)
        block = wide.xs(lv_t, level=by) if by else wide
        for setup in wide.columns:
            if setup == reference:
                continue
            d = (block[setup] - block[reference]).dropna()
            if len(d):
                out[(*lv_t, setup)] = d.to_numpy()
    return out


def fmt_ci(low: float, high: float, digits: int = 3) -> str:
    """``[-0.024, +0.058]``: an interval of a difference, signs always shown."""
    return f"[{low:+.{digits}f}, {high:+.{digits}f}]"


def sentence(row: Mapping[str, Any] | pd.Series, what: str, digits: int = 3) -> str:
    """One comparison of :func:`judge` in words, from its numbers; the number of seeds is always said.

    ``what`` names the difference, e.g. ``"neg_over_pos minus plain BCE, tuned macro-F1, tail 3.3"``."""
    n, mean, s, v = int(row["n"]), float(row["mean"]), float(row["sesoi"]), str(row["verdict"])
    if n < 2 or np.isnan(row["low"]):
        return f"{what}: {mean:+.{digits}f} from {n} seed(s); no interval with fewer than 2 seeds: {INCONCLUSIVE}."
    ci = fmt_ci(row["low"], row["high"], digits)
    head = (f"{what}: {mean:+.{digits}f}, {row['level']:.1%} CI {ci} (Holm-corrected; 95 % CI "
            f"{fmt_ci(row['ci95_low'], row['ci95_high'], digits)}), {n} seeds, smallest effect of interest {s:.3g}")
    if v == DIFFERENCE:
        why = f"the interval excludes 0 and the mean is larger than {s:.3g}"
    elif v == EQUIVALENT:
        why = f"the interval lies within ±{s:.3g}"
    elif row["low"] > 0 or row["high"] < 0:
        why = (f"the interval excludes 0, but the mean is not larger than {s:.3g}" if abs(mean) <= s else
               f"the interval excludes 0 at this level, but the Holm step-down stopped earlier (p_holm "
               f"{row['p_holm']:.3f})")
    else:
        why = f"the interval holds 0 and reaches beyond ±{s:.3g}; more seeds would be needed"
    return f"{head}: {v} ({why})."


def view_name(metric: str, threshold: str | None) -> str:
    """How a table names a metric read at a threshold: ``"macro_f1 at 0.5"``, ``"macro_f1 tuned"``, ``"map"``."""
    if threshold is None:
        return metric
    return f"{metric} at {threshold}" if threshold != "tuned" else f"{metric} tuned"


def judge_table(table: pd.DataFrame, by: str | Sequence[str], views: Sequence[tuple[str, str | None]],
                reference: str, sesoi: float | Mapping[str, float] | None = None, alpha: float = ALPHA) -> pd.DataFrame:
    """Every setup against ``reference``, per value of ``by`` and per view ``(metric, threshold)``, judged
    together as one table (Holm across all its comparisons): :func:`judge`'s columns, indexed by
    ``(view, *by, setup)``. ``threshold`` is a value of the table's ``threshold`` column ("0.5",
    "tuned") or None when the table has none."""
    by = [by] if isinstance(by, str) else list(by)
    diffs: dict[tuple, np.ndarray] = {}
    metric: dict[tuple, str] = {}
    for m, thr in views:
        for key, d in paired_differences(table, by, m, reference, thr).items():
            k = (view_name(m, thr), *key)
            diffs[k], metric[k] = d, m
    out = judge(diffs, sesoi, metric, alpha)
    out.index = out.index.set_names(["view", *by, "setup"])
    return out
