"""The local gateway behaves like API Gateway (REST, Lambda proxy, TOKEN authorizer).

Driven in-process with werkzeug's test client over a small template of our own, whose functions
are real Lambda handlers written for the test, run by the local Lambda runtime (execution
environments of AWS's runtime interface client): one echoes the proxy event it got, one is a
TOKEN authorizer whose answer depends on the token (it notes each call in a file, since it runs
in a process of its own).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from sam_runner.gateway import Gateway
from sam_runner.lambda_runtime import LambdaRuntime, RuntimeSettings, prepare_packages
from sam_runner.template import Template

ECHO = """
import json

def handler(event, context):
    path = event["path"]
    if path.endswith("/boom"):
        raise RuntimeError("boom")
    if path.endswith("/malformed"):
        return {"statusCode": "not a number"}
    return {
        "statusCode": 200,
        "headers": {"X-Echo": "1", "Content-Type": "application/json"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps({
            "event": event,
            "function_name": context.function_name,
            "memory": context.memory_limit_in_mb,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "arn": context.invoked_function_arn,
        }),
        "isBase64Encoded": False,
    }
"""

TOKEN = """
import json
import os

def handler(event, context):
    with open(os.environ["CALLS_FILE"], "a") as calls:
        calls.write(json.dumps(event) + "\\n")
    token = event["authorizationToken"]
    if token == "bad":
        raise Exception("Unauthorized")
    if token == "crash":
        raise RuntimeError("a bug in the authorizer")
    base = event["methodArn"].split("/", 1)[0]
    resource = event["methodArn"] if token == "narrow" else base + "/*/*"
    context_out = {"user_id": "u-1", "count": 5, "admin": True}
    if token == "nested":
        context_out = {"user": {"id": "u-1"}}
    return {
        "principalId": "u-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Action": "execute-api:Invoke",
                "Effect": "Deny" if token == "deny" else "Allow",
                "Resource": resource,
            }],
        },
        "context": context_out,
    }
"""

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 3
    MemorySize: 128
    Environment:
      Variables:
        GREETING: hello
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: test
      Cors:
        AllowOrigin: "'*'"
        AllowHeaders: "'Authorization,Content-Type'"
        AllowMethods: "'GET,POST,OPTIONS'"
        MaxAge: "'600'"
      Auth:
        DefaultAuthorizer: Tok
        Authorizers:
          Tok:
            FunctionArn: !GetAtt TokenFunction.Arn
            FunctionPayloadType: TOKEN
            Identity:
              Header: Authorization
              ReauthorizeEvery: 300
      GatewayResponses:
        UNAUTHORIZED:
          StatusCode: "401"
          ResponseTemplates:
            application/json: '{"message": "Missing or invalid token", "code": "unauthorized"}'
        ACCESS_DENIED:
          StatusCode: "403"
          ResponseTemplates:
            application/json: '{"message": "Forbidden", "code": "forbidden"}'
        MISSING_AUTHENTICATION_TOKEN:
          StatusCode: "404"
          ResponseTemplates:
            application/json: '{"message": "Not found", "code": "not_found"}'
        DEFAULT_5XX:
          ResponseTemplates:
            application/json: '{"message": "Service unavailable", "code": "gateway_error"}'
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: lsg_echo.handler
      Events:
        Public:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /public/{item_id}
            Method: get
            Auth:
              Authorizer: NONE
        PublicPost:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /public/{item_id}
            Method: post
            Auth:
              Authorizer: NONE
        Literal:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /public/special
            Method: get
            Auth:
              Authorizer: NONE
        Private:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /private/{item_id}
            Method: get
        PrivateOther:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /private/{item_id}/other
            Method: get
  TokenFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: lsg_token.handler
"""


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gateway_functions")
    (folder / "lsg_echo.py").write_text(textwrap.dedent(ECHO))
    (folder / "lsg_token.py").write_text(textwrap.dedent(TOKEN))
    (folder / "template.yaml").write_text(TEMPLATE)
    return folder


@pytest.fixture(scope="module")
def runtime(code_dir: Path) -> Iterator[LambdaRuntime]:
    """One runtime for the module (its environments stay warm from test to test)."""
    template = Template(code_dir / "template.yaml")
    prepare_packages(template)
    settings = RuntimeSettings(function_log=code_dir / "functions.log")
    running = LambdaRuntime(template, settings, extra_variables={"CALLS_FILE": str(code_dir / "calls.jsonl")})
    yield running
    running.stop()


@pytest.fixture
def gateway(runtime: LambdaRuntime) -> Gateway:
    return Gateway(runtime.template, runtime, stage="test")  # a fresh authorizer cache


@pytest.fixture
def client(gateway: Gateway) -> Client:
    return Client(gateway)


@pytest.fixture
def authorizer_calls(code_dir: Path) -> Callable[[], list[dict[str, Any]]]:
    def calls() -> list[dict[str, Any]]:
        path = code_dir / "calls.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines]

    return calls


def echoed(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(json.loads(response.get_data(as_text=True)))


def test_the_handler_gets_the_rest_proxy_event(client: Client) -> None:
    response = client.get("/public/abc?x=1&x=2&y=3", headers={"X-Custom": "v", "User-Agent": "tests/1"})
    body = echoed(response)
    event = body["event"]
    assert event["resource"] == "/public/{item_id}"
    assert event["path"] == "/public/abc"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"item_id": "abc"}
    assert event["queryStringParameters"] == {"x": "2", "y": "3"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": ["3"]}
    assert event["headers"]["X-Custom"] == "v"
    assert event["multiValueHeaders"]["X-Custom"] == ["v"]
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    assert event["stageVariables"] is None
    context = event["requestContext"]
    assert context["resourcePath"] == "/public/{item_id}"
    assert context["httpMethod"] == "GET"
    assert context["path"] == "/test/public/abc"
    assert context["stage"] == "test"
    assert context["requestId"]
    assert isinstance(context["requestTimeEpoch"], int)
    assert context["identity"]["sourceIp"]
    assert context["identity"]["userAgent"] == "tests/1"
    assert "authorizer" not in context  # a public route

    # the Lambda context and the proxy response
    assert body["function_name"].endswith("EchoFunction")
    assert body["memory"] == "128"
    assert 0 < body["remaining_ms"] <= 3000
    assert body["arn"].startswith("arn:aws:lambda:us-east-1:")
    assert response.headers["X-Echo"] == "1"
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


def test_bodies_are_text_or_base64(client: Client) -> None:
    text = echoed(client.post("/public/abc", data='{"a": "é"}', content_type="application/json"))
    assert text["event"]["body"] == '{"a": "é"}'
    assert text["event"]["isBase64Encoded"] is False
    binary = echoed(client.post("/public/abc", data=b"\xff\xfe\x00", content_type="application/octet-stream"))
    assert binary["event"]["isBase64Encoded"] is True
    assert binary["event"]["body"] == "//4A"


def test_the_most_literal_resource_wins(client: Client) -> None:
    assert echoed(client.get("/public/special"))["event"]["resource"] == "/public/special"
    assert echoed(client.get("/public/other"))["event"]["resource"] == "/public/{item_id}"


def test_no_authorization_header_is_401_without_calling_the_authorizer(
    client: Client, authorizer_calls: Callable[[], list[dict[str, Any]]]
) -> None:
    before = len(authorizer_calls())
    response = client.get("/private/1")
    assert response.status_code == 401
    assert response.json == {"message": "Missing or invalid token", "code": "unauthorized"}
    assert len(authorizer_calls()) == before


@pytest.mark.parametrize(
    ("token", "status"),
    [("bad", 401), ("deny", 403), ("crash", 500), ("nested", 500)],
)
def test_authorizer_outcomes_map_to_gateway_responses(client: Client, token: str, status: int) -> None:
    response = client.get("/private/1", headers={"Authorization": token})
    assert response.status_code == status
    assert response.json is not None and response.json["message"]


def test_an_allow_passes_the_context_stringified_with_the_principal(client: Client) -> None:
    event = echoed(client.get("/private/7", headers={"Authorization": "good"}))["event"]
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer["user_id"] == "u-1"
    assert authorizer["count"] == "5"
    assert authorizer["admin"] == "true"
    assert authorizer["principalId"] == "u-1"
    assert event["headers"]["Authorization"] == "good"  # passed on, as API Gateway does


def test_the_authorizer_is_called_with_the_token_event(
    client: Client, authorizer_calls: Callable[[], list[dict[str, Any]]]
) -> None:
    before = len(authorizer_calls())
    client.get("/private/8", headers={"Authorization": "fresh-token"})
    (call,) = authorizer_calls()[before:]
    assert call["type"] == "TOKEN"
    assert call["authorizationToken"] == "fresh-token"
    assert call["methodArn"].endswith(":local/test/GET/private/8")


def test_a_policy_is_cached_per_token_and_checked_against_each_route(
    client: Client, authorizer_calls: Callable[[], list[dict[str, Any]]]
) -> None:
    before = len(authorizer_calls())
    assert client.get("/private/1", headers={"Authorization": "narrow"}).status_code == 200
    assert client.get("/private/1", headers={"Authorization": "narrow"}).status_code == 200
    # the cached policy names only /private/1: API Gateway denies the next route with it
    assert client.get("/private/2/other", headers={"Authorization": "narrow"}).status_code == 403
    assert len(authorizer_calls()) == before + 1

    # an unauthorized answer is not cached: the authorizer is asked again
    client.get("/private/1", headers={"Authorization": "bad"})
    client.get("/private/1", headers={"Authorization": "bad"})
    assert len(authorizer_calls()) == before + 3


def test_handler_errors_and_malformed_responses_are_502(client: Client) -> None:
    for path in ("/public/boom", "/public/malformed"):
        response = client.get(path)
        assert response.status_code == 502
        assert response.json == {"message": "Service unavailable", "code": "gateway_error"}


def test_unknown_paths_wrong_methods_and_preflight(client: Client) -> None:
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json == {"message": "Not found", "code": "not_found"}

    wrong = client.delete("/public/1")
    assert wrong.status_code == 405
    assert wrong.json is not None and wrong.json["message"]
    assert set(wrong.headers["Allow"].split(", ")) == {"GET", "OPTIONS", "POST"}

    preflight = client.options("/private/1")  # no token needed for CORS preflight
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET,POST,OPTIONS"
    assert preflight.headers["Access-Control-Max-Age"] == "600"
