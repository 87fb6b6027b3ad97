"""What `sam local start-api` (SAM CLI 1.170) makes of our TOKEN authorizer's answers, with SAM CLI's
own classes (docs/sam-local.md, "The authorizer under sam local"):

- no Authorization header: SAM's identity-source check answers 401 before the authorizer runs;
- an Allow policy for the API (ours, `{api}/{stage}/*/*`): the route runs;
- a Deny policy, or one that does not cover the route: 403 (`AuthorizerUnauthorizedRequest`);
- `raise Exception("Unauthorized")` (ours, for a bad token): not API Gateway's 401 signal there; the
  error document is either a Lambda error (`LambdaResponseParseException`) or an invalid policy
  (`InvalidLambdaAuthorizerResponse`), and both end in SAM's 502 "Internal server error".
"""

from __future__ import annotations

import json

import pytest
from samcli.local.apigw.authorizers.lambda_authorizer import LambdaAuthorizer
from samcli.local.apigw.exceptions import InvalidLambdaAuthorizerResponse
from samcli.local.services.base_local_service import LambdaOutputParser

from auth_authorizer import api_wide_resource

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:1234567890/prod/GET/orders"


def authorizer() -> LambdaAuthorizer:
    """The template's JwtAuthorizer as SAM reads it (TOKEN, header Authorization, payload 1.0)."""
    return LambdaAuthorizer(
        authorizer_name="JwtAuthorizer",
        type=LambdaAuthorizer.TOKEN,
        lambda_name="AuthorizerFunction",
        identity_sources=["method.request.header.Authorization"],
        payload_version=LambdaAuthorizer.PAYLOAD_V1,
    )


def policy(effect: str) -> str:
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": api_wide_resource(METHOD_ARN)}
    return json.dumps(
        {"principalId": "user-1", "policyDocument": {"Version": "2012-10-17", "Statement": [statement]}}
    )


def test_our_allow_policy_lets_the_route_run() -> None:
    assert authorizer().is_valid_response(policy("Allow"), METHOD_ARN) is True


def test_a_deny_policy_is_refused_which_sam_answers_with_403() -> None:
    assert authorizer().is_valid_response(policy("Deny"), METHOD_ARN) is False


def test_a_missing_authorization_header_fails_sams_identity_check() -> None:
    """LocalApigwService._valid_identity_sources runs these validators; False → 401 "Unauthorized"."""
    (header,) = authorizer().identity_sources
    context = {
        "headers": {},
        "querystring": "",
        "context": {},
        "stageVariables": {},
        "validation_expression": None,
    }
    assert header.is_valid(**context) is False
    assert header.is_valid(**{**context, "headers": {"Authorization": "Bearer x"}}) is True


@pytest.mark.parametrize(
    "error",
    [
        # the shape the Lambda runtime interface emulator prints for a raised exception
        {"errorMessage": "Unauthorized", "errorType": "Exception", "stackTrace": []},
        # with the request id newer runtimes add
        {"errorMessage": "Unauthorized", "errorType": "Exception", "requestId": "r-1", "stackTrace": []},
    ],
)
def test_raising_unauthorized_is_not_a_401_under_sam(error: dict[str, object]) -> None:
    output = json.dumps(error)
    if LambdaOutputParser.is_lambda_error_response(output):
        return  # LambdaResponseParseException: re-raised, SAM's error handler answers 502
    with pytest.raises(InvalidLambdaAuthorizerResponse):  # SAM answers 502 for this one too
        authorizer().is_valid_response(output, METHOD_ARN)
