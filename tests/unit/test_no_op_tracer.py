"""The tracer the handlers use when tracing subsegments are off (shop_shared.observability)."""

from __future__ import annotations


def test_the_no_op_tracer_hands_back_the_handler_itself() -> None:
    from shop_shared.observability import NoOpTracer

    def handler(event: object, context: object) -> str:
        return "answer"

    tracer = NoOpTracer()
    assert tracer.capture_lambda_handler(handler) is handler
    assert tracer.capture_lambda_handler(capture_response=False)(handler) is handler
