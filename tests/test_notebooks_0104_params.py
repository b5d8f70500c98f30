"""Notebooks 01-04: a bad parameter stops the run at the validation cell with one line naming it, and a
parameter value outside a claim's declared preconditions ends the claim "not applicable" with its reason.

Each run stops after a few cells (validation comes before any data or training) except the 01 run,
which trains nothing. The runs with training (02 ``-p epochs 1``, 03 ``-p n_train 300 -p epochs 40``)
are part of ``make test-params``.
"""

import papermill as pm
import pytest

from helpers.claims import NOT_APPLICABLE, read_claims
from helpers.results import repo_root
from tests.notebook_runs import run

NB = repo_root() / "notebooks"

BAD = [
    ("01_data_inspection", {"objects": 7}, "parameter `objects`: got 7 (int)"),
    ("02_wrong_loss_failure", {"epochs": 1.5}, "parameter `epochs`: got 1.5 (float)"),
    ("02_wrong_loss_failure", {"setups": ["mse"]}, "parameter `setups`: got ['mse'] (list); include 'bce_with_logits'"),
    ("02_wrong_loss_failure", {"cardinality_levels": [0, 9]}, "parameter `cardinality_levels`"),
    ("03_bce_with_logits", {"device": "gpu"}, "parameter `device`: got 'gpu' (str)"),
    ("04_pos_weight_imbalance", {"setups": ["bce_with_logits+nope"]}, "'bce_with_logits+nope' is not known"),
    ("04_pos_weight_imbalance", {"batch_size": 0}, "parameter `batch_size`: got 0 (int)"),
]


@pytest.mark.parametrize("stem,parameters,message", BAD, ids=[f"{s}-{next(iter(p))}" for s, p, _ in BAD])
def test_bad_parameter_stops_in_one_line(tmp_path, stem, parameters, message):
    with pytest.raises(pm.PapermillExecutionError) as err:
        run(NB / f"{stem}.ipynb", tmp_path, **parameters)
    assert err.value.ename == "ParameterError" and message in err.value.evalue
    assert "\n" not in err.value.evalue.strip()


def test_01_tail_equal_to_imbalanced_tail_is_not_applicable(tmp_path):
    """19 §1: ``-p tail 3.3`` compared the long-tailed setting with itself and failed long_tail_mean_ir_10x."""
    record = run(NB / "01_data_inspection.ipynb", tmp_path, tail=3.3, n_train=600)
    claims = {c["id"]: c for c in read_claims(tmp_path)}
    for cid, reason in (("long_tail_mean_ir_10x", "balanced scenes"), ("rarest_label_about_1_in_200", "n_train=600"),
                        ("tail_changes_which_digits_only", "one setting")):
        assert claims[cid]["status"] == NOT_APPLICABLE and reason in claims[cid]["why_not"], claims[cid]
    assert not [c for c in claims.values() if c["status"] == "failed"] and record["claims"]
