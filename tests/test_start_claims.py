"""helpers.start_claims: notebook 00's claims hold, fail and fall out of scope on hand-made reports."""

from types import SimpleNamespace

import numpy as np

from helpers import start_claims


def _report(*findings):
    fs = [SimpleNamespace(code=c, severity=s, message="") for c, s in findings]
    return SimpleNamespace(findings=fs, codes=[f.code for f in fs],
                           get=lambda code: next((f for f in fs if f.code == code), None))


def test_book_setup_fails_on_an_error_and_names_it():
    ok = start_claims.book_setup(_report(("RARE_LABEL", "warning")))
    assert ok["book_setup_has_no_error"]["holds"] and ok["front_door_codes_exist"]["holds"]
    bad = start_claims.book_setup(_report(("SOFTMAX_ON_MULTILABEL", "error")))
    assert not bad["book_setup_has_no_error"]["holds"]
    assert bad["book_setup_has_no_error"]["evidence"]["errors"] == ["SOFTMAX_ON_MULTILABEL"]


def test_user_script_claims_follow_the_report_the_predictions_and_the_data():
    Y_train = np.array([[1, 1, 0], [1, 0, 0]])
    Y_val = np.array([[1, 0, 0], [0, 1, 0]])
    named = _report(("SOFTMAX_ON_MULTILABEL", "error"))
    c = start_claims.user_script(named, np.zeros((2, 3)), Y_train, Y_val, "scenes")
    assert c["user_script_mistake_named"]["holds"] and c["user_script_predicts_nothing"]["holds"]
    c = start_claims.user_script(_report(("SOFTMAX_ON_MULTILABEL", "warning")), np.ones((2, 3)), Y_train, Y_val,
                                 "yeast")
    assert not c["user_script_mistake_named"]["holds"] and not c["user_script_predicts_nothing"]["holds"]
    assert not c["user_script_predicts_nothing"]["applies"] and "yeast" in c["user_script_predicts_nothing"]["why_not"]
    single = start_claims.user_script(named, np.zeros((2, 3)), np.eye(3)[:2], Y_val, "scenes")
    assert not single["user_script_mistake_named"]["applies"]
