"""AWS_ENDPOINT_URL, declared by the template for every function and empty on AWS: empty means
AWS's own endpoints, a URL means that emulator, for our clients and for Powertools' own."""

from __future__ import annotations

import os
from collections.abc import Callable

import boto3
import pytest

from shop_shared import aws


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, new_container: Callable[[], None]) -> Callable[[], None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        monkeypatch.delenv(name, raising=False)
    return new_container


def test_an_empty_endpoint_means_aws_for_every_client(
    monkeypatch: pytest.MonkeyPatch, clean: Callable[[], None]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    clean()

    assert aws.client("dynamodb").meta.endpoint_url == "https://dynamodb.us-east-1.amazonaws.com"
    assert aws.dynamodb().meta.client.meta.endpoint_url == "https://dynamodb.us-east-1.amazonaws.com"
    assert "AWS_ENDPOINT_URL" not in os.environ  # nothing left for botocore to read as an override
    # a client Powertools makes itself, after ours
    plain = boto3.session.Session().client("secretsmanager")
    assert plain.meta.endpoint_url == "https://secretsmanager.us-east-1.amazonaws.com"


def test_an_endpoint_url_points_every_client_at_the_emulator(
    monkeypatch: pytest.MonkeyPatch, clean: Callable[[], None]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    clean()

    assert aws.client("sqs").meta.endpoint_url == "http://127.0.0.1:4566"
    assert aws.client("secretsmanager").meta.endpoint_url == "http://127.0.0.1:4566"
    assert aws.dynamodb().meta.client.meta.endpoint_url == "http://127.0.0.1:4566"
