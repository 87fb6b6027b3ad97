"""Powertools Logger, Metrics and Tracer, one set per function, all under one metrics namespace.

Locally the template's parameters switch tracing off (POWERTOOLS_TRACE_DISABLED); the service name
is given in code because several functions share one process in the local stack.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

METRICS_NAMESPACE = "Shop"

# A request that records no business metric is normal (reads, errors); Powertools would warn on
# every such invocation and bury the useful log lines.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def observability(service: str) -> tuple[Logger, Metrics, Tracer]:
    logger = Logger(service=service)
    metrics = Metrics(namespace=METRICS_NAMESPACE, service=service)
    tracer = Tracer(service=service)
    return logger, metrics, tracer


def redis_unavailable(use: str) -> None:
    """Count one request that went on without Redis although Redis is configured, by what it lost
    (`product_cache`, `order_rate_limit`, `login_throttle`): the RedisUnavailable alarm watches it."""
    with single_metric(
        name="RedisUnavailable", unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE
    ) as metric:
        metric.add_dimension(name="Use", value=use)
