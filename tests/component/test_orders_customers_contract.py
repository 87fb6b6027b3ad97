"""The `CustomerDirectory` contract (the profile and one of the user's own addresses, read when an
order is created), run against the in-memory fake and the DynamoDB adapter on the users table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from shop_fakes.orders import InMemoryCustomers

from orders_dynamodb import DynamoCustomers
from orders_ports import CustomerDirectory
from shop_local.testing import DEFAULT_ADDRESS as ADDRESS
from shop_shared import aws, keys
from shop_shared.config import get_settings
from shop_shared.errors import EmailNotVerified, Unauthorized, Unprocessable


@dataclass
class Directory:
    directory: CustomerDirectory
    add_user: Callable[..., None]
    add_address: Callable[[str, str], None]


@pytest.fixture(params=["fake", "dynamodb"])
def users(request: pytest.FixtureRequest) -> Iterator[Directory]:
    if request.param == "fake":
        fake = InMemoryCustomers()
        yield Directory(
            fake,
            lambda user_id, active, verified=True, role="customer": fake.add_user(
                user_id, username="jane", active=active, verified=verified, role=role
            ),
            lambda user_id, address_id: fake.add_address(user_id, address_id, **ADDRESS),
        )
        return
    request.getfixturevalue("aws")
    table = aws.table(get_settings().users_table)

    def add_user(user_id: str, active: bool, verified: bool = True, role: str = "customer") -> None:
        table.put_item(
            Item={
                **keys.user_key(user_id),
                "id": user_id,
                "username": "jane",
                "email": "jane@example.com",
                "first_name": "Jane",
                "last_name": "Doe",
                "role": role,
                "is_active": active,
                "email_verified": verified,
                "password_hash": "never read by orders",
            }
        )

    def add_address(user_id: str, address_id: str) -> None:
        table.put_item(Item={**keys.address_key(user_id, address_id), "id": address_id, **ADDRESS})

    yield Directory(DynamoCustomers(), add_user, add_address)


def test_the_customer_and_their_own_address(users: Directory) -> None:
    users.add_user("u1", True)
    users.add_address("u1", "home")
    customer, address = users.directory.customer_and_address("u1", "home")
    assert (customer.user_id, customer.email, customer.first_name, customer.username) == (
        "u1",
        "jane@example.com",
        "Jane",
        "jane",
    )
    assert address.model_dump() == {"id": "home", **ADDRESS}


def test_another_users_address_is_not_found(users: Directory) -> None:
    users.add_user("u1", True)
    users.add_user("u2", True)
    users.add_address("u2", "office")
    with pytest.raises(Unprocessable) as refused:
        users.directory.customer_and_address("u1", "office")
    assert refused.value.code == "address_not_found"


@pytest.mark.parametrize("exists", [False, True])
def test_an_unknown_or_deactivated_user_is_refused(users: Directory, exists: bool) -> None:
    if exists:
        users.add_user("u1", False)
    users.add_address("u1", "home")
    with pytest.raises(Unauthorized) as refused:
        users.directory.customer_and_address("u1", "home")
    assert refused.value.code == "unknown_user"


def test_a_user_whose_email_is_not_verified_may_not_order(users: Directory) -> None:
    users.add_user("u1", True, False)
    users.add_address("u1", "home")
    with pytest.raises(EmailNotVerified) as refused:
        users.directory.customer_and_address("u1", "home")
    assert (refused.value.status, refused.value.code) == (403, "email_not_verified")


@pytest.mark.parametrize(
    ("role", "active", "expected"),
    [("admin", True, "admin"), ("customer", True, "customer"), ("admin", False, None)],
)
def test_the_role_as_stored_now_and_none_when_deactivated(
    users: Directory, role: str, active: bool, expected: str | None
) -> None:
    users.add_user("u1", active, role=role)
    assert users.directory.stored_role("u1") == expected
    assert users.directory.stored_role("nobody") is None
