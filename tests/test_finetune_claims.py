"""helpers.finetune_claims: notebook 10's claim tests, scopes and evidence, on hand-made verdicts."""

import pandas as pd
import pytest

from helpers import finetune_claims as FC


def _v(tuned=0.6, map_=0.8, val_map=0.8):
    return {"tuned_macro_f1": tuned, "map": map_, "macro_f1_at_0.5": 0.5, "val_map": val_map}


def _only(claims: dict) -> dict:
    assert len(claims) == 1
    return next(iter(claims.values()))


@pytest.mark.parametrize(("pretrain_epochs", "epochs", "n_train", "expected"), [
    (4, 8, 1000, True), (2, 8, 1000, False), (4, 5, 1000, False), (4, 8, 499, False)])
def test_learns_is_the_declared_precondition(pretrain_epochs, epochs, n_train, expected):
    assert FC.learns(pretrain_epochs, epochs, n_train) is expected


def test_each_claim_holds_fails_and_says_why_not():
    hist = pd.DataFrame({"epoch": [1, 2], "val_accuracy": [0.5, 0.85]})
    assert _only(FC.pretraining(hist, True))["holds"]
    assert not _only(FC.pretraining(hist.assign(val_accuracy=[0.5, 0.79]), True))["holds"]
    assert _only(FC.pretraining(hist, True))["evidence"] == {"epoch": 2, "val_accuracy": 0.85}
    assert _only(FC.versus_scratch(_v(0.6, 0.8), _v(0.5, 0.7), True))["holds"]
    assert not _only(FC.versus_scratch(_v(0.6, 0.8), _v(0.65, 0.7), True))["holds"]  # both metrics must be above
    small = _only(FC.frozen_bn(_v(0.60), _v(0.58), {"a": 0.0, "b": 0.4}, True))
    assert small["holds"] and small["evidence"]["drift"] == {"a": 0.0, "b": 0.4}
    assert not _only(FC.frozen_bn(_v(0.60), _v(0.56), {}, True))["holds"]
    assert _only(FC.raw_inputs(_v(0.60), _v(0.62), True))["holds"]
    assert not _only(FC.raw_inputs(_v(0.60), _v(0.64), True))["holds"]
    assert _only(FC.one_lr(_v(0.6, 0.8), _v(0.7, 0.9), True, 0.1))["holds"]
    assert not _only(FC.one_lr(_v(0.6, 0.8), _v(0.7, 0.79), True, 0.1))["holds"]
    wide = _only(FC.one_lr(_v(0.6, 0.8), _v(0.7, 0.9), True, 0.5))
    assert not wide["applies"] and wide["why_not"].endswith("and backbone_lr_factor <= 0.2")
    assert _only(FC.validation_mode(_v(0.6, val_map=0.8), _v(0.5, val_map=0.7), True, 0.3))["holds"]
    assert not _only(FC.validation_mode(_v(0.6, val_map=0.8), _v(0.5, val_map=0.78), True, 0.3))["holds"]
    assert not _only(FC.validation_mode(_v(), _v(), True, 0.0))["applies"]
    assert _only(FC.monitor_quiet("-"))["holds"] and not _only(FC.monitor_quiet("LOSS_FLAT"))["holds"]
    short = _only(FC.versus_scratch(_v(), _v(), False))
    assert not short["applies"] and short["why_not"] == FC.WHY_NOT
