"""helpers.claims: claims recorded with their evidence; failed claims raise; n/a is never held."""

import json

import numpy as np
import pytest

from helpers import claims


def test_held_claim_is_recorded_and_written(tmp_path, capsys):
    led = claims.Ledger(tmp_path, notebook="nb")
    rec = led.claim("a_beats_b", "A beats B", holds=np.float64(0.9) > 0.5, evidence={"a": np.float32(0.9), "b": 0.5})
    assert rec["status"] == "held" and rec["evidence"]["a"] == pytest.approx(0.9)
    assert "✔ held [a_beats_b] A beats B" in capsys.readouterr().out
    on_disk = json.loads((tmp_path / "claims.json").read_text())
    assert on_disk["claims"][0]["id"] == "a_beats_b"


def test_failed_claim_is_recorded_then_raises_with_evidence(tmp_path):
    led = claims.Ledger(tmp_path, notebook="nb", echo=False)
    with pytest.raises(AssertionError, match=r"claim 'gap' failed: the gap closes \(evidence: gap=0\.05"):
        led.claim("gap", "the gap closes", holds=False, evidence={"gap": 0.05})
    assert claims.read_claims(tmp_path)[0]["status"] == "failed"


def test_not_applicable_needs_a_reason_and_skips_the_test(tmp_path):
    led = claims.Ledger(tmp_path, echo=False)
    with pytest.raises(ValueError, match="why_not"):
        led.claim("x", "text", holds=True, applies=False)

    def boom():
        raise KeyError("neg_over_pos")

    rec = led.claim("x", "text", holds=boom, applies=False, why_not="setup neg_over_pos not run")
    assert rec["status"] == "not applicable" and led.summary() == {"held": 0, "failed": 0, "not applicable": 1}


def test_bad_ids_duplicates_and_non_bool_tests_are_refused(tmp_path):
    led = claims.Ledger(None, echo=False)
    with pytest.raises(ValueError, match="snake_case"):
        led.claim("A-B", "t", holds=True)
    led.claim("ok", "t", holds=True)
    with pytest.raises(ValueError, match="used twice"):
        led.claim("ok", "t", holds=True)
    with pytest.raises(TypeError, match="must be a bool"):
        led.claim("arr", "t", holds=np.array([True, False]))
    with pytest.raises(ValueError, match="no test"):
        led.claim("none", "t")


def test_new_ledger_clears_stale_claims(tmp_path):
    claims.Ledger(tmp_path, echo=False).claim("old", "t", holds=True)
    claims.Ledger(tmp_path, echo=False)
    assert claims.read_claims(tmp_path) == []
