import json
import math
import os

import numpy as np
import pytest
import torch

from helpers import results


def test_output_dir_relative_to_repo_root(tmp_path):
    p = results.output_dir("outputs/_test_results_dir")
    try:
        assert p == results.repo_root() / "outputs" / "_test_results_dir" and p.is_dir()
        assert results.display_path(p) == os.path.join("outputs", "_test_results_dir")
    finally:
        p.rmdir()
    assert results.output_dir(tmp_path / "x") == tmp_path / "x"


def test_write_json_atomic_converts_and_leaves_no_temp(tmp_path):
    obj = {"a": np.float32(0.5), "b": np.arange(3), "c": float("nan"), "d": torch.tensor([1.5, 2.0]),
           "e": np.bool_(True), "f": [np.int64(7)]}
    path = results.write_json_atomic(tmp_path / "r.json", obj)
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [0, 1, 2], "c": None, "d": [1.5, 2.0], "e": True,
                                            "f": [7]}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_write_json_atomic_keeps_old_file_on_failure(tmp_path):
    path = results.write_json_atomic(tmp_path / "r.json", {"v": 1})
    with pytest.raises(TypeError):
        results.write_json_atomic(path, {"v": object()})
    assert json.loads(path.read_text()) == {"v": 1}
    assert len(list(tmp_path.iterdir())) == 1


def test_record_round_trip_into_table(tmp_path):
    entry = results.result_entry("bce_with_logits", {"micro_f1": 0.9, "per_label": [{"label": "0"}]},
                                 train_seconds=1.5)
    results.write_record(tmp_path / "a", "03_bce_with_logits", {"seed": 1, "tail": 0.0}, [entry])
    results.write_record(tmp_path / "b", "03_bce_with_logits", {"seed": 2, "tail": 0.0},
                         [entry, results.result_entry("mse", {"micro_f1": 0.7})])
    rec = results.read_json(tmp_path / "a" / "metrics.json")
    assert rec["notebook"] == "03_bce_with_logits"
    assert {"python", "torch", "sklearn", "device", "cpu_count"} <= set(rec["env"])
    df = results.read_records(tmp_path)
    assert len(df) == 3
    assert sorted(df["param.seed"]) == [1, 2, 2]
    assert "per_label" not in df.columns
    assert math.isclose(df.loc[df["setup"] == "mse", "micro_f1"].item(), 0.7)


def test_read_json_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the notebook"):
        results.read_json(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        results.read_json(tmp_path / "bad.json")


def test_write_bytes_atomic_replaces_whole_file(tmp_path):
    path = results.write_bytes_atomic(tmp_path / "a.csv", b"x,y\n1,2\n")
    results.write_bytes_atomic(path, b"x\n")
    assert path.read_bytes() == b"x\n" and [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_jsonable_fallback_for_unknown_objects():
    class Thing:
        def __str__(self):
            return "thing"

    assert results.jsonable({"a": Thing(), "b": [np.float64("inf"), True]}, fallback=str) == {"a": "thing",
                                                                                              "b": [None, True]}
    thing = Thing()
    assert results.jsonable([thing])[0] is thing  # without a fallback, left for json.dumps to reject
