"""What an AWS request asks IAM for: its action(s), the resource ARN(s) and the condition keys our
template uses, read from the request as the emulator receives it. Pure, no I/O.

Each protocol names its operation its own way: JSON services (DynamoDB, Streams, SQS, Secrets
Manager, KMS) in the `X-Amz-Target` header, query services (SNS, SES, and SQS's older protocol) in
the form body's `Action`. One request can need several checks (a `TransactWriteItems` is checked
as one `PutItem`/`UpdateItem`/`DeleteItem`/`ConditionCheckItem` per item, a batch per table, an
e-mail against its sender's identity and each recipient's): every one must be allowed.

The actions and resources come from the Service Authorization Reference ("Actions, resources,
and condition keys for Amazon DynamoDB / Amazon SNS / Amazon SQS / Amazon SES / AWS Secrets
Manager / AWS KMS") and the services' guides:
- DynamoDB: "Using IAM with DynamoDB transactions" (the per-item actions); "Using IAM policy
  conditions for fine-grained access control" (`dynamodb:LeadingKeys`: the partition key values).
- SNS: `PublishBatch` is authorised as `sns:Publish` (SNS API reference, PublishBatch).
- SQS: the batch actions as their single ones (`sqs:SendMessage` for `SendMessageBatch` ...).
- SES: `ses:SendRawEmail` on every identity the send involves, the sender's and, in the sandbox,
  each recipient's (SES Developer Guide, "Controlling access to Amazon SES": `ses:FromAddress`,
  `ses:Recipients`).

An operation not listed here maps to no check at all: `unknown` is set, and the middleware denies it.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import email.utils
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlsplit

_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,]+)/([^/,]+)/aws4_request")


@dataclass(frozen=True)
class Check:
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Mapped:
    operation: str  # "dynamodb:GetItem": the service's prefix and the API operation
    checks: list[Check]
    unknown: bool = False


@dataclass(frozen=True)
class Credential:
    access_key: str
    region: str
    service: str


def credential(headers: Mapping[str, str]) -> Credential | None:
    """The SigV4 credential of a request: its access key id, region and service."""
    match = _SCOPE.search(headers.get("authorization", ""))
    if match is None:
        return None
    return Credential(match.group(1), match.group(2), match.group(3).lower())


@dataclass
class Names:
    """What the mapping needs to know of the stack: its account, the partition key of each table
    (and index) for `dynamodb:LeadingKeys`, and the ARN of each secret by name."""

    account_id: str = "123456789012"
    partition_keys: dict[str, str] = field(default_factory=dict)  # "table" or "table/index/name"
    secrets: dict[str, str] = field(default_factory=dict)


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# The query fields the mapping reads (the rest, messages of several KB each, are left undecoded:
# decoding a whole PublishBatch form was most of the check's time).
_FIELDS = ("Action", "TopicArn", "TargetArn", "Source", "QueueUrl", "QueueName", "RawMessage.Data")
_FIELD_PREFIXES = ("Destinations.member.", "Destination.")


def _form(body: bytes, query: str) -> dict[str, list[str]]:
    form: dict[str, list[str]] = {}
    for text in (query, body.decode("utf-8", "replace")):
        for part in text.split("&"):
            name, _, value = part.partition("=")
            if "%" in name or "+" in name:
                name = unquote_plus(name)
            if name in _FIELDS or name.startswith(_FIELD_PREFIXES):
                form.setdefault(name, []).append(unquote_plus(value))
    return form


def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


# ------------------------------------------------------------------------------- DynamoDB
_TRANSACT_WRITE = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _scalar(value: Any) -> str | None:
    """A key attribute's value as IAM sees it (S, N or B: the text of the value)."""
    if isinstance(value, dict) and len(value) == 1:
        ((_, inner),) = value.items()
        if isinstance(inner, str | int | float):
            return str(inner)
    return None


def _leading(key: Any, attribute: str | None) -> list[str]:
    if not attribute or not isinstance(key, dict) or attribute not in key:
        return []
    value = _scalar(key[attribute])
    return [value] if value is not None else []


def _query_leading(request: dict[str, Any], attribute: str | None) -> list[str]:
    """The partition key value of a Query's key condition (`pk = :v` or `#n = :v`)."""
    expression = str(request.get("KeyConditionExpression") or "")
    names = request.get("ExpressionAttributeNames") or {}
    values = request.get("ExpressionAttributeValues") or {}
    for name, placeholder in re.findall(r"([#\w]+)\s*=\s*(:\w+)", expression):
        if names.get(name, name) == attribute:
            value = _scalar(values.get(placeholder))
            return [value] if value is not None else []
    return []


def _dynamodb(operation: str, request: dict[str, Any], region: str, names: Names) -> list[Check]:
    def table_arn(table: str, index: str | None = None) -> str:
        return _arn(
            "dynamodb", region, names.account_id, f"table/{table}" + (f"/index/{index}" if index else "")
        )

    def check(action: str, table: str, leading: list[str] | None, index: str | None = None) -> Check:
        context = {"dynamodb:LeadingKeys": leading} if leading is not None else {}
        return Check(f"dynamodb:{action}", table_arn(table, index), context)

    def key_of(table: str) -> str | None:
        return names.partition_keys.get(table)

    table = str(request.get("TableName") or "")
    if operation in ("GetItem", "DeleteItem", "UpdateItem"):
        return [check(operation, table, _leading(request.get("Key"), key_of(table)))]
    if operation == "PutItem":
        return [check(operation, table, _leading(request.get("Item"), key_of(table)))]
    if operation in ("Query", "Scan"):
        index = request.get("IndexName")
        attribute = names.partition_keys.get(f"{table}/index/{index}" if index else table)
        keys = _query_leading(request, attribute) if operation == "Query" else None
        return [check(operation, table, keys, index)]
    if operation == "BatchGetItem":
        return [
            check(operation, name, [v for key in spec.get("Keys") or [] for v in _leading(key, key_of(name))])
            for name, spec in (request.get("RequestItems") or {}).items()
        ]
    if operation == "BatchWriteItem":
        checks = []
        for name, writes in (request.get("RequestItems") or {}).items():
            leading: list[str] = []
            for write in writes or []:
                put, delete = write.get("PutRequest") or {}, write.get("DeleteRequest") or {}
                leading += _leading(put.get("Item") or delete.get("Key"), key_of(name))
            checks.append(check(operation, name, leading))
        return checks
    if operation in ("TransactWriteItems", "TransactGetItems"):
        checks = []
        for item in request.get("TransactItems") or []:
            for kind, part in item.items():
                action = "GetItem" if kind == "Get" else _TRANSACT_WRITE.get(kind)
                if action is None or not isinstance(part, dict):
                    continue
                name = str(part.get("TableName") or "")
                key = part.get("Item") if kind == "Put" else part.get("Key")
                checks.append(check(action, name, _leading(key, key_of(name))))
        return checks
    if operation in ("DescribeTable", "DescribeTimeToLive", "DescribeContinuousBackups", "UpdateTimeToLive"):
        return [check(operation, table, None)]
    return []


def _streams(operation: str, request: dict[str, Any], region: str, names: Names) -> list[Check]:
    stream = request.get("StreamArn")
    if operation in ("DescribeStream", "GetShardIterator") and stream:
        return [Check(f"dynamodb:{operation}", str(stream))]
    if operation == "GetRecords":
        # the iterator names no stream: the resource is any stream of the account's tables
        return [Check("dynamodb:GetRecords", _arn("dynamodb", region, names.account_id, "table/*/stream/*"))]
    if operation == "ListStreams":
        return [Check("dynamodb:ListStreams", "*")]
    return []


# ------------------------------------------------------------------------------- SQS
_SQS_ACTIONS = {
    "SendMessage": "SendMessage",
    "SendMessageBatch": "SendMessage",
    "ReceiveMessage": "ReceiveMessage",
    "DeleteMessage": "DeleteMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibility": "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    "GetQueueAttributes": "GetQueueAttributes",
    "GetQueueUrl": "GetQueueUrl",
    "PurgeQueue": "PurgeQueue",
}


def _queue_arn(url_or_name: str, region: str, account: str) -> str:
    name = urlsplit(url_or_name).path.rstrip("/").rsplit("/", 1)[-1] if "/" in url_or_name else url_or_name
    return _arn("sqs", region, account, name)


def _sqs(operation: str, params: Mapping[str, Any], region: str, names: Names) -> list[Check]:
    action = _SQS_ACTIONS.get(operation)
    queue = params.get("QueueUrl") or params.get("QueueName")
    if action is None or not queue:
        return []
    return [Check(f"sqs:{action}", _queue_arn(str(queue), region, names.account_id))]


# ------------------------------------------------------------------------------- SNS
def _sns(operation: str, form: dict[str, list[str]]) -> list[Check]:
    if operation not in ("Publish", "PublishBatch"):
        return []
    topic = (form.get("TopicArn") or form.get("TargetArn") or [""])[0]
    return [Check("sns:Publish", topic)] if topic else []


# ------------------------------------------------------------------------------- SES
def _members(form: dict[str, list[str]], prefix: str) -> list[str]:
    pattern = re.compile(re.escape(prefix) + r"\.member\.(\d+)$")
    numbered = sorted((int(m.group(1)), name) for name in form if (m := pattern.match(name)))
    return [form[name][0] for _, name in numbered]


_PLAIN_ADDRESS = re.compile(r"[^\s<>,;:\"()\[\]@]+@[^\s<>,;:\"()\[\]@]+")


def _addresses(values: list[str]) -> list[str]:
    if all(_PLAIN_ADDRESS.fullmatch(value) for value in values):
        return list(values)  # bare addresses, as the functions pass them: no parsing needed
    return [address for _, address in email.utils.getaddresses(values) if address]


def _ses(operation: str, form: dict[str, list[str]], region: str, names: Names) -> list[Check]:
    if operation not in ("SendRawEmail", "SendEmail"):
        return []
    source = (form.get("Source") or [""])[0]
    recipients = _members(form, "Destinations")
    for field_name in ("ToAddresses", "CcAddresses", "BccAddresses"):
        recipients += _members(form, f"Destination.{field_name}")
    raw = (form.get("RawMessage.Data") or [""])[0]
    if raw and (not source or not recipients):
        # SendRawEmail without Source / Destinations: SES reads them from the message's headers
        try:
            message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(base64.b64decode(raw))
        except (ValueError, TypeError):
            message = None
        if message is not None:
            source = source or next(iter(_addresses(message.get_all("From") or [])), "")
            if not recipients:
                recipients = _addresses([*message.get_all("To", []), *message.get_all("Cc", [])])
    sender = source if _PLAIN_ADDRESS.fullmatch(source) else (email.utils.parseaddr(source)[1] or source)
    recipients = _addresses(recipients)
    context = {"ses:FromAddress": sender, "ses:Recipients": recipients}
    action = f"ses:{operation}"
    identities = [sender, *recipients]
    return [
        Check(action, _arn("ses", region, names.account_id, f"identity/{identity}"), context)
        for identity in dict.fromkeys(identities)
        if identity
    ]


# ------------------------------------------------------------------------------- Secrets Manager, KMS
def _secrets(operation: str, request: dict[str, Any], region: str, names: Names) -> list[Check]:
    if operation not in ("GetSecretValue", "DescribeSecret"):
        return []
    secret = str(request.get("SecretId") or "")
    if not secret.startswith("arn:"):
        secret = names.secrets.get(
            secret, _arn("secretsmanager", region, names.account_id, f"secret:{secret}")
        )
    return [Check(f"secretsmanager:{operation}", secret)]


def _kms(operation: str, request: dict[str, Any], region: str, names: Names) -> list[Check]:
    if operation not in ("Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"):
        return []
    key = str(request.get("KeyId") or "*")
    if not key.startswith("arn:") and key != "*":
        key = _arn("kms", region, names.account_id, key if key.startswith("alias/") else f"key/{key}")
    return [Check(f"kms:{operation}", key)]


# ------------------------------------------------------------------------------- every request
# Operations that need no permission at all (STS GetCallerIdentity: "No permissions are required").
FREE = frozenset({"sts:GetCallerIdentity"})


def map_request(
    service: str,
    region: str,
    *,
    headers: Mapping[str, str],
    body: bytes,
    query: str = "",
    names: Names | None = None,
) -> Mapped:
    """The checks one request needs (`headers` with lower-case names)."""
    names = names or Names()
    target = headers.get("x-amz-target", "")
    prefix = {"email": "ses", "streams.dynamodb": "dynamodb"}.get(service, service)
    form: dict[str, list[str]] = {}
    if target:
        operation = target.rsplit(".", 1)[-1]
        request = _json(body)
        params: Mapping[str, Any] = request
    else:
        form = _form(body, query)
        operation = (form.get("Action") or [""])[0]
        request = {}
        params = {name: values[0] for name, values in form.items()}
    name = f"{prefix}:{operation}"
    if name in FREE:
        return Mapped(name, [])
    checks: list[Check] = []
    if service == "dynamodb" and target.startswith("DynamoDBStreams"):
        checks = _streams(operation, request, region, names)
    elif service == "dynamodb":
        checks = _dynamodb(operation, request, region, names)
    elif service in ("streams.dynamodb",):
        checks = _streams(operation, request, region, names)
    elif service == "sqs":
        checks = _sqs(operation, params, region, names)
    elif service == "sns":
        checks = _sns(operation, form)
    elif service in ("ses", "email"):
        checks = _ses(operation, form, region, names)
    elif service == "secretsmanager":
        checks = _secrets(operation, request, region, names)
    elif service == "kms":
        checks = _kms(operation, request, region, names)
    return Mapped(name, checks, unknown=not checks)
