"""`sam local invoke` (SAM CLI's own, in a container of the Lambda image) for every sample event in
events/, each with the answer events/README.md gives it, against `shop backing`'s seeded services."""

from __future__ import annotations

from pathlib import Path

import pytest

# The README's table, as tests/integration/test_events_invoke.py checks it through `shop invoke`:
# one table for both ways of running the samples.
from integration.test_events_invoke import EXPECTED, assert_answer, event_files, function_for
from samlocal.conftest import SamLocal


def test_every_sample_has_an_answer_to_check() -> None:
    assert sorted(EXPECTED) == [path.name for path in event_files()]


@pytest.mark.parametrize("event", event_files(), ids=lambda path: path.name)
def test_sam_local_invoke_answers_every_sample_as_documented(sam: SamLocal, event: Path) -> None:
    function_id = function_for(event)
    assert function_id is not None, event.name
    code, answer, log = sam.invoke(function_id, event)
    assert answer is not None, f"sam local invoke printed no answer (exit {code}):\n{log[-3000:]}"
    assert_answer(function_id, event.name, answer)
    assert code == 0, log[-3000:]
    # the invocation itself logs no error; after its END line SAM stops the container under the
    # runtime, whose wait for the next event may print "Failed to get next" (docs/sam-local.md)
    assert "END RequestId" in log, log[-3000:]
    assert "Traceback" not in log.split("END RequestId", 1)[0], log[-3000:]
