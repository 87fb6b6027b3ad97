"""`python -m bench.child bench.module.function RESULT.json '{"kwarg": ...}'`: runs one benchmark
step in a fresh interpreter (so that imports, container caches and the botocore/redis hooks of one
step do not leak into another) and writes what it returns to RESULT.json as JSON."""

from __future__ import annotations

import importlib
import json
import sys


def main() -> None:
    target, out_path, raw_kwargs = sys.argv[1], sys.argv[2], sys.argv[3]
    module_name, function_name = target.rsplit(".", 1)
    function = getattr(importlib.import_module(module_name), function_name)
    result = function(**json.loads(raw_kwargs))
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, default=str)


if __name__ == "__main__":
    main()
