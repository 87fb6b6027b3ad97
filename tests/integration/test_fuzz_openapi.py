"""A bounded fuzz run of the whole API from its own OpenAPI document (`/openapi.json` on the local
stack), with schemathesis: for every operation, inputs that fit the document and inputs that break
it, sent through the local gateway with a customer's token. Whatever arrives, the answer is never
a 5xx, and every error is the contract's JSON `{"message", ...}`.

Driven by hypothesis directly (`operation.as_strategy`) rather than by `schemathesis.pytest`'s
lazy loader, which does not run under pytest 9: the document only exists once the stack runs.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from shop_local.testing import ShopStack

# Examples per operation and mode: enough to hit every field with wrong types, out-of-range values
# and odd strings, few enough that the whole run stays under a minute beside the other tiers (30
# took 50-70 s of a worker there). Derandomized: the same requests every run, about a thousand.
MAX_EXAMPLES = 20


@pytest.fixture(scope="module")
def operations(stack: ShopStack) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json")
    results: list[Any] = list(schema.get_all_operations())
    found = [result.ok() for result in results]  # an Err here (a broken document) raises
    assert found, "the OpenAPI document lists no operations"
    return found


def fuzz(operation: Any, mode: GenerationMode, stack: ShopStack, headers: dict[str, str]) -> list[str]:
    """Send MAX_EXAMPLES generated requests for one operation; the problems found."""
    problems: list[str] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same inputs every run: a failure here is reproducible
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=stack.url, headers=dict(headers), timeout=30)
        problem = None
        if response.status_code >= 500:
            problem = f"answered {response.status_code}: {response.text[:200]}"
        elif response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("message"), str):
                problem = f"answered {response.status_code} without a JSON message: {response.text[:200]}"
        if problem:
            where = f"{case.method} {case.formatted_path} ({mode.value})"
            problems.append(f"{where} {problem}\n  reproduce: {case.as_curl_command()[:600]}")

    try:
        run()
    except Unsatisfiable:
        # Nothing to break: an operation without parameters or body has no invalid input.
        assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid input could be generated"
    return problems


def test_no_generated_input_makes_the_api_fail(stack: ShopStack, operations: list[Any]) -> None:
    customer = stack.new_user()
    problems: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            problems.extend(fuzz(operation, mode, stack, customer["headers"]))
    assert not problems, "\n".join(problems[:20])


def test_the_fuzz_run_covers_every_route_of_the_template(operations: list[Any]) -> None:
    from sam_runner.template import Template

    documented = {(op.method.upper(), op.path) for op in operations}
    routes = {(route.method, route.path) for route in Template().api_routes()}
    assert routes <= documented, f"routes the fuzz run cannot reach: {sorted(routes - documented)}"
