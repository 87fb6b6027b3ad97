"""Parts of the dev stack (`shop_local.stack`) on their own."""

from __future__ import annotations

import requests

from shop_local.stack import DevStack, ProductApi, Settings

PORT = 7291  # in this worktree's port range; the stand-in takes the API's port + 1


def _image_of_product_1(api: ProductApi) -> str:
    return str(requests.get(f"{api.url}/products/1", timeout=10).json()["product"]["image"])


def test_the_standins_image_urls_stay_valid_after_a_restart() -> None:
    """The functions cache product JSON (with its absolute image URL) for an hour: a stand-in on a
    new port after `make run` is restarted would leave the storefront with broken images."""
    first = ProductApi(None, "127.0.0.1", PORT + 1)
    first.start()
    try:
        image = _image_of_product_1(first)
    finally:
        first.stop()

    second = ProductApi(None, "127.0.0.1", PORT + 1)
    second.start()
    try:
        assert _image_of_product_1(second) == image
        reply = requests.get(image, timeout=10)
    finally:
        second.stop()

    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("image/svg+xml")


def test_the_dev_stack_puts_the_standin_next_to_the_api_port() -> None:
    stack = DevStack(Settings(port=PORT))
    assert stack.products.port == PORT + 1
    assert DevStack(Settings(port=0)).products.port == 0  # tests: any free port
    assert DevStack(Settings(port=PORT, standin_port=PORT + 5)).products.port == PORT + 5
