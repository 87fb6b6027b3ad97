"""Where the template and the code describe one thing twice, they agree: checked from both real
sources, so neither can drift.

- Routes: every `Api` event of template.yaml has a route on its function's Powertools resolver
  (`app`), and every resolver route has an `Api` event of its function (no hand-kept list).
- CORS: `ShopApi.Cors` and every gateway response's `Access-Control-Allow-Origin` are the
  resolver's settings (`shop_shared.api.CORS_*`).
- Metrics: the functions' `POWERTOOLS_METRICS_NAMESPACE` is the code's namespace, every alarm on a
  custom metric watches that namespace, a metric the code emits, and a service that emits it.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from sam_runner.builder import load
from sam_runner.template import ROOT, Template
from shop_shared import api, observability


@pytest.fixture(scope="module")
def template() -> Template:
    return load()


def _unquote(value: Any) -> str:
    """SAM's CORS values and header mappings are quoted strings: "'*'"."""
    text = str(value)
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def _resolver_routes(module: Any) -> set[tuple[str, str]]:
    """(METHOD, /path/{param}) of every route registered on the module's resolver."""
    app = module.app
    routes = set()
    for route in [*app._static_routes, *app._dynamic_routes]:
        routes.add((route.method.upper(), route.openapi_path))  # /x/<id> as /x/{id}, the template's way
    return routes


def _resolvers(template: Template) -> dict[str, set[tuple[str, str]]]:
    """Every function whose handler module has a Powertools resolver `app`: its routes."""
    found = {}
    for function_id, spec in template.functions().items():
        module = importlib.import_module(spec.module)
        if hasattr(getattr(module, "app", None), "_static_routes"):
            found[function_id] = _resolver_routes(module)
    return found


def test_every_template_route_has_a_resolver_route_and_every_resolver_route_an_event(
    template: Template,
) -> None:
    events: dict[str, set[tuple[str, str]]] = {}
    for route in template.api_routes():
        events.setdefault(route.function_id, set()).add((route.method, route.path))
    resolvers = _resolvers(template)

    assert set(events) <= set(resolvers), "an Api event's function has no resolver `app`"
    missing_in_code = {f: sorted(events[f] - resolvers[f]) for f in events if events[f] - resolvers[f]}
    assert not missing_in_code, f"template events with no resolver route: {missing_in_code}"
    missing_in_template = {
        f: sorted(routes - events.get(f, set()))
        for f, routes in resolvers.items()
        if routes - events.get(f, set())
    }
    assert not missing_in_template, f"resolver routes the gateway never sends: {missing_in_template}"


def test_the_route_check_sees_a_route_missing_on_either_side(template: Template, tmp_path: Path) -> None:
    """The check above can fail: a template without one event, and one with an extra event."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert "            Path: /products/categories\n" in text
    extra = text.replace("            Path: /products/categories\n", "            Path: /products/kinds\n", 1)
    (tmp_path / "template.yaml").write_text(extra, encoding="utf-8")
    changed = load(path=tmp_path / "template.yaml")
    events = {(r.method, r.path) for r in changed.api_routes() if r.function_id == "ProductsFunction"}
    code = _resolvers(changed)["ProductsFunction"]
    assert ("GET", "/products/kinds") in events - code
    assert ("GET", "/products/categories") in code - events


def test_the_gateways_cors_is_the_resolvers(template: Template) -> None:
    resource = template.resources["ShopApi"]["Properties"]
    cors = {key: _unquote(value) for key, value in resource["Cors"].items()}
    assert cors["AllowOrigin"] == api.CORS_ALLOW_ORIGIN
    assert cors["AllowHeaders"].split(",") == list(api.CORS_ALLOW_HEADERS)
    # Every method a route serves, and the preflight's own: from the template's events, not a constant.
    served = {route.method for route in template.api_routes()}
    assert served >= {"GET", "POST", "PUT", "PATCH", "DELETE"}, served
    assert set(cors["AllowMethods"].split(",")) == served | {"OPTIONS"}
    assert cors["AllowMethods"].split(",") == list(api.CORS_ALLOW_METHODS)
    # Every request header the storefront sets that a browser does not send on its own authority.
    assert _storefront_request_headers() - CORS_SAFELISTED <= set(cors["AllowHeaders"].split(","))
    assert int(cors["MaxAge"]) == api.CORS_MAX_AGE
    # The resolver's answers carry the same origin (and the headers the preflight allows).
    resolver_cors = api.make_resolver(observability.observability("cors-check")[0])._cors
    assert resolver_cors is not None
    assert resolver_cors._allowed_origins == [api.CORS_ALLOW_ORIGIN]
    headers = resolver_cors.to_dict("https://shop.example")  # what a function's answer carries
    assert set(api.CORS_ALLOW_HEADERS) <= set(headers["Access-Control-Allow-Headers"].split(","))
    assert headers["Access-Control-Max-Age"] == str(api.CORS_MAX_AGE)
    # API Gateway's own answers (401 from the authorizer, 404, 429 ...) too.
    for name, response in template.gateway_responses().items():
        headers = (response.get("ResponseParameters") or {}).get("Headers") or {}
        assert _unquote(headers.get("Access-Control-Allow-Origin")) == api.CORS_ALLOW_ORIGIN, name


# Headers a browser sends cross-origin without a preflight (Fetch standard, "CORS-safelisted request
# header"); Content-Type is one only for form and text types, never for application/json.
CORS_SAFELISTED = {"Accept", "Accept-Language", "Content-Language"}


def _storefront_request_headers() -> set[str]:
    """The header names web/js sets on its requests: `headers: { Name: ... }` literals and
    `init.headers.Name` / `init.headers["Name"]` assignments."""
    names: set[str] = set()
    for path in (ROOT / "web").rglob("*.js"):
        source = path.read_text(encoding="utf-8")
        for literal in re.findall(r"headers: \{([^}]*)\}", source):
            names.update(re.findall(r'"?([A-Za-z][\w-]*)"?\s*:', literal))
        for dotted, quoted in re.findall(r'headers(?:\.([A-Za-z][\w-]*)|\["([A-Za-z][\w-]*)"\])\s*=', source):
            names.add(dotted or quoted)
    return names


def test_the_storefront_header_scan_finds_the_headers_it_sets() -> None:
    """The check above can fail: the scan sees the headers web/js/api.js and the cart really set."""
    assert {"Authorization", "Content-Type", "Idempotency-Key", "Accept"} <= _storefront_request_headers()


def _alarm_metrics(template: Template) -> list[tuple[str, dict[str, Any]]]:
    """(alarm, metric) for every metric an alarm watches: its own, or each of its `Metrics` queries."""
    found = []
    for name in template.resources_of("AWS::CloudWatch::Alarm"):
        props = template.resources[name]["Properties"]
        if "MetricName" in props:
            found.append((name, props))
        for query in props.get("Metrics") or []:
            metric = (query.get("MetricStat") or {}).get("Metric")
            if metric:
                found.append((name, metric))
    return found


def _emitted_metrics() -> dict[str, set[str]]:
    """The metric names the code emits (`add_metric`/`single_metric` with `name="..."`), and the
    services (`observability("...")`) of the modules that emit them."""
    emitted: dict[str, set[str]] = {}
    for path in [*ROOT.glob("functions/*/*.py"), *ROOT.glob("layers/shared/shop_shared/*.py")]:
        source = path.read_text(encoding="utf-8")
        services = set(re.findall(r'observability\("([\w-]+)"\)', source)) or {"*"}
        for metric in re.findall(r'(?:add_metric|single_metric)\(\s*name="(\w+)"', source):
            emitted.setdefault(metric, set()).update(services)
    return emitted


def test_one_metrics_namespace_for_the_template_the_alarms_and_the_code(template: Template) -> None:
    for function_id, spec in template.functions().items():
        assert spec.environment["POWERTOOLS_METRICS_NAMESPACE"] == observability.METRICS_NAMESPACE, (
            function_id
        )
    emitted = _emitted_metrics()
    custom = [
        (alarm, metric)
        for alarm, metric in _alarm_metrics(template)
        if not metric["Namespace"].startswith("AWS/")
    ]
    assert custom, "no alarm on the shop's own metrics found: the check would prove nothing"
    for alarm, metric in custom:
        assert metric["Namespace"] == observability.METRICS_NAMESPACE, alarm
        assert metric["MetricName"] in emitted, f"{alarm} watches {metric['MetricName']}, which no code emits"
        services = {d["Value"] for d in metric.get("Dimensions") or [] if d["Name"] == "service"}
        emitters = emitted[metric["MetricName"]]
        assert "*" in emitters or services <= emitters, (
            f"{alarm}: {services} does not emit {metric['MetricName']}"
        )


def test_no_function_is_given_the_test_password_hash_profile() -> None:
    """PASSWORD_HASH_PROFILE is the test stacks' setting (shop_shared.passwords): on AWS the functions
    hash with argon2's RFC 9106 profile, so the template must not declare it, in Globals or anywhere."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert "PASSWORD_HASH_PROFILE" not in text
    for function_id, spec in load().functions().items():
        assert "PASSWORD_HASH_PROFILE" not in spec.environment, function_id
