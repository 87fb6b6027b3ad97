"""Powertools Logger, Metrics and Tracer, one set per function, all under one metrics namespace.

Tracing (docs/architecture.md, "Tracing and cold start"): the template turns on Lambda's own X-Ray tracing
(`Tracing: Active`), which costs the function nothing; the X-Ray SDK subsegments of Powertools
Tracer (each AWS, Redis and HTTP call) only when the stack is deployed with
`TracingSubsegments=true`, which sets POWERTOOLS_TRACE_DISABLED=false. Otherwise the tracer is a
no-op that never imports the X-Ray SDK: Powertools' own Tracer imports it (about 100 ms of every
cold start) even when it is disabled. The service name is given in code because several functions
share one process in the local stack's in-process mode.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

METRICS_NAMESPACE = "Shop"

# A request that records no business metric is normal (reads, errors); Powertools would warn on
# every such invocation and bury the useful log lines.
warnings.filterwarnings("ignore", message="No application metrics to publish")


Handler = Callable[..., Any]


class TracerLike(Protocol):
    """What the handlers use of a tracer (Powertools Tracer has it, NoOpTracer too)."""

    def capture_lambda_handler(
        self, lambda_handler: Handler | None = None, capture_response: bool | None = None
    ) -> Any: ...


class NoOpTracer:
    """Tracing off: the handler runs undecorated, and no X-Ray SDK module is imported."""

    disabled = True

    def capture_lambda_handler(
        self, lambda_handler: Handler | None = None, capture_response: bool | None = None
    ) -> Any:
        if lambda_handler is None:
            return lambda handler: handler
        return lambda_handler


def tracing_disabled() -> bool:
    """POWERTOOLS_TRACE_DISABLED as Powertools reads it (a truthy string: true, 1, yes, on...)."""
    value = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower()
    return value in ("1", "true", "yes", "y", "on")


def make_tracer(service: str) -> Tracer | NoOpTracer:
    if tracing_disabled():
        return NoOpTracer()
    from aws_lambda_powertools import Tracer  # imports and patches the X-Ray SDK

    return Tracer(service=service)


def observability(service: str) -> tuple[Logger, Metrics, Tracer | NoOpTracer]:
    logger = Logger(service=service)
    metrics = Metrics(namespace=METRICS_NAMESPACE, service=service)
    return logger, metrics, make_tracer(service)


def redis_unavailable(use: str) -> None:
    """Count one request that went on without Redis although Redis is configured, by what it lost
    (`product_cache`, `order_rate_limit`, `login_throttle`): the RedisUnavailable alarm watches it."""
    with single_metric(
        name="RedisUnavailable", unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE
    ) as metric:
        metric.add_dimension(name="Use", value=use)
