"""The lock files (`make lock`): every transitive dependency pinned with hashes, for the dev
environment and for the Lambda layer, and in step with pyproject.toml, their one source."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {
    "dev": ROOT / "requirements/dev.lock",
    "layer": ROOT / "layers/shared/requirements.txt",
    "checkov": ROOT / "requirements/checkov.lock",
}
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)")


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\[=<>~! ]", requirement, maxsplit=1)[0]).lower()


def pins(lock: Path) -> dict[str, str]:
    found = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            found[_name(match.group(1))] = match.group(2)
    return found


def declared(*, extra: str | None = None, group: str | None = None) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    if group:
        requirements = project["dependency-groups"][group]
    elif extra:
        requirements = project["project"]["optional-dependencies"][extra]
    else:
        requirements = project["project"]["dependencies"]
    return {
        _name(r): r.split("==", 1)[1]
        for r in requirements
        if "==" in r and not r.startswith("serverless-shop")
    }


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_locked_package_has_a_pinned_version_and_hashes(lock: str) -> None:
    text = LOCKS[lock].read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])  # after the two header lines
    assert len(entries) > 10
    for entry in entries:
        assert PIN.match(entry), entry.splitlines()[0]
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_the_locks_agree_with_pyproject() -> None:
    """A pin changed in pyproject.toml without `make lock` fails here, not in a deploy."""
    dev, layer = pins(LOCKS["dev"]), pins(LOCKS["layer"])
    for name, version in declared().items():
        assert layer.get(name) == version, f"layer lock: {name} {layer.get(name)} != pyproject {version}"
        assert dev.get(name) == version, f"dev lock: {name} {dev.get(name)} != pyproject {version}"
    for extra in ("local", "dev"):
        for name, version in declared(extra=extra).items():
            assert dev.get(name) == version, f"dev lock: {name} {dev.get(name)} != pyproject {version}"
    for name, version in declared(group="checkov").items():
        assert pins(LOCKS["checkov"]).get(name) == version


def test_the_layer_gets_exactly_what_the_tests_ran_with() -> None:
    """The layer is resolved within the dev lock: botocore in Lambda is the botocore of the tests."""
    dev = pins(LOCKS["dev"])
    differing = {name: (v, dev.get(name)) for name, v in pins(LOCKS["layer"]).items() if dev.get(name) != v}
    assert differing == {}
