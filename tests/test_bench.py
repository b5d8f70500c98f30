"""The training-loop benchmark's table (tiny sizes; it asserts no speed, only what the table holds)."""

from __future__ import annotations

import functools

import pytest

from helpers import bench, train


def test_table_has_each_loop_and_validation_as_its_own_row():
    df = bench.bench("cpu", n_train=256, epochs=1, repeats=1, n_val=128)
    loops = df["loop"].tolist()
    assert loops[:3] == ["dataloader", "staged", "fit"] and loops[-2:] == ["validation", "fit - validation"]
    by = df.set_index("loop")
    assert by.loc["fit - validation", "seconds"] == pytest.approx(by.loc["fit", "seconds"] - by.loc["validation", "seconds"])
    assert by.loc["dataloader", "vs_dataloader"] == 1.0 and by.loc["fit", "share_of_fit"] == 1.0
    assert by["samples_per_s"].isna().tolist() == [loop == "validation" for loop in by.index]
    assert "validation" in bench.format_table(df)


def test_monitor_off_row_only_where_fit_takes_monitor(monkeypatch):
    seen = []
    real_fit = train.fit

    @functools.wraps(real_fit)
    def fit_with_monitor(*args, monitor: bool = True, **kw):
        seen.append(monitor)
        return real_fit(*args, **kw)

    assert bench.fit_has_monitor() == ("monitor" in __import__("inspect").signature(real_fit).parameters)
    monkeypatch.setattr(train, "fit", fit_with_monitor)
    monkeypatch.setattr(bench, "fit_has_monitor", lambda: True)
    df = bench.bench("cpu", n_train=128, epochs=1, repeats=1, n_val=64)
    assert "fit, monitor off" in df["loop"].tolist() and False in seen and True in seen


def test_allocator_rows_time_fit_with_and_without_dasks_setting(capsys):
    df = bench.allocator(n_train=128, epochs=1, batch_size=64, repeats=1)
    assert df["allocator"].tolist() == ["default", "MALLOC_TRIM_THRESHOLD_=65536"]
    assert (df["seconds"] > 0).all() and df["vs_default"].iloc[0] == 1.0  # no speed asserted: machines differ
