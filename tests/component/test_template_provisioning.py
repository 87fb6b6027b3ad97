"""The local stack builds its resources from template.yaml: check what it reads and creates."""

from __future__ import annotations

import boto3

from sam_runner.provision import creation_order
from sam_runner.template import Template


def test_routes_prefer_literal_paths_and_honour_public_routes() -> None:
    routes = Template().api_routes()
    paths = [(route.method, route.path) for route in routes]
    assert paths.index(("GET", "/products/categories")) < paths.index(("GET", "/products/{product_id}"))
    by_path = {(route.method, route.path): route for route in routes}
    assert by_path[("POST", "/auth/register")].authorizer is None
    assert by_path[("POST", "/orders")].authorizer == "JwtAuthorizer"
    match = by_path[("GET", "/orders/{order_id}")].regex.match("/orders/abc-123")
    assert match is not None and match.group("order_id") == "abc-123"


def test_dead_letter_queue_is_created_before_the_queue_that_uses_it() -> None:
    order = creation_order(Template())
    assert order.index("OrderEmailDLQ") < order.index("OrderEmailQueue")
    assert order.index("OrderEmailQueue") < order.index("OrderEmailSubscription")


def test_provisioned_stack_delivers_topic_messages_to_the_email_queue(aws: Template) -> None:
    env = aws.functions()["OrdersFunction"].environment
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    sns.publish(TopicArn=env["ORDER_EVENTS_TOPIC_ARN"], Message='{"hello": "world"}')
    queue_url = aws.physical("OrderEmailQueue")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    assert messages[0]["Body"] == '{"hello": "world"}'  # raw delivery: no SNS envelope
    redrive = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert '"maxReceiveCount": 5' in redrive["RedrivePolicy"]


def test_functions_get_their_environment_from_the_template(aws: Template) -> None:
    env = aws.functions()["AuthFunction"].environment
    assert env["USERS_TABLE"] == "shop-local-UsersTable"  # named as CloudFormation would, not the logical id
    assert env["JWT_SECRET_ARN"].startswith("arn:aws:secretsmanager:")
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=env["JWT_SECRET_ARN"])["SecretString"]
    assert len(secret) == 64
    stream = aws.physical("OrdersTable")["StreamArn"]
    assert stream.startswith("arn:aws:dynamodb:")
