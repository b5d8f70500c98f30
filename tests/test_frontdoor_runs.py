"""Every row of the front door is a measured fact: for each (symptom, cause) pair with a run, the run's
recorded value passes the test the table states (helpers.frontdoor.Measure), read from the notebook's
metrics.json written by the regression run (same conventions as tests/test_headlines_beyond.py: run
after the nbval items; a record older than the test session is never trusted).

A measure whose value the notebook does not record yet carries ``pending`` (what must be recorded): its
test is expected to fail with MissingValue, strictly, so it fails loudly once the value is recorded and
the ``pending`` text is left behind. A fact only a CUDA run can show is skipped on a CPU record. Each row's
controls, the same tests on runs without the mistake, must fail.
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


@pytest.mark.parametrize("pair", frontdoor.controls(), ids=lambda p: f"{p[0].symptom[:30]} / control {p[1].run}")
def test_a_run_without_the_mistake_does_not_show_the_symptom(records, pair):
    """The row's test on a sound run must fail: a threshold that any run passes would show nothing."""
    symptom, m = pair
    got = frontdoor.check(m, records(m.notebook))
    assert not got.holds, (f"front door row {symptom.symptom!r}: the control {m.notebook} run {m.run!r} also has "
                           f"{m.describe()} (value {got.value!r}); the row's threshold does not tell them apart")
