"""ProductsFunction: the public catalog, `GET /products`, `/products/{product_id}`, `/products/categories`.

Thin: validation is declared on the parameters (so the OpenAPI document describes it), the reads are
`shop_shared.products_client` (Redis in front of the upstream product API).
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from shop_shared import products_client
from shop_shared.api import api_handler, json_response, make_resolver
from shop_shared.errors import NotFound, Unprocessable
from shop_shared.models import MAX_PRODUCT_ID, Product
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


class ProductList(BaseModel):
    products: list[Product]
    page: int
    limit: int
    category: str | None


class CategoryList(BaseModel):
    categories: list[str]


class Error(BaseModel):
    message: str
    code: str


def _doc(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


UNAVAILABLE = _doc("The upstream product API is unavailable and the answer is not cached", Error)


def _product_json(product: Product) -> dict[str, Any]:
    # Optional upstream fields that a product does not have are left out, as upstream does.
    return product.model_dump(exclude_none=True)


@app.get(
    "/products/categories",
    summary="List the product categories",
    tags=["products"],
    responses={200: _doc("The category names", CategoryList), 503: UNAVAILABLE},
)
def list_categories() -> Response[Any]:
    categories = products_client.list_categories()
    return json_response(200, {"categories": categories}, {"Cache-Control": CATEGORIES_CACHE})


@app.get(
    "/products",
    summary="List products, a page at a time",
    tags=["products"],
    responses={
        200: _doc("One page of products (empty past the last page)", ProductList),
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
) -> Response[Any]:
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
    body = {
        "products": [_product_json(product) for product in products],
        "page": page,
        "limit": limit,
        "category": category,
    }
    return json_response(200, body, {"Cache-Control": LIST_CACHE})


@app.get(
    "/products/<product_id>",
    summary="Get one product",
    tags=["products"],
    responses={
        200: _doc("The product", Product),
        404: _doc("No product with this id", Error),
        422: _doc("The id is not a positive integer", Error),
        503: UNAVAILABLE,
    },
)
def get_product(
    product_id: Annotated[int, Path(ge=1, le=MAX_PRODUCT_ID, description="The product's id")],
) -> Response[Any]:
    product = products_client.get_product(product_id)
    if product is None:
        raise NotFound(
            f"Product {product_id} not found",
            code="product_not_found",
            headers={"Cache-Control": NOT_FOUND_CACHE},
        )
    return json_response(200, _product_json(product), {"Cache-Control": PRODUCT_CACHE})


lambda_handler = api_handler(app, logger, metrics, tracer)
