"""The offline stand-in for the upstream product API (fakestoreapi.in), see `app.py`."""

from shop_local.standin.app import StandIn, load_catalog, make_app, product_svg

__all__ = ["StandIn", "load_catalog", "make_app", "product_svg"]
