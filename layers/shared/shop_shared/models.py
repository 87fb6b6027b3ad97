"""Pydantic models of the HTTP contract and of the order events (shared by every service).

Unknown fields are ignored everywhere (pydantic's default), so a client sending an extra `price`
changes nothing. Money is Decimal with two places.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

from shop_shared.jsonutil import money

# --- users -------------------------------------------------------------------------------------

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"
# Whole-address check: one @, a dot in the domain, no spaces; good enough to reject typos while
# accepting every real address (delivery is the real test).
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


# Encoded words (RFC 2047, `=?charset?q?...?=`) are decoded by mail readers: in an address they
# could show another address than the one the message goes to.
_ENCODED_WORD = "=?"


def looks_like_email(value: str) -> bool:
    """The address's shape alone (the pattern above), without asking whether a header can hold it."""
    value = value.strip()
    return len(value) <= 254 and _EMAIL_RE.match(value) is not None


def check_email(value: str) -> str:
    """A whole address that the e-mail functions can also put in a `To:` header: the pattern above,
    and what `email.headerregistry.Address` accepts as an addr-spec (no `..`, no dot at either end
    of the local part, no encoded words). One rule for the API and the e-mail function (issue 26,
    item 5): an address refused here would otherwise be refused only when an e-mail is sent."""
    from email.errors import HeaderParseError
    from email.headerregistry import Address

    value = value.strip()
    if not looks_like_email(value) or _ENCODED_WORD in value:
        raise ValueError("must be a valid e-mail address")
    try:
        # MessageDefect (e.g. InvalidHeaderDefect) is a ValueError; a header parse error is not.
        addressable = Address(addr_spec=value).addr_spec == value
    except (ValueError, HeaderParseError, IndexError):
        addressable = False
    if not addressable:
        raise ValueError("must be a valid e-mail address")
    return value


_check_email = check_email

# Bidi embedding, override and isolate controls: they reorder the text around them when shown
# (U+202E makes "gpj.exe" read "exe.jpg"). Other format characters (ZWJ, ZWNJ) are left alone:
# emoji and several scripts need them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control characters (NUL, tab, CR, LF ...), line and paragraph separators, surrogates,
# private-use and unassigned code points.
_NOT_ONE_LINE = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})


def check_one_line(value: str) -> str:
    """One line of printable text (names, address lines: user text that reaches an e-mail or a
    label; issue 26, item 4). Leading and trailing whitespace is trimmed before this runs."""
    import unicodedata

    for character in value:
        if character in BIDI_CONTROLS or unicodedata.category(character) in _NOT_ONE_LINE:
            raise ValueError(
                "must be one line of printable text (no control, line-break or bidi-control characters)"
            )
    return value


OneLine = AfterValidator(check_one_line)
Email = Annotated[str, AfterValidator(check_email)]
NAME_MAX_LENGTH = 100
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH), OneLine
]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), OneLine]
PostalCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), OneLine]
Role = Literal["customer", "admin"]


class RegisterRequest(BaseModel):
    username: Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
    email: Email
    first_name: Name
    last_name: Name
    password: Annotated[str, StringConstraints(min_length=8, max_length=128)]


class LoginRequest(BaseModel):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class User(BaseModel):
    """A user as clients see it: never a password or a hash."""

    id: str
    username: str
    email: str
    first_name: str
    last_name: str
    is_active: bool
    created_at: str
    role: Role = "customer"
    email_verified: bool = False


class TokenResponse(BaseModel):
    """Login and refresh: a short-lived access token (`expires_in` seconds) and the session's
    refresh token (single use: each refresh returns the next one)."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - not a secret
    expires_in: int


OpaqueToken = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]


class RefreshRequest(BaseModel):
    refresh_token: OpaqueToken


class PasswordChangeRequest(BaseModel):
    current_password: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    new_password: Password


class PasswordResetRequest(BaseModel):
    email: Email


class PasswordResetConfirm(BaseModel):
    token: OpaqueToken
    new_password: Password


class VerifyEmailRequest(BaseModel):
    token: OpaqueToken


class UserPatch(BaseModel):
    """PATCH /auth/user/{id}: the user's names and e-mail; an admin also `is_active` and `role`.
    Changing one's own e-mail needs `current_password` (an access token alone must not be enough
    to move the account, and its reset links, to another address)."""

    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    current_password: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    is_active: bool | None = None
    role: Role | None = None


class UserPage(BaseModel):
    """GET /auth/users: ordered by the matching username or e-mail; `next` is an opaque cursor."""

    users: list[User]
    next: str | None = None


class AddressRequest(BaseModel):
    street: Text200
    city: Name
    state: Name
    postal_code: PostalCode
    country: Name
    is_default: bool = False


class Address(BaseModel):
    id: str
    street: str
    city: str
    state: str
    postal_code: str
    country: str
    is_default: bool


# Money: exact inside (Decimal, two places), a JSON number outside.
Money = Annotated[Decimal, AfterValidator(money), PlainSerializer(float, return_type=float, when_used="json")]


def _absent(value: object) -> bool:
    return value is None


def _upstream_optional() -> Any:
    """An optional upstream field: a product that does not have it leaves it out, as upstream does."""
    return Field(default=None, exclude_if=_absent)


# --- products (fields of fakestoreapi.in) ------------------------------------------------------


class Product(BaseModel):
    model_config = ConfigDict(populate_by_name=True, protected_namespaces=())

    id: int
    title: str
    price: Money
    description: str = ""
    image: str = ""
    brand: str = ""
    model: str = ""
    category: str = ""
    color: str | None = _upstream_optional()
    discount: int | None = _upstream_optional()
    onSale: bool | None = _upstream_optional()
    popular: bool | None = _upstream_optional()


class ProductPage(BaseModel):
    """One page of the catalog (GET /products); empty past the last page."""

    products: list[Product]
    page: int
    limit: int
    category: str | None


class CategoryList(BaseModel):
    """The catalog's categories (GET /products/categories)."""

    categories: list[str]


# --- orders ------------------------------------------------------------------------------------

OrderStatus = Literal["pending", "confirmed", "shipped", "delivered", "cancelled"]
PaymentMethod = Literal["cash_on_delivery", "credit_card", "debit_card", "paypal", "bank_transfer"]
MAX_QUANTITY = 100
MAX_ITEMS = 50
# A product id is a positive 32-bit integer everywhere (orders, GET /products/{id}): anything larger
# is refused here, never sent upstream.
MAX_PRODUCT_ID = 2**31 - 1
# strict: a JSON integer only; lax parsing would take "1", 1.0 and true for 1 (issue 26, item 7).
ProductId = Annotated[int, Field(ge=1, le=MAX_PRODUCT_ID, strict=True)]
MAX_NOTE_LENGTH = 500


class OrderItemRequest(BaseModel):
    product_id: ProductId
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY, strict=True)]


class CreateOrderRequest(BaseModel):
    items: Annotated[list[OrderItemRequest], Field(min_length=1, max_length=MAX_ITEMS)]
    shipping_address_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    payment_method: PaymentMethod = "cash_on_delivery"


# Two places on the way in too: DynamoDB drops trailing zeros (10.00 comes back as 10). In JSON a
# JSON number, as `jsonutil.dumps` writes it (a two-place Decimal's float prints its exact digits).
class OrderItem(BaseModel):
    product_id: int
    product_name: str
    product_price: Money
    quantity: int
    subtotal: Money


class ShippingAddress(BaseModel):
    id: str
    street: str
    city: str
    state: str
    postal_code: str
    country: str


Actor = Literal["customer", "admin"]


class HistoryEntry(BaseModel):
    """One step of an order's life: the status it reached, when, by whom, and the note given."""

    status: OrderStatus
    at: str
    by: Actor
    # `note?` in the contract: an entry without one has no `note` key (nor a stored NULL)
    note: str | None = Field(default=None, exclude_if=lambda note: note is None)


class Tracking(BaseModel):
    carrier: str
    tracking_number: str


class Order(BaseModel):
    id: str
    order_number: str
    user_id: str
    status: OrderStatus
    total_amount: Money
    payment_method: PaymentMethod
    shipping_address: ShippingAddress
    items: list[OrderItem]
    created_at: str
    updated_at: str
    history: list[HistoryEntry] = []
    tracking: Tracking | None = None


class OrderPage(BaseModel):
    """A page of orders (GET /users/{user_id}/orders, GET /orders); `next` is an opaque cursor,
    null on the last page."""

    orders: list[Order]
    next: str | None = None


Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), OneLine]


class StatusUpdateRequest(BaseModel):
    status: OrderStatus
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NOTE_LENGTH)] | None = None
    carrier: Text100 | None = None
    tracking_number: Text100 | None = None

    @model_validator(mode="after")
    def _tracking_only_when_shipping(self) -> StatusUpdateRequest:
        given = [name for name in ("carrier", "tracking_number") if getattr(self, name) is not None]
        if given and self.status != "shipped":
            raise ValueError("carrier and tracking_number may only be given with the status 'shipped'")
        if len(given) == 1:
            raise ValueError("carrier and tracking_number go together: give both or neither")
        return self

    def tracking(self) -> Tracking | None:
        if self.carrier is None or self.tracking_number is None:
            return None
        return Tracking(carrier=self.carrier, tracking_number=self.tracking_number)


# --- events (SNS topic `order-events`) -------------------------------------------------------

EventType = Literal["order.created", "order.status_updated"]


class Customer(BaseModel):
    user_id: str
    email: str
    first_name: str
    last_name: str
    username: str = ""


class OrderEvent(BaseModel):
    """What the e-mail needs, so the consumer reads nothing else. `event_id` is deterministic
    (`order.created:{id}`, `order.status_updated:{id}:{status}`), so a redelivery has the same id."""

    event_id: str
    event_type: EventType
    occurred_at: datetime
    order: Order
    customer: Customer
    previous_status: OrderStatus | None = None
