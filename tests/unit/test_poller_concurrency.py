"""How many batches the local SQS poller delivers at once: what Lambda's event source mapping
would allow, the template's ScalingConfig.MaximumConcurrency included (the e-mail queue's)."""

from __future__ import annotations

from sam_runner.pollers import batches_at_once
from sam_runner.template import DEFAULT_TEMPLATE, EventSource, Template


def email_source(**overrides: str) -> EventSource:
    template = Template(DEFAULT_TEMPLATE, parameter_overrides=overrides)
    (source,) = [s for s in template.event_sources() if s.function_id == "EmailFunction"]
    return source


def test_the_email_queue_is_delivered_to_at_most_email_max_concurrency_invocations() -> None:
    source = email_source()
    assert source.maximum_concurrency == 2  # EmailMaxConcurrency's default
    assert batches_at_once(source, environments=4) == 2


def test_a_higher_email_max_concurrency_is_capped_by_lambdas_five_pollers_and_the_environments() -> None:
    source = email_source(EmailMaxConcurrency="50")
    assert source.maximum_concurrency == 50
    assert batches_at_once(source, environments=3) == 3
    assert batches_at_once(source, environments=8) == 5


def test_a_stream_source_has_no_maximum_concurrency() -> None:
    template = Template(DEFAULT_TEMPLATE)
    (stream,) = [s for s in template.event_sources() if s.kind == "DynamoDB"]
    assert stream.maximum_concurrency is None
