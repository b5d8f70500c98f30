"""Every row of the front door is a measured fact: for each (symptom, cause) pair with a run, the run's
recorded value passes the test the table states (helpers.frontdoor.Measure), read from the notebook's
metrics.json written by the regression run (same conventions as tests/test_headlines_beyond.py: run
after the nbval items; a record older than the test session is never trusted).

A measure whose value the notebook does not record yet carries ``pending`` (what must be recorded): its
test is expected to fail with MissingValue, strictly, so it fails loudly once the value is recorded and
the ``pending`` text is left behind. A fact only a CUDA run can show is skipped on a CPU record.
"""

import pytest

from helpers import frontdoor
from tests.notebook_runs import record_getter

pytestmark = pytest.mark.headlines


def _id(triple) -> str:
    symptom, cause, m = triple
    return f"{symptom.symptom[:30]} / {cause.text[:40]} / {m.run}"


def _params():
    for triple in frontdoor.measures():
        m = triple[2]
        marks = [pytest.mark.xfail(raises=frontdoor.MissingValue, strict=True, reason=m.pending)] if m.pending else []
        yield pytest.param(triple, marks=marks, id=_id(triple))


@pytest.fixture(scope="module")
def records(request, tmp_path_factory):
    return record_getter(request.config.session_start_time, tmp_path_factory)


@pytest.mark.parametrize("triple", list(_params()))
def test_front_door_row_is_measured(records, triple):
    symptom, cause, m = triple
    record = records(m.notebook)
    if m.device and record["env"].get("device", "cpu").split(":")[0] != m.device:
        pytest.skip(f"{m.notebook}: shown only on {m.device}; this record ran on {record['env'].get('device')}")
    got = frontdoor.check(m, record)
    assert got.holds, (f"front door row {symptom.symptom!r}, cause {cause.text!r}: {m.notebook} run {m.run!r} "
                       f"has {m.describe()} false (value {got.value!r}); fix the row or the cause's run")
