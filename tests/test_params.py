"""helpers.params: each rule accepts what a notebook can run with and refuses the rest in one line."""

import numpy as np
import pytest

from helpers import params


def _msg(rule, value, name="x"):
    with pytest.raises(params.ParameterError) as e:
        rule(name, value)
    text = str(e.value)
    assert "\n" not in text and f"`{name}`" in text
    return text


def test_integer_accepts_numpy_and_refuses_float_bool_and_range():
    rule = params.integer(min=1)
    rule("epochs", 3)
    rule("epochs", np.int64(3))
    assert "1.5 (float)" in _msg(rule, 1.5, "epochs")
    _msg(rule, True)
    _msg(rule, 0)
    _msg(params.integer(max=5), 6)


def test_number_bounds_open_and_closed():
    params.number(min=0, min_open=True)("lr", 1)
    _msg(params.number(min=0, min_open=True), 0.0)
    params.number(min=0)("x", 0.0)
    _msg(params.number(max=1, max_open=True), 1.0)
    _msg(params.number(), float("nan"))
    _msg(params.number(), "0.1")


def test_boolean_text_choice_subset():
    params.boolean()("amp", False)
    _msg(params.boolean(), 0)
    _msg(params.text(), "")
    params.choice("a", "b")("c", "a")
    _msg(params.choice("a", "b"), "z")
    _msg(params.choice(0, 1), True)
    params.subset(["a", "b"])("setups", ["b"])
    assert "'z' is not known" in _msg(params.subset(["a", "b"]), ["a", "z"])
    _msg(params.subset(["a", "b"]), ["a", "a"])
    _msg(params.subset(["a", "b"]), [])
    _msg(params.subset(["a", "b"]), "a")


def test_device():
    params.device()("device", "auto")
    params.device()("device", "cpu")
    assert "'auto'" in _msg(params.device(), "gpu", "device")
    _msg(params.device(), "cpu:0x")
    _msg(params.device(), None)


def test_data_source_and_output_dir(tmp_path):
    params.data_source()("data", "scenes")
    f = tmp_path / "d.npz"
    f.write_bytes(b"")
    params.data_source()("data", str(f))
    _msg(params.data_source(), None, "data")
    assert "no file at" in _msg(params.data_source(), str(tmp_path / "missing.npz"))
    _msg(params.data_source(), str(tmp_path / "x.txt"))
    params.output_dir()("output_dir", str(tmp_path / "new" / "folder"))
    assert "is a file" in _msg(params.output_dir(), str(f / "sub"), "output_dir")
    _msg(params.output_dir(), 3)


def test_validate_requires_a_rule_for_every_parameter():
    params.validate({"a": 1}, a=params.integer())
    with pytest.raises(KeyError, match="without a validation rule"):
        params.validate({"a": 1, "b": 2}, a=params.integer())
    with pytest.raises(KeyError, match="does not have"):
        params.validate({"a": 1}, a=params.integer(), b=params.integer())
    with pytest.raises(params.ParameterError, match="`n_val`"):
        params.require(False, "n_val", 3, "give at least 10")


def test_on_failed_claim_accepts_the_three_modes_and_refuses_the_rest_in_one_line():
    rule = params.on_failed_claim()
    for mode in ("stop", "record", "auto"):
        rule("on_failed_claim", mode)
    text = _msg(rule, "continue", "on_failed_claim")
    assert "'stop'" in text and "'record'" in text and "'auto'" in text
    _msg(rule, True, "on_failed_claim")
    _msg(rule, None, "on_failed_claim")


def test_a_list_parameter_is_shown_passed_with_yaml_not_p():
    # papermill -p passes a string: a list parameter needs -y (found passing -p data '["enron", "bibtex"]' to 11)
    with pytest.raises(params.ParameterError) as e:
        params.subset(["yeast", "scene", "enron"])("data", '["yeast", "scene"]')
    assert "papermill -y 'data: [yeast, scene]'" in str(e.value) and "-p data" not in str(e.value)
    with pytest.raises(params.ParameterError, match=r"papermill -p epochs VALUE"):
        params.integer(min=1)("epochs", 0)
