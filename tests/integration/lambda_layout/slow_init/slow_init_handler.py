"""Takes 1.5 s to import (a heavy init), sleeps for `?seconds=` and answers with the time its
invocation has left."""

import json
import time

time.sleep(1.5)


def lambda_handler(event, context):
    time.sleep(float((event.get("queryStringParameters") or {}).get("seconds", "0")))
    return {"statusCode": 200, "body": json.dumps({"remaining_ms": context.get_remaining_time_in_millis()})}
