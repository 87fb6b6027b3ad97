"""ProductsFunction: the public catalog, `GET /products`, `/products/{product_id}`, `/products/categories`.

Thin: validation is declared on the parameters (so the OpenAPI document describes it), the reads are
`shop_shared.products_client` (Redis in front of the upstream product API).
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from shop_shared import products_client
from shop_shared.api import api_handler, make_resolver
from shop_shared.errors import NotFound, Unprocessable
from shop_shared.models import MAX_PRODUCT_ID, CategoryList, Product, ProductPage
from shop_shared.observability import observability

logger, metrics, tracer = observability("products")
app = make_resolver(logger)

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_PAGE = 1000
MAX_LISTING_WINDOW = products_client.MAX_LISTING_WINDOW  # page * limit, see products_client
# Browsers and CDNs may keep the public catalog for a while (Redis keeps it longer behind us).
LIST_CACHE = "public, max-age=60"
PRODUCT_CACHE = "public, max-age=300"
CATEGORIES_CACHE = "public, max-age=300"
NOT_FOUND_CACHE = "public, max-age=60"


class Error(BaseModel):
    message: str
    code: str


def _doc(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


# The 200 answers' schemas come from the routes' return types (typed models, as the other services').


M = TypeVar("M", bound=BaseModel)
UNAVAILABLE = _doc("The upstream product API is unavailable and the answer is not cached", Error)


def _cached(body: M, cache_control: str) -> Response[M]:
    """A 200 with the typed body (serialized by the resolver, as its OpenAPI document says)."""
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={"Cache-Control": cache_control},
    )


@app.get(
    "/products/categories",
    summary="List the product categories",
    tags=["products"],
    responses={200: {"description": "The category names"}, 503: UNAVAILABLE},
)
def list_categories() -> Response[CategoryList]:
    return _cached(CategoryList(categories=products_client.list_categories()), CATEGORIES_CACHE)


@app.get(
    "/products",
    summary="List products, a page at a time",
    tags=["products"],
    responses={
        200: {"description": "One page of products (empty past the last page)"},
        422: _doc(f"Invalid limit, page or category, or page * limit over {MAX_LISTING_WINDOW}", Error),
        503: UNAVAILABLE,
    },
)
def list_products(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Products per page")] = DEFAULT_LIMIT,
    page: Annotated[
        int,
        Query(
            ge=1, le=MAX_PAGE, description=f"Page number, from 1 (page * limit at most {MAX_LISTING_WINDOW})"
        ),
    ] = 1,
    category: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=40,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="Only this category (one of GET /products/categories)",
        ),
    ] = None,
) -> Response[ProductPage]:
    if page * limit > MAX_LISTING_WINDOW:
        raise Unprocessable(
            f"page * limit may be at most {MAX_LISTING_WINDOW} (asked for {page} * {limit})",
            code="listing_window_too_large",
        )
    if category is not None:
        category = category.lower()
        known = products_client.list_categories()
        if category not in known:
            message = f"must be one of {', '.join(known)}"
            detail = {"loc": ["query", "category"], "msg": message, "type": "enum"}
            raise Unprocessable(f"Invalid request: category: {message}", details=[detail])
    products = products_client.list_products(page=page, limit=limit, category=category)
    return _cached(ProductPage(products=products, page=page, limit=limit, category=category), LIST_CACHE)


@app.get(
    "/products/<product_id>",
    summary="Get one product",
    tags=["products"],
    responses={
        200: {"description": "The product"},
        404: _doc("No product with this id", Error),
        422: _doc("The id is not a positive integer", Error),
        503: UNAVAILABLE,
    },
)
def get_product(
    product_id: Annotated[int, Path(ge=1, le=MAX_PRODUCT_ID, description="The product's id")],
) -> Response[Product]:
    # One canonical spelling per product: the int parsing above also takes "01", "+1" and "1.0".
    raw_id = (app.current_event.path_parameters or {}).get("product_id")
    if raw_id != str(product_id):
        message = "must be a positive integer written in decimal without sign, zeros or fraction"
        detail = {"loc": ["path", "product_id"], "msg": message, "type": "int_parsing"}
        raise Unprocessable(f"Invalid request: product_id: {message}", details=[detail])
    product = products_client.get_product(product_id)
    if product is None:
        raise NotFound(
            f"Product {product_id} not found",
            code="product_not_found",
            headers={"Cache-Control": NOT_FOUND_CACHE},
        )
    return _cached(product, PRODUCT_CACHE)


lambda_handler = api_handler(app, logger, metrics, tracer)
