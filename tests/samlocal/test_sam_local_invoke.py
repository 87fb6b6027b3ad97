"""`sam local invoke` (SAM CLI's own, in a container of the Lambda image) for every sample event in
events/, each with the answer events/README.md gives it, against `shop backing`'s seeded services.

Each event is its own `sam local invoke` process, as a user runs it, one after the other. SAM CLI
rebuilds the function image on every invoke because our layer is defined in the template;
`SAMLOCAL_JOBS=N` runs N at a time, and processes that start while another builds the same image
wait for that build and use it (SAM's build lock, samcli/local/docker/lambda_image.py), which
shortens the tier but, on this loaded 2-core machine, made cold functions time out and the backing
services answer late (docs/sam-local.md, "Why each `sam local invoke` builds an image"). No two
samples depend on each other's effects (events/README.md's answers hold in any order).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

# The README's table, as tests/integration/test_events_invoke.py checks it through `shop invoke`:
# one table for both ways of running the samples.
from integration.test_events_invoke import EXPECTED, assert_answer, event_files, function_for
from samlocal.conftest import Invoked, SamLocal

JOBS = max(1, int(os.environ.get("SAMLOCAL_JOBS", "1")))


@pytest.fixture(scope="module")
def invoked(sam: SamLocal) -> dict[str, Invoked]:
    """Every sample through `sam local invoke`, JOBS processes at a time."""

    def one(event: Path) -> Invoked:
        function_id = function_for(event)
        assert function_id is not None, event.name
        return sam.invoke(function_id, event)

    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        return dict(zip((path.name for path in event_files()), pool.map(one, event_files()), strict=True))


def test_every_sample_has_an_answer_to_check() -> None:
    assert sorted(EXPECTED) == [path.name for path in event_files()]


@pytest.mark.parametrize("event", event_files(), ids=lambda path: path.name)
def test_sam_local_invoke_answers_every_sample_as_documented(
    invoked: dict[str, Invoked], event: Path
) -> None:
    function_id = function_for(event)
    assert function_id is not None, event.name
    result = invoked[event.name]
    took = f"exit {result.code}, {result.seconds:.0f} s"
    assert result.answer is not None, f"sam local invoke printed no answer ({took}):\n{result.log[-3000:]}"
    try:
        assert_answer(function_id, event.name, result.answer)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n({took}) its log:\n{result.log[-3000:]}") from None
    assert result.code == 0, result.log[-3000:]
    # The invocation logs no error. SAM streams the container's log beside the invoke and waits at
    # most 1 s for it after the answer before it stops the container (Container.wait_for_result in
    # samcli/local/docker/container.py), so on a loaded machine the log may end before the
    # emulator's END line; after END the runtime's wait for a next event, cut short by that stop,
    # may print "Failed to get next" (harmless; docs/sam-local.md).
    invocation_log = result.log.split("END RequestId", 1)[0]
    assert "Traceback" not in invocation_log, result.log[-3000:]
