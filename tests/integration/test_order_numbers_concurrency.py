"""Order numbers under concurrency, through the local gateway: many orders at once, served by
several execution environments of OrdersFunction (each its own process of AWS's runtime interface
client, as concurrent Lambda invocations are), every number distinct, and the year's counter item
written about once per block of numbers instead of once per order (order_numbers).

The counter's writes are counted from the orders table's DynamoDB stream (every write of an item
is one stream record), not from the counter's value, which the code under test computes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from order_numbers import BLOCK_SIZE
from orders_rules import parse_order_number
from shop_local.testing import ShopStack

SHOPPERS = 4
ORDERS_PER_SHOPPER = 15
THREADS = 12


@pytest.fixture(scope="module")
def busy_stack(redis_url: str) -> Iterator[ShopStack]:
    """A stack of its own (its stream holds only this test's counter writes), rate limit raised."""
    with ShopStack(redis_url=redis_url, env={"ORDER_RATE_LIMIT": "1000000/60"}) as running:
        yield running


def counter_writes(stack: ShopStack) -> dict[str, int]:
    """Stream records of the order-number counter items, per counter key."""
    table = stack.resources()["tables"]["OrdersTable"]["name"]
    stream_arn = stack.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = stack.client("dynamodbstreams")
    writes: dict[str, int] = {}
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in page["Records"]:
                pk = record["dynamodb"]["Keys"]["pk"]["S"]
                if pk.startswith("COUNTER#ORDER#"):
                    writes[pk] = writes.get(pk, 0) + 1
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return writes


def test_concurrent_orders_through_several_environments_get_distinct_numbers(busy_stack: ShopStack) -> None:
    stack = busy_stack
    shoppers = [stack.new_shopper() for _ in range(SHOPPERS)]
    jobs = [shoppers[n % SHOPPERS] for n in range(SHOPPERS * ORDERS_PER_SHOPPER)]
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def work(mine: list[dict[str, Any]]) -> None:
        start.wait(timeout=60)
        for who in mine:
            reply = stack.place_order(who, [{"product_id": 1, "quantity": 1}], timeout=60)
            with lock:
                answers.append((reply.status_code, reply.json()))

    threads = [threading.Thread(target=work, args=(jobs[n::THREADS],)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert [status for status, _ in answers] == [201] * len(jobs), answers[:3]
    numbers = [body["order_number"] for _, body in answers]
    assert len(set(numbers)) == len(numbers), "an order number was handed out twice"
    sequences = []
    for number in numbers:
        parsed = parse_order_number(number)
        assert parsed is not None, number
        sequences.append(parsed[1])
    # Several environments served at once: their numbers come from more than one block.
    blocks = {(sequence - 1) // BLOCK_SIZE for sequence in sequences}
    assert len(blocks) > 1
    # Each environment reserves a block with one write: about orders / BLOCK_SIZE writes, plus at
    # most one partly used block per environment (SHOP_LAMBDA_MAX_ENVIRONMENTS, 4 by default).
    writes = sum(counter_writes(stack).values())
    assert 1 <= writes <= len(jobs) // BLOCK_SIZE + 4, (writes, len(jobs))
    assert writes < len(jobs) / 3
