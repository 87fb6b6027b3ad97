"""OrdersFunction: the orders routes of the contract, behind the JWT authorizer.

Thin: parse, check who may do what, call `orders_service`, shape the response, count metrics.
"""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.metrics import MetricUnit

import orders_rules
import orders_service
from shop_shared.api import api_handler, current_caller, make_resolver
from shop_shared.errors import BadRequest, Forbidden
from shop_shared.models import CreateOrderRequest, Order, OrderPage, OrderStatus, StatusUpdateRequest
from shop_shared.observability import observability

logger, metrics, tracer = observability("orders")
app = make_resolver(logger)

OrderId = Annotated[str, Path(min_length=1, max_length=64)]


@app.post(
    "/orders",
    status_code=201,
    summary="Create an order (prices from the catalog; optional Idempotency-Key)",
    tags=["orders"],
)
def create_order(
    request: CreateOrderRequest,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> Response[Order]:
    # Only a verified e-mail may order: checked on the profile the order reads anyway (consistent),
    # not on the authorizer's answer, which API Gateway caches for up to a minute.
    caller = current_caller(app)
    replayed = False
    if idempotency_key is None:
        order = orders_service.create_order(caller.user_id, request)
    else:
        if not idempotency_key.strip():
            raise BadRequest("Idempotency-Key must not be empty", code="invalid_idempotency_key")
        order, replayed = orders_service.create_order_idempotent(
            caller.user_id, idempotency_key.strip(), request, app.lambda_context
        )
    if replayed:
        metrics.add_metric(name="OrderReplayed", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="OrderCreated", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="OrderValue", unit=MetricUnit.NoUnit, value=float(order.total_amount))
    headers = {"Location": f"/orders/{order.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=order, headers=headers)


@app.get(
    "/orders",
    summary="Staff: all orders (newest first) or one status's work queue (oldest first); "
    "anyone: find an order by its number",
    tags=["orders"],
)
def list_orders(
    status: Annotated[OrderStatus | None, Query(description="Only this status, oldest first")] = None,
    sort: Annotated[
        orders_rules.Sort | None,
        Query(description="`newest` or `oldest` first (default: oldest with a status, else newest)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=orders_service.MAX_PAGE_SIZE)] = orders_service.DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(alias="next", max_length=2048)] = None,
    order_number: Annotated[
        str | None,
        Query(
            pattern=orders_rules.ORDER_NUMBER_RE.pattern,
            description="Find one order by its number (admins: any order; customers: their own)",
        ),
    ] = None,
) -> OrderPage:
    caller = current_caller(app)
    if order_number is not None:
        return OrderPage(orders=orders_service.find_by_number(order_number, caller), next=None)
    if not caller.is_admin:
        raise Forbidden("Only staff can list every customer's orders", code="forbidden")
    orders, next_cursor = orders_service.list_orders(status, limit=limit, cursor=cursor or None, sort=sort)
    return OrderPage(orders=orders, next=next_cursor)


@app.get("/orders/<order_id>", summary="An order (its owner or an admin)", tags=["orders"])
def get_order(order_id: OrderId) -> Order:
    return orders_service.get_order(order_id, current_caller(app))


@app.get(
    "/users/<user_id>/orders",
    summary="A user's orders, newest first (that user or an admin)",
    tags=["orders"],
)
def list_user_orders(
    user_id: Annotated[str, Path(min_length=1, max_length=64)],
    limit: Annotated[int, Query(ge=1, le=orders_service.MAX_PAGE_SIZE)] = orders_service.DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(alias="next", max_length=2048)] = None,
) -> OrderPage:
    caller = current_caller(app)
    if not caller.can_access_user(user_id):
        raise Forbidden("You can only list your own orders", code="forbidden")
    orders, next_cursor = orders_service.list_user_orders(user_id, limit=limit, cursor=cursor or None)
    return OrderPage(orders=orders, next=next_cursor)


@app.put(
    "/orders/<order_id>/status",
    summary="Change an order's status (admins; the owner may only cancel)",
    tags=["orders"],
)
def update_order_status(order_id: OrderId, request: StatusUpdateRequest) -> Order:
    order, _previous = orders_service.change_status(order_id, request, current_caller(app))
    metrics.add_metric(name="OrderStatusChanged", unit=MetricUnit.Count, value=1)
    if request.status == "cancelled":
        metrics.add_metric(name="OrderCancelled", unit=MetricUnit.Count, value=1)
    return order


lambda_handler = api_handler(app, logger, metrics, tracer)
