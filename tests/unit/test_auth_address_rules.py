"""The default-address rule (auth_address_rules), with no AWS: the first address is the default, a
new default unsets the old one, the default stays until another takes its place, and deleting it
promotes the newest remaining address."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from auth_address_rules import Added, AddressChange, Deleted, Updated, next_default

BOOK = [
    {"id": "home", "created_at": "2026-11-01T10:00:00.000000Z"},
    {"id": "office", "created_at": "2026-11-03T10:00:00.000000Z"},
    {"id": "parents", "created_at": "2026-11-02T10:00:00.000000Z"},
]


def test_the_first_address_is_the_default_whatever_the_request_says() -> None:
    assert next_default(None, [], Added("home", wants_default=False)) == "home"
    assert next_default(None, [], Added("home", wants_default=True)) == "home"


def test_a_new_default_replaces_the_old_one_and_a_plain_address_does_not() -> None:
    assert next_default("home", BOOK, Added("cabin", wants_default=True)) == "cabin"
    assert next_default("home", BOOK, Added("cabin", wants_default=False)) == "home"
    assert next_default("home", BOOK, Updated("office", wants_default=True)) == "office"
    assert next_default("home", BOOK, Updated("office", wants_default=False)) == "home"


def test_the_default_stays_the_default_until_another_takes_its_place() -> None:
    assert next_default("home", BOOK, Updated("home", wants_default=False)) == "home"


def test_deleting_the_default_promotes_the_newest_remaining_address() -> None:
    assert next_default("home", BOOK, Deleted("home")) == "office"
    assert next_default("office", BOOK, Deleted("office")) == "parents"
    assert next_default("home", BOOK, Deleted("parents")) == "home"
    assert next_default("home", BOOK[:1], Deleted("home")) is None


ids = st.sampled_from(["a", "b", "c", "d", "e"])
changes = st.lists(
    st.one_of(
        st.builds(Added, ids, st.booleans()), st.builds(Updated, ids, st.booleans()), st.builds(Deleted, ids)
    ),
    max_size=25,
)


@given(changes)
def test_an_address_book_with_addresses_always_has_exactly_one_of_them_as_default(
    script: list[AddressChange],
) -> None:
    book: dict[str, str] = {}  # id -> created_at
    default: str | None = None
    for tick, change in enumerate(script):
        exists = change.address_id in book
        if isinstance(change, Added) == exists:  # add a new one; update or delete an existing one
            continue
        addresses = [{"id": i, "created_at": at} for i, at in book.items()]
        default = next_default(default, addresses, change)
        if isinstance(change, Added):
            book[change.address_id] = f"{tick:04d}"
        elif isinstance(change, Deleted):
            del book[change.address_id]
        assert (default in book) if book else default is None
