"""AuthorizerFunction: the API's TOKEN authorizer.

Verifies the JWT locally (signature, HS256 only, expiry, claims), then checks with one GetItem that
its user still exists and is active and that the token is not revoked (its token version is the
user's current one, its session was not logged out): `shop_shared.tokens.revocation`. API Gateway
caches the answer per token (ReauthorizeEvery), for every route: the Allow policy therefore covers
the whole API, and the routes themselves decide who may do what from the context passed on.

Kept lean on purpose (no resolver, no pydantic models, no password hashing): it runs before every
protected request.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from auth_adapters import adapters
from shop_shared.errors import Unauthorized
from shop_shared.observability import observability
from shop_shared.tokens import REVOCATION_FIELDS, bearer_token, decode_token, jwt_secret, revocation

logger, metrics, tracer = observability("auth-authorizer")


def api_wide_resource(method_arn: str) -> str:
    """`arn:...:{api_id}/{stage}/{METHOD}/{path}` → `arn:...:{api_id}/{stage}/*/*`."""
    base, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0]
    if not base.startswith("arn:") or not stage:
        raise ValueError("methodArn is not an execute-api ARN")
    return f"{base}/{stage}/*/*"


def _deny(reason: str) -> Exception:
    logger.info("request denied", extra={"reason": reason})
    metrics.add_metric(name="AuthorizerDenied", unit=MetricUnit.Count, value=1)
    # This exact message is what makes API Gateway answer 401 (anything else is a 500).
    return Exception("Unauthorized")


def authorize(authorization: str | None, method_arn: str) -> dict[str, Any]:
    try:
        claims = decode_token(bearer_token(authorization), jwt_secret())
    except Unauthorized as exc:
        raise _deny(exc.code) from None

    item = adapters().users.get_profile(claims.user_id, (*REVOCATION_FIELDS, "role", "email_verified"))
    refused = revocation(claims, item)
    if refused is not None or item is None:
        raise _deny(refused or "unknown_user")

    metrics.add_metric(name="AuthorizerAllowed", unit=MetricUnit.Count, value=1)
    # The role as stored now, not as it was when the token was issued: a demoted admin loses it.
    context = {
        "user_id": claims.user_id,
        "username": claims.username,
        "email": claims.email,
        "role": str(item.get("role", "customer")),
        # As stored now too: verifying the e-mail lets the user order within the cache time.
        "email_verified": "true" if item.get("email_verified") is True else "false",
    }
    return {
        "principalId": claims.user_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": api_wide_resource(method_arn),
                }
            ],
        },
        "context": context,
    }


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize(event.get("authorizationToken"), str(event.get("methodArn", "")))
