"""What the functions may import: the layer's pins, never the local stack's packages."""

from __future__ import annotations

import re
import tomllib

from sam_runner.lambda_runtime import AWSLAMBDARIC
from sam_runner.template import ROOT, Template

LOCAL_ONLY = {"moto", "werkzeug", "pyyaml", "fakeredis", "awslambdaric"}


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>~! ]", requirement.strip(), maxsplit=1)[0].lower()


def _project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]  # type: ignore[no-any-return]


def test_the_local_stacks_packages_are_neither_runtime_dependencies_nor_in_the_layer() -> None:
    project = _project()
    runtime = {_name(item) for item in project["dependencies"]}  # type: ignore[attr-defined]
    # the layer's lock: one `name==version \` line per package, then its hashes and `# via` notes
    layer_pins = {
        _name(line): line.split("==")[1].split()[0]
        for line in (ROOT / "layers" / "shared" / "requirements.txt").read_text().splitlines()
        if line[:1].isalnum() and "==" in line
    }
    layer = set(layer_pins)
    local = {_name(item) for item in project["optional-dependencies"]["local"]}  # type: ignore[index]

    assert runtime & LOCAL_ONLY == set()
    assert layer & LOCAL_ONLY == set()
    assert local >= LOCAL_ONLY
    # every runtime dependency is in the layer the functions get on AWS, with the project's pin
    pins = {_name(item): item.split("==")[1] for item in project["dependencies"]}  # type: ignore[attr-defined]
    assert {name: layer_pins.get(name) for name in runtime} == pins


def test_the_environments_runtime_interface_client_has_the_projects_pin() -> None:
    local = _project()["optional-dependencies"]["local"]  # type: ignore[index]
    assert AWSLAMBDARIC in local


def test_every_function_gets_the_shared_layers_folder() -> None:
    template = Template()
    for spec in template.functions().values():
        assert template.function_layers(spec) == [ROOT / "layers" / "shared"], spec.logical_id
