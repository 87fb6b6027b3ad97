"""Imports PyYAML: installed in the project's virtualenv (the local stack uses it), not in the layer."""

import yaml


def lambda_handler(event, context):
    return {"statusCode": 200, "body": yaml.safe_dump({"ok": True})}
