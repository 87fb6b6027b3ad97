"""The SAM-template runner (local/sam_runner) knows nothing of the shop (issue 29): none of its
modules imports the shop's local code (shop_local), the shared layer (shop_shared) or a function's
modules. Read from the source with `ast`, so an import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "local" / "sam_runner"
# the shop's packages: its local code, its shared layer, and every top-level module or package of
# every function's CodeUri (what Lambda puts on sys.path)
SHOP_PACKAGES = {"shop_local", "shop_shared"} | {
    path.stem
    for function in (ROOT / "functions").iterdir()
    if function.is_dir()
    for path in function.iterdir()
    if (path.suffix == ".py" or (path / "__init__.py").exists()) and path.stem != "__init__"
}


def imported_packages(source: str) -> set[str]:
    """The top-level package of every absolute import in `source`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_runner_imports_nothing_of_the_shop() -> None:
    modules = sorted(RUNNER.rglob("*.py"))
    assert len(modules) > 10  # the runner is where this test looks
    offending = {
        str(module.relative_to(ROOT)): sorted(imported_packages(module.read_text()) & SHOP_PACKAGES)
        for module in modules
    }
    assert {module: names for module, names in offending.items() if names} == {}


def test_the_check_sees_an_import_inside_a_function() -> None:
    source = "def main():\n    from shop_local.stack import configure_logging\n"
    assert imported_packages(source) & SHOP_PACKAGES == {"shop_local"}
