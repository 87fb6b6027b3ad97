"""The product catalog: cache-aside in Redis in front of the upstream product API (fakestoreapi.in or
the local stand-in), used by the products function and by orders.

Redis keys:
  {catalog}:product:{id}                 the product's JSON for 1 h, or MISSING for 60 s
  {catalog}:lock:product:{id}            single-flight lock while one caller fetches {id}
  products:list:{category|*}:{page}:{limit}  one page of a listing, 5 min
  products:categories                    the category names, 5 min

Products and their locks share the hash tag `{catalog}`: in cluster mode (ElastiCache Serverless)
they live in one hash slot, so the MGET of many products, the lock-and-read transaction and the
write-and-release transaction stay single-slot (no CROSSSLOT). The catalog is small (a few hundred
products), so one slot holds it easily; listings are independent keys, written by a plain pipeline
that the cluster client splits per node.

Upstream facts this module copes with:
- `GET /products/{id}` answers an unknown id with 200 and ANOTHER product (the last one), so a
  product whose `id` is not the one asked for is "not found" (and is never cached under that id).
- a page past the end answers the last page again, so listings ask for the window
  `page=1&limit=page*limit` and cut the page out of it themselves: past the end is then empty.
- no totals or page counts.

Failure modes: upstream down → cached products are still served and an uncached one raises
`ServiceUnavailable` (503) in bounded time: an upstream read takes at most twice
PRODUCT_API_TIMEOUT_SECONDS (at most 3 attempts), and a caller waiting on another's fetch of the
same product one second more. Redis down → straight to upstream, with a warning in the log and
the RedisUnavailable metric (the cache fails open: it only saves upstream calls). REDIS_URL=none →
straight to upstream, quietly.

`requests` and the thread pool are imported on first use: a warm cache never needs them, and
orders imports this module at cold start.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from shop_shared.config import get_settings
from shop_shared.errors import ServiceUnavailable
from shop_shared.models import Product
from shop_shared.observability import redis_unavailable
from shop_shared.redis_client import REDIS_ERRORS, RedisDisabled, get_redis

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    import requests

# Not __name__: Powertools' Logger(service="products") drops, at the root handler, every record of
# a logger whose name CONTAINS its service name (SuppressFilter), so "...products_client" would be mute.
log = logging.getLogger("shop_shared.catalog")

PRODUCT_TTL_SECONDS = 3600
MISSING_TTL_SECONDS = 60
LIST_TTL_SECONDS = 300
MISSING = "missing"  # the "no such product" marker; never valid product JSON
CATEGORIES_KEY = "products:categories"
MAX_WORKERS = 8
POOL_SIZE = 16
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 3
RETRY_AFTER_SECONDS = 5

# Deletes the locks that still hold our token (a lock that expired and was taken by someone else
# stays theirs). One script call for all of them, inside the write-back pipeline.
_RELEASE_LOCKS = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then released = released + redis.call('del', key) end
end
return released
"""


CATALOG_TAG = "{catalog}"  # the hash tag: Redis Cluster hashes only what is between the braces


def product_key(product_id: int) -> str:
    return f"{CATALOG_TAG}:product:{product_id}"


def lock_key(product_id: int) -> str:
    return f"{CATALOG_TAG}:lock:product:{product_id}"


def list_key(page: int, limit: int, category: str | None) -> str:
    return f"products:list:{category or '*'}:{page}:{limit}"


class UpstreamError(Exception):
    """The product API did not give a usable answer (down, too slow, or not speaking its protocol)."""


def _unavailable(exc: Exception) -> ServiceUnavailable:
    log.warning("product API unavailable: %s", exc)
    return ServiceUnavailable(
        "The product catalog is unavailable right now, please try again shortly",
        code="product_catalog_unavailable",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


# ---------------------------------------------------------------------- upstream HTTP


@cache
def http_session() -> requests.Session:
    """One session per container: its pooled connections are reused across requests (keep-alive)."""
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    # Retries are ours (bounded by a deadline), not urllib3's.
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"Accept": "application/json", "User-Agent": "serverless-shop-products-client"})
    return session


@cache
def _executor() -> ThreadPoolExecutor:
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="product-api")


def _timeout() -> float:
    return get_settings().product_api_timeout_seconds


def _upstream_budget() -> float:
    """The longest one upstream read may take, retries included."""
    return 2 * _timeout()


def _get_json(path: str, params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """GET upstream; 5xx, 429, timeouts and connection errors are retried with exponential backoff
    (at most MAX_ATTEMPTS tries, within the budget). Returns (status, body) for any other answer
    (a 4xx body may be {})."""
    import requests

    timeout = _timeout()
    url = get_settings().product_api_url + path
    deadline = time.monotonic() + _upstream_budget()
    delay, attempt = 0.1, 0
    while True:
        attempt += 1
        remaining = max(0.05, deadline - time.monotonic())
        try:
            response = http_session().get(url, params=params, timeout=min(timeout, remaining))
        except requests.RequestException as exc:
            problem = type(exc).__name__
        else:
            if response.status_code not in RETRY_STATUSES and response.status_code < 500:
                try:
                    body = response.json()
                except ValueError as exc:
                    if response.status_code >= 400:
                        return response.status_code, {}
                    raise UpstreamError(
                        f"GET {path}: HTTP {response.status_code} with a non-JSON body"
                    ) from exc
                if not isinstance(body, dict):
                    raise UpstreamError(f"GET {path}: HTTP {response.status_code} with a non-object body")
                return response.status_code, body
            problem = f"HTTP {response.status_code}"
        # Another attempt only if it still has a fair share of the budget.
        if attempt >= MAX_ATTEMPTS or deadline - time.monotonic() - delay < min(0.5, timeout / 2):
            raise UpstreamError(f"GET {path} failed after {attempt} attempt(s): {problem}")
        log.info("product API: GET %s failed (%s), retrying in %.1fs", path, problem, delay)
        time.sleep(delay)
        delay *= 2


def fetch_product(product_id: int) -> Product | None:
    """One product straight from upstream (no cache); None when it does not exist."""
    status, body = _get_json(f"/products/{product_id}")
    if status in (400, 404):
        return None
    if status != 200:
        raise UpstreamError(f"GET /products/{product_id}: HTTP {status}")
    raw = body.get("product")
    if not isinstance(raw, dict):
        return None
    try:
        product = Product.model_validate(raw)
    except ValidationError as exc:
        raise UpstreamError(
            f"GET /products/{product_id}: invalid product ({exc.error_count()} errors)"
        ) from exc
    # Upstream's quirk: an unknown id answers with another product.
    return product if product.id == product_id else None


def _fetch_many(ids: Sequence[int]) -> tuple[dict[int, Product | None], dict[int, UpstreamError]]:
    """Fetch several products concurrently; what could not be fetched is in the second dict."""
    results: dict[int, Product | None] = {}
    errors: dict[int, UpstreamError] = {}
    if len(ids) == 1:
        try:
            results[ids[0]] = fetch_product(ids[0])
        except UpstreamError as exc:
            errors[ids[0]] = exc
        return results, errors
    futures = {product_id: _executor().submit(fetch_product, product_id) for product_id in ids}
    for product_id, future in futures.items():
        try:
            results[product_id] = future.result()
        except UpstreamError as exc:
            errors[product_id] = exc
    return results, errors


def _fetch_or_raise(ids: Sequence[int]) -> dict[int, Product | None]:
    results, errors = _fetch_many(ids)
    if errors:
        raise _unavailable(next(iter(errors.values())))
    return results


# ---------------------------------------------------------------------- cache encoding


def _dump(product: Product) -> str:
    return product.model_dump_json(exclude_none=True)


@cache
def _list_adapter() -> TypeAdapter[list[Product]]:
    return TypeAdapter(list[Product])


def _load(raw: str | bytes) -> Product | None:
    """A cached product, or None when the entry is unreadable (e.g. written by an older model)."""
    try:
        return Product.model_validate_json(raw)
    except ValidationError:
        return None


def _redis_warning(action: str, exc: Exception) -> None:
    if isinstance(exc, RedisDisabled):
        return  # deployed without Redis on purpose: nothing to report
    log.warning("Redis unavailable (%s), using the product API directly: %s", action, exc)
    redis_unavailable("product_cache")


def _client() -> Any:
    """The Redis client, or None when Redis is disabled or cannot be reached (cluster clients
    connect when created)."""
    try:
        return get_redis()
    except REDIS_ERRORS as exc:
        _redis_warning("connect", exc)
        return None


# ---------------------------------------------------------------------- products by id


def get_product(product_id: int) -> Product | None:
    """The product with this id, or None if upstream has no such product."""
    return get_products([product_id]).get(product_id)


def get_products(ids: Iterable[int]) -> dict[int, Product]:
    """The products with these ids, keyed by id; ids that do not exist are simply absent.

    One Redis round trip (MGET) when everything is cached. Misses are fetched from upstream
    concurrently, one request per product, with a single-flight lock per id so that concurrent
    callers never fetch the same product twice at once, and written back in one pipeline.
    Raises ServiceUnavailable when an uncached product cannot be fetched.
    """
    wanted = [product_id for product_id in dict.fromkeys(int(i) for i in ids) if product_id >= 1]
    if not wanted:
        return {}
    client = _client()
    if client is None:
        return {i: p for i, p in _fetch_or_raise(wanted).items() if p is not None}
    try:
        cached: list[str | bytes | None] = client.mget([product_key(i) for i in wanted])
    except REDIS_ERRORS as exc:
        _redis_warning("read", exc)
        return {i: p for i, p in _fetch_or_raise(wanted).items() if p is not None}

    found: dict[int, Product] = {}
    misses: list[int] = []
    for product_id, raw in zip(wanted, cached, strict=True):
        if raw == MISSING:
            continue
        product = _load(raw) if raw is not None else None
        if product is None:
            misses.append(product_id)
        else:
            found[product_id] = product
    if misses:
        found.update(_load_misses(client, misses))
    return found


def _load_misses(client: Any, misses: list[int]) -> dict[int, Product]:
    token = uuid.uuid4().hex
    lock_ms = int((_upstream_budget() + 1) * 1000)
    try:
        # In one transaction: take the free locks, then read the values again. If a lock was free,
        # its previous holder's write (done atomically with its release) is visible to that read.
        with client.pipeline(transaction=True) as pipe:
            for product_id in misses:
                pipe.set(lock_key(product_id), token, nx=True, px=lock_ms)
            for product_id in misses:  # GETs, not MGET: redis-py refuses MGET in a cluster pipeline
                pipe.get(product_key(product_id))
            replies = pipe.execute()
            acquired, values = replies[: len(misses)], replies[len(misses) :]
    except REDIS_ERRORS as exc:
        _redis_warning("lock", exc)
        return {i: p for i, p in _fetch_or_raise(misses).items() if p is not None}

    found: dict[int, Product] = {}
    mine: list[int] = []
    waiting: list[int] = []
    filled_meanwhile: list[int] = []
    for product_id, got_lock, raw in zip(misses, acquired, values, strict=True):
        product = _load(raw) if raw not in (None, MISSING) else None
        if raw == MISSING or product is not None:
            if product is not None:
                found[product_id] = product
            if got_lock:
                filled_meanwhile.append(product_id)
        elif got_lock:
            mine.append(product_id)
        else:
            waiting.append(product_id)

    results: dict[int, Product | None] = {}
    errors: dict[int, UpstreamError] = {}
    try:
        if mine:
            results, errors = _fetch_many(mine)
    finally:
        # Whatever happened, release our locks so that waiters do not wait for nothing.
        _store(client, results, release=mine + filled_meanwhile, token=token)
    if errors:
        raise _unavailable(next(iter(errors.values())))
    found.update({i: p for i, p in results.items() if p is not None})
    if waiting:
        found.update(_wait_for(client, waiting, deadline=time.monotonic() + lock_ms / 1000))
    return found


def _store(
    client: Any, results: dict[int, Product | None], *, release: Sequence[int] = (), token: str = ""
) -> None:
    """Write fetched products (and MISSING markers) and release our locks, atomically, in one trip."""
    if not results and not release:
        return
    try:
        with client.pipeline(transaction=True) as pipe:
            for product_id, product in results.items():
                if product is None:
                    pipe.set(product_key(product_id), MISSING, ex=MISSING_TTL_SECONDS)
                else:
                    pipe.set(product_key(product_id), _dump(product), ex=PRODUCT_TTL_SECONDS)
            if release:
                # execute_command: redis-py's cluster pipeline blocks its eval() helper, not EVAL
                pipe.execute_command(
                    "EVAL", _RELEASE_LOCKS, len(release), *[lock_key(i) for i in release], token
                )
            pipe.execute()
    except REDIS_ERRORS as exc:
        log.warning("Redis unavailable, products not cached: %s", exc)


def _wait_for(client: Any, ids: list[int], deadline: float) -> dict[int, Product]:
    """Wait for other callers' fetches of `ids` to land in the cache (one MGET per poll)."""
    found: dict[int, Product] = {}
    pending = ids
    delay = 0.01
    while pending:
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
        try:
            values = client.mget([product_key(i) for i in pending] + [lock_key(i) for i in pending])
        except REDIS_ERRORS as exc:
            _redis_warning("wait", exc)
            found.update({i: p for i, p in _fetch_or_raise(pending).items() if p is not None})
            return found
        still: list[int] = []
        unreadable: list[int] = []
        for product_id, raw, lock in zip(
            pending, values[: len(pending)], values[len(pending) :], strict=True
        ):
            if raw == MISSING:
                continue
            if raw is not None:
                product = _load(raw)
                if product is None:
                    unreadable.append(product_id)
                else:
                    found[product_id] = product
            elif lock is None:
                # The holder let go without a value: its upstream call failed just now.
                raise _unavailable(UpstreamError(f"product {product_id}: a concurrent fetch failed"))
            else:
                still.append(product_id)
        if unreadable:
            results = _fetch_or_raise(unreadable)
            _store(client, results)
            found.update({i: p for i, p in results.items() if p is not None})
        if still and time.monotonic() > deadline:
            raise _unavailable(UpstreamError(f"products {still}: waited too long for a concurrent fetch"))
        pending = still
    return found


# ---------------------------------------------------------------------- listings


def _cached_json(client: Any, key: str) -> str | bytes | None:
    if client is None:
        return None
    try:
        raw: str | bytes | None = client.get(key)
        return raw
    except REDIS_ERRORS as exc:
        _redis_warning("read", exc)
        return None


# Upstream has no offset: a page costs asking for `page * limit` products. Bounded so that no request
# can make us ask upstream for more than this (the catalog is ~150 products; 500 leaves room).
MAX_LISTING_WINDOW = 500


def list_products(page: int = 1, limit: int = 20, category: str | None = None) -> list[Product]:
    """One page of the catalog (or of one category), in upstream order. A page past the end is
    empty. Also warms `product:{id}` for every product upstream returned."""
    if page < 1 or limit < 1:
        raise ValueError("page and limit must be 1 or more")
    if page * limit > MAX_LISTING_WINDOW:
        raise ValueError(f"page * limit must be at most {MAX_LISTING_WINDOW}")
    client = _client()
    key = list_key(page, limit, category)
    raw = _cached_json(client, key)
    if raw is not None:
        try:
            return _list_adapter().validate_json(raw)
        except ValidationError:
            pass
    # Ask for the whole window up to this page: upstream repeats its last page past the end.
    window = page * limit
    try:
        if category:
            status, body = _get_json("/products/category", {"type": category, "sort": "asc", "limit": window})
        else:
            status, body = _get_json("/products", {"page": 1, "limit": window})
        if status != 200 or not isinstance(body.get("products"), list):
            raise UpstreamError(f"listing products: HTTP {status}")
    except UpstreamError as exc:
        raise _unavailable(exc) from exc
    products: list[Product] = []
    for item in body["products"]:
        try:
            products.append(Product.model_validate(item))
        except ValidationError as exc:
            log.warning("product API: skipping an invalid product in a listing: %s", exc.errors()[:1])
    page_items = products[(page - 1) * limit : page * limit]
    if client is None:
        return page_items
    try:
        with client.pipeline(transaction=False) as pipe:
            pipe.set(key, "[" + ",".join(_dump(p) for p in page_items) + "]", ex=LIST_TTL_SECONDS)
            for product in products:
                pipe.set(product_key(product.id), _dump(product), ex=PRODUCT_TTL_SECONDS)
            pipe.execute()
    except REDIS_ERRORS as exc:
        log.warning("Redis unavailable, listing not cached: %s", exc)
    return page_items


def list_categories() -> list[str]:
    """The category names upstream knows (tv, audio, laptop, mobile, gaming, appliances, ...)."""
    client = _client()
    raw = _cached_json(client, CATEGORIES_KEY)
    if raw is not None:
        try:
            cached = json.loads(raw)
            if isinstance(cached, list):
                return [str(name) for name in cached]
        except ValueError:
            pass
    try:
        status, body = _get_json("/products/category")
        categories = body.get("categories")
        if status != 200 or not isinstance(categories, list):
            raise UpstreamError(f"listing categories: HTTP {status}")
    except UpstreamError as exc:
        raise _unavailable(exc) from exc
    names = [str(name) for name in categories]
    if client is None:
        return names
    try:
        client.set(CATEGORIES_KEY, json.dumps(names), ex=LIST_TTL_SECONDS)
    except REDIS_ERRORS as exc:
        log.warning("Redis unavailable, categories not cached: %s", exc)
    return names
