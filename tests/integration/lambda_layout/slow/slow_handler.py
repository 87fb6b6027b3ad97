"""Sleeps for `?seconds=` and answers with its pid and request id (Timeout: 2 s in the template)."""

import json
import os
import time


def lambda_handler(event, context):
    seconds = float((event.get("queryStringParameters") or {}).get("seconds", "0"))
    time.sleep(seconds)
    body = {"pid": os.getpid(), "request_id": context.aws_request_id}
    return {"statusCode": 200, "body": json.dumps(body)}
