"""`python -m shop_local.standin --port 8090`: serve the product API stand-in on its own."""

from __future__ import annotations

import argparse

from werkzeug.serving import run_simple

from shop_local.standin.app import make_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shop_local.standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8090, help="port (default 8090)")
    args = parser.parse_args(argv)
    print(f"product API stand-in: PRODUCT_API_URL=http://{args.host}:{args.port}/api")
    run_simple(args.host, args.port, make_app(), threaded=True)


if __name__ == "__main__":
    main()
