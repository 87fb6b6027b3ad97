"""Fold the Lambda layer into every function of a `sam build` output, for emulators without layers.

LocalStack runs Lambda layers only on the plans that include them (localstack/README.md); our
functions' code and dependencies live in `SharedLayer`. After `sam build`, this copies the built
layer's `python/` folder into each function's built folder (where Lambda puts the function's own
code on sys.path, `/var/task`) and removes the layer from the built template, so `sam deploy` of
`.aws-sam/build/template.yaml` creates functions without layers that import the same packages.

    .venv/bin/sam build && .venv/bin/python tools/inline_layer.py .aws-sam/build

Only the build output changes; template.yaml and the AWS deploy keep the layer.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_dump, yaml_parse

LAYER = "AWS::Serverless::LayerVersion"
FUNCTION = "AWS::Serverless::Function"


def _without(layers: list[Any], layer_ids: set[str]) -> list[Any]:
    return [layer for layer in layers if not (isinstance(layer, dict) and layer.get("Ref") in layer_ids)]


def inline(build_dir: Path) -> list[str]:
    """Inline every layer of `build_dir/template.yaml`; returns the functions changed."""
    template_path = build_dir / "template.yaml"
    doc = yaml_parse(template_path.read_text(encoding="utf-8"))
    resources: dict[str, Any] = doc["Resources"]
    layers = {
        logical_id: build_dir / str(resource["Properties"]["ContentUri"]) / "python"
        for logical_id, resource in resources.items()
        if resource.get("Type") == LAYER
    }
    if not layers:
        return []
    function_globals = (doc.get("Globals") or {}).get("Function") or {}
    global_layers = {
        layer["Ref"]
        for layer in function_globals.get("Layers", [])
        if isinstance(layer, dict) and "Ref" in layer
    }
    if "Layers" in function_globals:
        remaining = _without(function_globals["Layers"], set(layers))
        if remaining:
            function_globals["Layers"] = remaining
        else:
            del function_globals["Layers"]

    changed = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != FUNCTION:
            continue
        props = resource.setdefault("Properties", {})
        own = {
            layer["Ref"] for layer in props.get("Layers", []) if isinstance(layer, dict) and "Ref" in layer
        }
        used = (own | global_layers) & set(layers)
        if "Layers" in props:
            props["Layers"] = _without(props["Layers"], set(layers))
            if not props["Layers"]:
                del props["Layers"]
        code_dir = build_dir / str(props["CodeUri"])
        for layer_id in sorted(used):
            if not layers[layer_id].is_dir():
                raise SystemExit(f"{layers[layer_id]} is missing: run `sam build` first")
            shutil.copytree(layers[layer_id], code_dir, dirs_exist_ok=True)
        if used:
            changed.append(logical_id)
    for layer_id in layers:
        del resources[layer_id]
    template_path.write_text(yaml_dump(doc), encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dir", nargs="?", default=".aws-sam/build", help="default: .aws-sam/build")
    args = parser.parse_args(argv)
    changed = inline(Path(args.build_dir))
    print(f"layer folded into {len(changed)} functions: {', '.join(changed) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
