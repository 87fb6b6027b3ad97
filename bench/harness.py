"""Calls the functions in-process, the way API Gateway and Lambda would: routes from template.yaml,
API Gateway proxy events (`shop_local.testing.proxy_event`), the TOKEN authorizer's context passed
on to protected routes, and the local stack's Lambda context. Used by the benchmarks' child
processes, whose environment already points at the embedded services (see `common.Services.env`).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sam_runner.template import ApiRoute, Template
from shop_local.testing import LambdaContext, function_name_and_arn, proxy_event


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Harness:
    def __init__(self, template: Template | None = None) -> None:
        self.template = template or Template(parameter_overrides={"TracingEnabled": "false"})
        self.functions = self.template.functions()
        # names and ARNs made once: a context is the only per-invocation cost (timed by overhead.py)
        self.names = {fid: function_name_and_arn(fid, self.template) for fid in self.functions}
        self.routes = self.template.api_routes()
        self.authorizer = next(iter(self.template.authorizers().values()), None)
        self._authorized: dict[str, dict[str, Any]] = {}

    def handler(self, function_id: str) -> Any:
        spec = self.functions[function_id]
        return getattr(importlib.import_module(spec.module), spec.attribute)

    def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
        spec = self.functions[function_id]
        context = LambdaContext.start(*self.names[function_id], spec.memory_size, spec.timeout)
        return self.handler(function_id)(event, context)

    def route(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]]:
        for route in self.routes:
            match = route.regex.match(path)
            if route.method == method and match:
                return route, match.groupdict()
        raise LookupError(f"no route for {method} {path}")

    def authorize(self, token: str, method: str, path: str, cache: bool = True) -> dict[str, Any]:
        """The TOKEN authorizer's context for a token (cached per token, as API Gateway does)."""
        if cache and token in self._authorized:
            return self._authorized[token]
        assert self.authorizer is not None
        event = {
            "type": "TOKEN",
            "authorizationToken": f"Bearer {token}",
            "methodArn": f"arn:aws:execute-api:us-east-1:123456789012:local/dev/{method}{path}",
        }
        result = self.invoke(self.authorizer.function_id, event)
        context = {"principalId": result["principalId"], **result.get("context", {})}
        self._authorized[token] = context
        return context

    def event(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """The function and the proxy event of a request (authorizer run first where the route has one)."""
        parts = urlsplit(url)
        query = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
        route, params = self.route(method, parts.path)
        headers = dict(headers or {})
        authorizer = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
            if route.authorizer:
                authorizer = self.authorize(token, method, parts.path)
        event = proxy_event(
            method,
            route.path,
            path_params=params,
            query=query,
            headers={"Accept": "application/json", **headers},
            body=body,
            authorizer=authorizer,
        )
        return route.function_id, event

    def call(self, method: str, url: str, **request: Any) -> Reply:
        """`event(method, url, **request)` sent to its function."""
        return self.send(*self.event(method, url, **request))

    def send(self, function_id: str, event: dict[str, Any]) -> Reply:
        result = self.invoke(function_id, event)
        body = result.get("body")
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        return Reply(int(result["statusCode"]), parsed, dict(result.get("headers") or {}))


@dataclass
class Seed:
    """A customer with a token, an address and an order; an admin where the stack can make one."""

    user_id: str
    username: str
    email: str
    password: str
    token: str
    address_id: str
    order_id: str
    product_ids: list[int]


def check(reply: Reply, status: int, what: str) -> Any:
    if reply.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {reply.status} {reply.body}")
    return reply.body


def mark_email_verified(user_id: str) -> None:
    """What following the mailed verification link does to the profile. The harness has no mailbox
    (the link's e-mail sits in the emulator's SES), and customers must be verified to order."""
    import os

    import boto3

    from shop_shared import keys

    table = boto3.resource("dynamodb").Table(os.environ["USERS_TABLE"])
    table.update_item(
        Key=keys.user_key(user_id),
        UpdateExpression="SET email_verified = :true",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":true": True},
    )


def seed_customer(
    harness: Harness,
    username: str,
    password: str = "correct-horse-battery",
    email: str | None = None,
) -> Seed:
    email = email or f"{username}@example.com"
    user = check(
        harness.call(
            "POST",
            "/auth/register",
            body={
                "username": username,
                "email": email,
                "first_name": "Bench",
                "last_name": "Mark",
                "password": password,
            },
        ),
        201,
        "register",
    )
    mark_email_verified(user["id"])
    login = check(
        harness.call("POST", "/auth/login", body={"username": username, "password": password}), 200, "login"
    )
    token = login["access_token"]
    address = check(
        harness.call(
            "POST",
            f"/auth/user/{user['id']}/addresses",
            token=token,
            body={
                "street": "1 Bench St",
                "city": "Springfield",
                "state": "IL",
                "postal_code": "62701",
                "country": "US",
            },
        ),
        201,
        "add address",
    )
    products = check(harness.call("GET", "/products?limit=3"), 200, "list products")["products"]
    product_ids = [int(product["id"]) for product in products[:3]]
    order = check(
        harness.call(
            "POST",
            "/orders",
            token=token,
            body={
                "items": [{"product_id": pid, "quantity": 1 + n} for n, pid in enumerate(product_ids)],
                "shipping_address_id": address["id"],
            },
        ),
        201,
        "create order",
    )
    return Seed(user["id"], username, email, password, token, address["id"], order["id"], product_ids)


def order_body(seed: Seed) -> dict[str, Any]:
    return {
        "items": [{"product_id": pid, "quantity": 1 + n} for n, pid in enumerate(seed.product_ids)],
        "shipping_address_id": seed.address_id,
    }
