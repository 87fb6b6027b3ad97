"""Shortcuts in moto for the embedded emulator's process (`shop_local.emulator`), with the same
responses. Local-only: nothing under functions/ or layers/ imports this.

DynamoDB's item operations and DynamoDB Streams' reads (`OPERATIONS`). moto serialises every
result by walking the botocore output shape (`moto.core.serialize.JSONSerializer`): for every
member of every structure (each attribute value of each item is one, with ten members) it builds
an `AttributePickerContext`, instantiates six alias providers and tries up to a dozen spellings of
the name, keeps a key path for the response transformers ... About a quarter of the emulator's CPU
under load went there, and tens of milliseconds a GetRecords call (each record has its Keys,
NewImage and OldImage; the local stream poller asks several times a second). Here each output shape
is compiled once into plain converters that do what that walk does to a result made of dicts,
lists, strings, numbers, booleans and bytes, and `json.dumps` writes the body as moto does
(not pretty: `json.dumps(body, indent=None)`), in the same key order: the same bytes.

What the walk does, and the converters mirror (moto 5.2.5, `ResponseSerializer`,
`BaseJSONSerializer`, `XFormedAttributePicker`):
- a structure member is picked by the first of its spellings present in the result (the member's
  name, its snake_case form, the member shape's name ...; `get_possible_keys`); a member that is
  missing or None is left out; keys that no member would pick are dropped (DeleteItem's
  `ConsumedCapacityUnits`); members come out in the shape's order;
- a map keeps its keys and order, a list its order; a string is `str(value)`, an integer
  `int(value)`, a double `float(value)` (BatchGetItem's `CapacityUnits` is the count of keys, an
  int: 2.0 on the wire), a boolean as it is, a blob base64 (of the UTF-8 of a str, as moto's
  `_base64` does, or of bytes);
- a timestamp (GetRecords' `ApproximateCreationDateTime`, DescribeStream's
  `CreationRequestDateTime`: moto stores naive UTC datetimes) in the JSON protocols' default
  format, `unixtimestamp` (`TimestampSerializer`): botocore's `parse_to_aware_datetime` takes a
  naive datetime as UTC (an aware one is moved to UTC), then `calendar.timegm` of it, an int when
  there are no microseconds, else plus the milliseconds (truncated) `/ 1000.0`, a float
  (1700000000.0 when there are fewer than 1000 microseconds).
Anything else in a result (a result key that is another member's alternative spelling, a None
inside a list or map, a Decimal, a set, a timestamp that is not a datetime (botocore would parse
it), an object instead of a dict, a type the shapes do not declare) raises `_Unexpected`, and
moto's own serializer answers that response; so do every error (DynamoDB's errors never reach the
serializer: they are HTTP exceptions; any other is not a dict), every operation not in
`OPERATIONS`, pretty-printed responses (MOTO_PRETTIFY_RESPONSES) and any handler with response
transformers. The shapes are checked when compiled: an operation whose output uses a trait or type
not covered above (serialized names, documents, timestamp formats, event streams) keeps moto's
path.

The proof is tests/component/test_emulator_speedups.py: every operation here, driven through
boto3 against moto's server app, answered both ways and compared byte for byte. It holds for
the moto release it was made against (`PROVEN_MOTO`): on another one `install()` leaves moto's
serializer alone (that test then fails: re-check the walk, then the pin).

`method_names_from_class`: moto lists a response class's methods (`inspect.getmembers`) on every
request to check the action exists; the answer for a class never changes once the process has
patched what it patches, so it is kept per class.
"""

from __future__ import annotations

import base64
import calendar
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("shop_local.emulator")

PROVEN_MOTO = "5.2.5"

# Per service (botocore's name): DynamoDB's item operations (DynamoDB_20120810.<name>), whose
# results are item maps, and what the local stream poller calls (DynamoDBStreams_20120810.<name>):
# GetRecords' records carry Keys, NewImage and OldImage maps.
OPERATIONS: dict[str, tuple[str, ...]] = {
    "dynamodb": (
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchGetItem",
        "BatchWriteItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "TransactWriteItems",
    ),
    "dynamodbstreams": ("GetRecords", "GetShardIterator", "DescribeStream", "ListStreams"),
}

# The handlers whose `serialized` is patched (module, class): the services above.
HANDLERS = (
    ("moto.dynamodb.responses", "DynamoHandler"),
    ("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler"),
)

Convert = Callable[[Any], Any]


class _Unexpected(Exception):
    """A result the converters were not made for: moto's serializer answers it."""


class _Unsupported(Exception):
    """An output shape using something the converters do not mirror: the operation keeps moto's path."""


@dataclass(frozen=True)
class _Operation:
    convert: Convert
    status: int
    content_type: str


def _exactly(kind: type) -> Convert:
    """A scalar passed through as it is, if it is exactly `kind` (a bool is not an int here)."""

    def convert(value: Any) -> Any:
        if type(value) is kind:
            return value
        raise _Unexpected(type(value).__name__)

    return convert


_string = _exactly(str)
_boolean = _exactly(bool)
_integer = _exactly(int)


def _double(value: Any) -> Any:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise _Unexpected(type(value).__name__)


def _blob(value: Any) -> Any:
    # moto's ResponseSerializer._base64: a str is encoded (UTF-8) first, bytes as they are
    if type(value) is str:
        value = value.encode("utf-8")
    elif type(value) is not bytes:
        raise _Unexpected(type(value).__name__)
    return base64.b64encode(value).strip().decode("utf-8")


def _timestamp(value: Any) -> Any:
    # TimestampSerializer._timestamp_unixtimestamp(parse_to_aware_datetime(value)); a str or a
    # number would be parsed by botocore first: declined
    if type(value) is not datetime:
        raise _Unexpected(type(value).__name__)
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    seconds = calendar.timegm(value.timetuple())
    if value.microsecond:
        return seconds + (value.microsecond // 1000) / 1000.0  # the same float arithmetic
    return seconds


_SCALARS: dict[str, Convert] = {
    "string": _string,
    "boolean": _boolean,
    "integer": _integer,
    "long": _integer,
    "double": _double,
    "float": _double,
    "blob": _blob,
    "timestamp": _timestamp,  # only in the format `_timestamp` writes: checked in compile_operations
}


class _Compiler:
    """Converters for a service model's shapes (one per shape name: shapes are not allowed any
    serialization trait, so a name means one shape)."""

    def __init__(self, operation_model: Any) -> None:
        from moto.core.serialize import XFormedAttributePicker

        self.operation_model = operation_model
        self.picker = XFormedAttributePicker(response_transformers={})
        self.converters: dict[str, Convert] = {}
        self.compiling: set[str] = set()

    def compile(self, shape: Any) -> Convert:
        name = shape.name
        if name in self.converters:
            return self.converters[name]
        if name in self.compiling:  # a list or map that contains itself without a structure between
            raise _Unsupported(f"{name}: recursive list or map")
        if shape.serialization:
            raise _Unsupported(f"{name}: serialization traits {sorted(shape.serialization)}")
        self.compiling.add(name)
        try:
            kind = shape.type_name
            if kind == "structure":
                convert = self._structure(shape)  # registers itself before its members
            elif kind == "list":
                convert = self._list(shape)
            elif kind == "map":
                convert = self._map(shape)
            elif kind in _SCALARS:
                convert = _SCALARS[kind]
            else:
                raise _Unsupported(f"{name}: {kind}")
        finally:
            self.compiling.discard(name)
        self.converters[name] = convert
        return convert

    def _spellings(self, parent: Any, key: str, member: Any) -> list[str]:
        """What moto's picker tries, in order, for `key` of a dict (its alias providers look at
        the object's type, never its content, and the member's shape and parent)."""
        from moto.core.serialize import AttributePickerContext

        member.parent = parent  # as moto's serializer sets it before picking a member
        context = AttributePickerContext(
            obj={},
            key=key,
            shape=member,
            operation_model=self.operation_model,
            service_model=self.operation_model.service_model,
        )
        return list(self.picker.get_possible_keys(context))

    def _structure(self, shape: Any) -> Convert:
        if shape.is_document_type:
            raise _Unsupported(f"{shape.name}: document")
        members: dict[str, Convert] = {}
        order: list[str] = list(shape.members)
        names = frozenset(order)
        others: set[str] = set()  # every other spelling moto would try for some member
        for key, member in shape.members.items():
            spellings = self._spellings(shape, key, member)
            if key not in spellings or any("." in spelling for spelling in spellings):
                raise _Unsupported(f"{shape.name}.{key}: picked by {spellings}")
            others.update(spelling for spelling in spellings if spelling != key)
        if others & names:  # moto could pick one member's value for another
            raise _Unsupported(f"{shape.name}: members {sorted(others & names)} are other members' aliases")

        def convert(value: Any) -> Any:
            if type(value) is not dict:
                raise _Unexpected(type(value).__name__)
            if len(value) == 1:  # an attribute value: one of ten members
                for key, item in value.items():
                    if key in names:
                        if item is None:
                            return {}
                        converted = members[key](item)
                        return value if converted is item else {key: converted}
            if not names.issuperset(value) and not others.isdisjoint(value):
                raise _Unexpected(f"{shape.name}: keys {sorted(others.intersection(value))}")
            out = {}
            for key in order:
                item = value.get(key)
                if item is not None:
                    out[key] = members[key](item)
            return out

        self.converters[shape.name] = convert  # before the members: AttributeValue contains itself
        for key, member in shape.members.items():
            members[key] = self.compile(member)
        return convert

    def _list(self, shape: Any) -> Convert:
        item = self.compile(shape.member)

        def convert(value: Any) -> Any:
            if type(value) is not list:
                raise _Unexpected(type(value).__name__)
            return [item(element) for element in value]  # None raises: moto would keep it as null

        return convert

    def _map(self, shape: Any) -> Convert:
        item = self.compile(shape.value)

        def convert(value: Any) -> Any:
            if type(value) is not dict:
                raise _Unexpected(type(value).__name__)
            out = {}
            for key, element in value.items():
                if type(key) is not str:
                    raise _Unexpected(f"map key {type(key).__name__}")
                out[key] = item(element)  # None raises: moto drops a structure, keeps a null
            return out

        return convert


def compile_operations(service_model: Any) -> dict[str, _Operation]:
    """The fast path of each of the service's `OPERATIONS` whose output shape the converters cover."""
    from moto.core.serialize import JSONSerializer, TimestampSerializer

    operations: dict[str, _Operation] = {}
    for name in OPERATIONS.get(service_model.service_name, ()):
        model = service_model.operation_model(name)
        try:
            if model.has_event_stream_output or model.output_shape is None:
                raise _Unsupported("event stream or no output")
            if JSONSerializer.DEFAULT_TIMESTAMP_FORMAT != TimestampSerializer.TIMESTAMP_FORMAT_UNIX:
                raise _Unsupported(f"timestamps as {JSONSerializer.DEFAULT_TIMESTAMP_FORMAT}")
            convert = _Compiler(model).compile(model.output_shape)
        except _Unsupported as reason:
            log.warning("emulator speedups: %s keeps moto's serializer (%s)", name, reason)
            continue
        status = int(model.http.get("responseCode", JSONSerializer.DEFAULT_RESPONSE_CODE))
        content_type = JSONSerializer(model)._get_protocol_specific_content_type()
        operations[name] = _Operation(convert, status, content_type)
    return operations


class _Compiled:
    # service name: (its model, its operations); an entry is replaced whole, never changed
    services: dict[str, tuple[Any, dict[str, _Operation]]] = {}


def _operations(service_model: Any) -> dict[str, _Operation]:
    name = service_model.service_name
    compiled = _Compiled.services.get(name)
    if compiled is None or compiled[0] is not service_model:  # moto keeps one model per service
        compiled = _Compiled.services[name] = (service_model, compile_operations(service_model))
    return compiled[1]


def fast_response(handler: Any, action_result: Any) -> tuple[int, dict[str, str], str] | None:
    """What `BaseResponse.serialized(handler, action_result)` returns, or None where moto's own
    serializer has to answer."""
    from moto import settings
    from moto.core.responses import ActionResult
    from moto.core.serialize import JSONSerializer, get_serializer_class
    from moto.core.utils import get_service_model
    from moto.dynamodb.responses import DynamoResult  # DynamoDB's; Streams' are ActionResults

    if type(action_result) not in (ActionResult, DynamoResult):  # not PaginatedResult, EmptyResult
        return None
    result = action_result.result
    if type(result) is not dict or settings.PRETTIFY_RESPONSES:
        return None
    if getattr(handler, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None):
        return None
    service_model = get_service_model(handler.boto3_service_name)
    if service_model.service_name not in OPERATIONS:
        return None
    operation = _operations(service_model).get(handler._get_action())
    if operation is None:
        return None
    try:
        protocol = handler.determine_response_protocol(service_model)
    except Exception:  # moto's path raises it again
        return None
    if get_serializer_class(service_model.service_name, protocol) is not JSONSerializer:
        return None
    try:
        body = json.dumps(operation.convert(result))
    except _Unexpected as unexpected:
        log.debug("emulator speedups: %s answered by moto (%s)", handler._get_action(), unexpected)
        return None
    headers = {"Content-Type": operation.content_type}
    headers.update(handler.response_headers)
    return operation.status, headers, body


def _patched(original: Any) -> Any:
    """A handler's `serialized`: the fast path, else `original` (what the class had)."""

    def serialized(self: Any, action_result: Any) -> Any:
        response = fast_response(self, action_result)
        if response is None:
            return original(self, action_result)
        return response

    return serialized


def _method_names_from_class(clazz: Any) -> list[str]:
    try:
        return _Installed.method_names[clazz]
    except KeyError:
        names = _Installed.method_names[clazz] = _Installed.method_names_from_class(clazz)
        return names


class _Installed:
    # each patched handler class: its own `serialized` before (None: it had BaseResponse's)
    handlers: dict[Any, Any] = {}
    method_names_from_class: Any = None  # moto's, while installed
    method_names: dict[Any, list[str]] = {}


def install() -> None:
    """Patch moto in this process (idempotent)."""
    import importlib

    import moto
    from moto.core import responses

    if _Installed.method_names_from_class is None:
        _Installed.method_names_from_class = responses.method_names_from_class
        responses.method_names_from_class = _method_names_from_class
    if not _Installed.handlers:
        if moto.__version__ != PROVEN_MOTO:
            log.warning(
                "emulator speedups: moto %s, not %s: DynamoDB and its Streams keep moto's serializer",
                moto.__version__,
                PROVEN_MOTO,
            )
            return
        for module, name in HANDLERS:
            handler = getattr(importlib.import_module(module), name)
            _Installed.handlers[handler] = handler.__dict__.get("serialized")
            handler.serialized = _patched(handler.serialized)


def uninstall() -> None:
    """Undo `install()` (for tests, which share moto with the rest of their process)."""
    from moto.core import responses

    for handler, own in _Installed.handlers.items():
        if own is None:
            del handler.serialized  # back to BaseResponse's
        else:
            handler.serialized = own
    _Installed.handlers = {}
    if _Installed.method_names_from_class is not None:
        responses.method_names_from_class = _Installed.method_names_from_class
        _Installed.method_names_from_class = None
        _Installed.method_names.clear()
