"""Answers with what its execution environment looks like (imports the layer to prove it is there)."""

import json
import os
import sys

import pydantic  # from the layer's requirements

import shop_shared  # from the layer's own folder


def lambda_handler(event, context):
    body = {
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "sys_path": sys.path,
        "environ": {key: value for key, value in os.environ.items() if not key.startswith("AWS_SECRET")},
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "pydantic": pydantic.__file__,
        "shop_shared": shop_shared.__file__,
    }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
