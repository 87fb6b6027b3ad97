"""Order lines and pricing as pure rules (orders_rules): merging a product listed twice, the
catalog's price and name on every line, the total exact to the cent. No AWS, no Redis."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

import orders_rules
from shop_shared.errors import Unprocessable
from shop_shared.models import MAX_QUANTITY, Product

CATALOG = {
    1: Product(id=1, title="Mug", price=Decimal("5")),
    2: Product(id=2, title="Pen", price=Decimal("0.50")),
    3: Product(id=3, title="Lamp", price=Decimal("1029.99")),
}

lines_strategy = st.lists(
    st.tuples(st.integers(min_value=1, max_value=6), st.integers(min_value=1, max_value=MAX_QUANTITY // 4)),
    min_size=1,
    max_size=12,
)
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)


def test_a_product_listed_twice_becomes_one_line_in_the_order_first_listed() -> None:
    assert orders_rules.merge_lines([(3, 1), (1, 2), (3, 4)]) == [(3, 5), (1, 2)]


def test_merged_quantity_above_the_maximum_is_refused_naming_the_product() -> None:
    with pytest.raises(Unprocessable) as refused:
        orders_rules.merge_lines([(1, MAX_QUANTITY), (2, 1), (1, 1)])
    assert refused.value.code == "quantity_too_large"
    assert refused.value.details == {"product_ids": [1]}


def test_lines_carry_the_catalogs_name_and_price_and_an_exact_subtotal() -> None:
    (mug, pen) = orders_rules.price_lines([(1, 2), (2, 3)], CATALOG)
    assert (mug.product_name, mug.product_price, mug.subtotal) == ("Mug", Decimal("5.00"), Decimal("10.00"))
    assert (pen.product_name, pen.product_price, pen.subtotal) == ("Pen", Decimal("0.50"), Decimal("1.50"))
    assert orders_rules.order_total([mug, pen]) == Decimal("11.50")


def test_unknown_products_are_refused_all_named() -> None:
    with pytest.raises(Unprocessable) as refused:
        orders_rules.price_lines([(1, 1), (8, 1), (9, 2)], CATALOG)
    assert refused.value.code == "unknown_product"
    assert refused.value.details == {"product_ids": [8, 9]}
    assert "Unknown products: 8, 9" in refused.value.message


@given(lines_strategy)
def test_merging_keeps_every_product_and_the_total_quantity_or_names_the_excess(
    lines: list[tuple[int, int]],
) -> None:
    totals: dict[int, int] = {}
    for product_id, quantity in lines:
        totals[product_id] = totals.get(product_id, 0) + quantity
    excess = [product_id for product_id, total in totals.items() if total > MAX_QUANTITY]
    if excess:
        with pytest.raises(Unprocessable) as refused:
            orders_rules.merge_lines(lines)
        assert refused.value.details == {"product_ids": excess}
        return
    merged = orders_rules.merge_lines(lines)
    assert sum(quantity for _, quantity in merged) == sum(quantity for _, quantity in lines)
    assert merged == list(totals.items())  # one line per product, in the order first listed


small_orders = st.lists(
    st.tuples(st.integers(min_value=1, max_value=6), st.integers(min_value=1, max_value=MAX_QUANTITY // 4)),
    min_size=1,
    max_size=4,
)


@given(small_orders, st.lists(prices, min_size=6, max_size=6))
def test_the_total_is_the_exact_sum_of_price_times_quantity_to_two_places(
    lines: list[tuple[int, int]], price_list: list[Decimal]
) -> None:
    catalog = {pid: Product(id=pid, title=f"p{pid}", price=price) for pid, price in enumerate(price_list, 1)}
    items = orders_rules.price_lines(orders_rules.merge_lines(lines), catalog)
    total = orders_rules.order_total(items)
    assert total == sum((catalog[pid].price * quantity for pid, quantity in lines), Decimal(0))
    assert total.as_tuple().exponent == -2
    assert all(item.subtotal == item.product_price * item.quantity for item in items)
