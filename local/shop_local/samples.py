"""What the sample events in `events/` refer to, created in a local stack: local-only, never deployed.

`make run` (unless `SHOP_SAMPLE_DATA=0`) and `shop invoke` on its own emulator call `seed()`, so
every sample answers as events/README.md says: the customer `jane_doe` (the id, e-mail and password
the samples use, e-mail verified), the shipping address `orders-create.json` names, the order
`ORD-2026-000042` that `orders-get.json` and `orders-status.json` name (put back to `pending` at each
seed, so the status sample can confirm it again), and the JWT secret the sample token is signed with.

That secret is published here on purpose: a local emulator has no access control anyway (anyone who
reaches it can read its secrets), and the deployed stack generates its own (`JwtSecret`).

Idempotent: seeding a stack twice leaves one user, one sample address and one sample order. It runs
in the local stack's process with the functions' code and variables, like `shop_local.admin`.
"""

from __future__ import annotations

import logging
import os
from decimal import Decimal

from botocore.exceptions import ClientError

log = logging.getLogger("shop_local.samples")

# The ids and values the files in events/ use (events/README.md).
USER_ID = "3f9c1b9e-6c1d-4a57-9d7e-2b0f8c4a1d55"
USERNAME = "jane_doe"
EMAIL = "jane.doe@example.com"
PASSWORD = "correct-horse-battery"  # noqa: S105 - the sample user of a local stack
ADDRESS_ID = "5b6a7c8d-1e2f-4a3b-8c9d-0e1f2a3b4c5d"
# The staff account `orders-status.json`'s authorizer context names: the orders function checks an
# admin's role and active flag in the users table (issue 26), so it must exist there. Its own name
# and e-mail: `admin`/`admin@example.com` is the account SHOP_ADMIN_PASSWORD creates.
ADMIN_USER_ID = "0a1b2c3d-0000-4000-8000-00000000ad01"
ADMIN_USERNAME = "sample_admin"
ADMIN_EMAIL = "sample.admin@example.com"
ORDER_ID = "7d2f0c43-5b8e-4b7a-9a61-0e4f2d9c8b13"
ORDER_NUMBER = "ORD-2026-000042"
# Signs the sample token in events/authorizer-token.json (`sample_token()` made it).
JWT_SECRET = "local-sample-jwt-secret-published-in-the-repository-never-deploy-it"  # noqa: S105
SAMPLE_TOKEN_EXPIRES = 4102444800  # 2100-01-01: the sample token outlives the repository
CREATED_AT = "2026-03-01T10:00:00+00:00"

ADDRESS = {
    "street": "12 Harbour Road",
    "city": "Portsmouth",
    "state": "Hampshire",
    "postal_code": "PO1 3AX",
    "country": "GB",
}


def sample_token() -> str:
    """The bearer token of the sample events: the sample user's, signed with JWT_SECRET."""
    import jwt

    claims = {
        "user_id": USER_ID,
        "username": USERNAME,
        "email": EMAIL,
        "role": "customer",
        "iat": 1772359200,  # 2026-03-01
        "exp": SAMPLE_TOKEN_EXPIRES,
        "jti": "sample-token",
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def seed(environment: dict[str, str]) -> None:
    """Create (or put back) what the sample events refer to, on the emulator boto3 points at, with
    the functions' variables `environment` (the tables, the secret)."""
    os.environ.update(environment)
    from shop_shared.config import get_settings

    get_settings.cache_clear()
    _seed_secret(environment["JWT_SECRET_ARN"])
    _seed_user()
    _seed_admin()
    _seed_order()
    log.info("sample data ready: user %s (%s), order %s", USERNAME, USER_ID, ORDER_NUMBER)


def _seed_secret(arn: str) -> None:
    from shop_shared import aws

    aws.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=JWT_SECRET)


def _seed_user() -> None:
    import auth_service
    from shop_shared import keys
    from shop_shared.errors import Conflict
    from shop_shared.passwords import hash_password

    table = auth_service._table()
    owner = auth_service._user_id_for(USERNAME)
    if owner is None:
        item = {
            **keys.user_key(USER_ID),
            "id": USER_ID,
            "username": USERNAME,
            "email": EMAIL,
            "first_name": "Jane",
            "last_name": "Doe",
            "password_hash": hash_password(PASSWORD),
            "role": "customer",
            "is_active": True,
            "email_verified": True,
            "created_at": CREATED_AT,
        }
        try:
            auth_service._create_user(item)
        except Conflict:
            owner = auth_service._user_id_for(USERNAME)
    if owner is not None and owner != USER_ID:
        # e.g. `auth-register.json` ran on this stack before it was seeded: that user has a new id
        log.warning(
            "the user %s exists with id %s, not the samples' %s: the samples that name the user will "
            "answer 404/401 on this stack",
            USERNAME,
            owner,
            USER_ID,
        )
        return
    # The sample address, the default (the order sample ships to it); put back as it was.
    table.put_item(
        Item={
            **keys.address_key(USER_ID, ADDRESS_ID),
            "id": ADDRESS_ID,
            "user_id": USER_ID,
            **ADDRESS,
            "is_default": True,
            "created_at": CREATED_AT,
        }
    )
    table.update_item(
        Key=keys.user_key(USER_ID),
        UpdateExpression="SET default_address_id = :address, is_active = :true, email_verified = :true",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":address": ADDRESS_ID, ":true": True},
    )


def _seed_admin() -> None:
    """The sample admin, active and an admin (put back so if the stack demoted it). No one can log
    in as it: its password is random and thrown away; the sample event carries its context."""
    import secrets

    import auth_service
    from shop_shared import keys
    from shop_shared.errors import Conflict
    from shop_shared.passwords import hash_password

    owner = auth_service._user_id_for(ADMIN_USERNAME)
    if owner is None:
        item = {
            **keys.user_key(ADMIN_USER_ID),
            "id": ADMIN_USER_ID,
            "username": ADMIN_USERNAME,
            "email": ADMIN_EMAIL,
            "first_name": "Sample",
            "last_name": "Admin",
            "password_hash": hash_password(secrets.token_urlsafe(24)),
            "role": "admin",
            "is_active": True,
            "email_verified": True,
            "created_at": CREATED_AT,
        }
        try:
            auth_service._create_user(item)
        except Conflict:
            owner = auth_service._user_id_for(ADMIN_USERNAME)
    if owner is not None and owner != ADMIN_USER_ID:
        log.warning(
            "the user %s exists with id %s: orders-status.json will answer 403", ADMIN_USERNAME, owner
        )
        return
    auth_service._table().update_item(
        Key=keys.user_key(ADMIN_USER_ID),
        UpdateExpression="SET #role = :admin, is_active = :true",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={"#role": "role"},
        ExpressionAttributeValues={":admin": "admin", ":true": True},
    )


def _seed_order() -> None:
    import orders_rules
    import orders_service
    from shop_shared import keys
    from shop_shared.models import Customer, HistoryEntry, Order, OrderItem, ShippingAddress

    table = orders_service._orders_table()
    current = table.get_item(Key=keys.order_key(ORDER_ID), ConsistentRead=True).get("Item")
    if current is not None and current.get("status") == "pending":
        return  # as the samples expect; rewriting it would only send its events again
    order = Order(
        id=ORDER_ID,
        order_number=ORDER_NUMBER,
        user_id=USER_ID,
        status="pending",
        total_amount=Decimal("229.97"),
        payment_method="cash_on_delivery",
        shipping_address=ShippingAddress(id=ADDRESS_ID, **ADDRESS),
        items=[
            OrderItem(
                product_id=1,
                product_name="Sample product",
                product_price=Decimal("99.99"),
                quantity=2,
                subtotal=Decimal("199.98"),
            ),
            OrderItem(
                product_id=7,
                product_name="Sample accessory",
                product_price=Decimal("29.99"),
                quantity=1,
                subtotal=Decimal("29.99"),
            ),
        ],
        created_at=CREATED_AT,
        updated_at=CREATED_AT,
        history=[HistoryEntry.model_validate(orders_rules.history_entry("pending", CREATED_AT, "customer"))],
    )
    customer = Customer(user_id=USER_ID, email=EMAIL, first_name="Jane", last_name="Doe", username=USERNAME)
    table.put_item(Item=orders_service.order_item(order, customer))
    _counter_at_least(int(ORDER_NUMBER.rsplit("-", 1)[1]), year=int(ORDER_NUMBER.split("-")[1]))


def _counter_at_least(value: int, *, year: int) -> None:
    """The year's order counter past the sample's number, so no real order gets ORD-2026-000042 too."""
    import orders_service
    from shop_shared import keys

    try:
        orders_service._orders_table().update_item(
            Key=keys.order_counter_key(year),
            UpdateExpression="SET #value = :value",
            ConditionExpression="attribute_not_exists(#value) OR #value < :value",
            ExpressionAttributeNames={"#value": "value"},
            ExpressionAttributeValues={":value": value},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
