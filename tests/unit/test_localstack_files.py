"""localstack/: what the compose file starts, checked without Docker, and the build without the
layer (tools/inline_layer.py) for LocalStack plans that have no Lambda layers."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from samcli.yamlhelper import yaml_dump, yaml_parse

from sam_runner.template import ROOT

COMPOSE = ROOT / "localstack" / "docker-compose.yml"
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+)")


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")))


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_the_localstack_image_is_pinned_to_a_calendar_version() -> None:
    image = compose()["services"]["localstack"]["image"]
    name, _, tag = image.partition(":")
    assert name == "localstack/localstack"
    assert re.fullmatch(r"20\d\d\.\d\d\.\d+", tag), image  # YYYY.MM.patch, not latest nor a variable


def test_every_image_has_a_fixed_tag() -> None:
    for name, service in compose()["services"].items():
        if "image" in service and "build" not in service:
            tag = service["image"].partition(":")[2]
            assert tag and tag != "latest" and "$" not in tag, name


def test_the_auth_token_comes_from_the_shell_and_is_required() -> None:
    env = _environment(compose()["services"]["localstack"])
    assert re.fullmatch(r"\$\{LOCALSTACK_AUTH_TOKEN:\?[^}]*\}", env["LOCALSTACK_AUTH_TOKEN"])


def test_no_service_takes_the_hosts_redis_port() -> None:
    """`make test` and `make run` use the host's Redis on 6379."""
    for name, service in compose()["services"].items():
        for mapping in service.get("ports", []):
            host_port = str(mapping).rsplit(":", 2)[-2]
            assert host_port != "6379", f"{name}: {mapping}"


def test_no_container_installs_packages_when_it_starts() -> None:
    for name, service in compose()["services"].items():
        started = " ".join(
            str(part) for part in [service.get("command") or "", service.get("entrypoint") or ""]
        )
        assert "pip" not in started and "apt" not in started, name
    dockerfile = (ROOT / "localstack" / "standin.Dockerfile").read_text(encoding="utf-8")
    cmd = [line for line in dockerfile.splitlines() if line.startswith(("CMD", "ENTRYPOINT"))]
    assert cmd and not any("pip" in line for line in cmd)
    assert "--require-hashes" in dockerfile  # what the build installs is the lock's


def test_the_standins_image_installs_the_locks_pins() -> None:
    def pins(path: Path) -> dict[str, str]:
        found = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            match = PIN.match(line)
            if match:
                found[match.group(1).lower()] = match.group(2)
        return found

    image = pins(ROOT / "localstack" / "standin-requirements.txt")
    lock = pins(ROOT / "requirements" / "dev.lock")
    assert set(image) == {"werkzeug", "markupsafe"}
    assert {name: lock[name] for name in image} == image


def test_the_localstack_volume_is_not_committed() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "localstack/volume/state.json"], cwd=ROOT, check=False
    ).returncode
    assert ignored == 0


# ------------------------------------------------------------------ the build without the layer
def _fake_build(tmp_path: Path) -> Path:
    """A `sam build` output in miniature: the template with built folders, the layer's python/."""
    doc = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    build = tmp_path / "build"
    for logical_id, resource in doc["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = logical_id
            (build / logical_id).mkdir(parents=True)
            (build / logical_id / "handler.py").write_text("# the function's own code\n")
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = logical_id
            shutil.copytree(
                ROOT / "layers" / "shared" / "shop_shared", build / logical_id / "python" / "shop_shared"
            )
    (build / "template.yaml").write_text(yaml_dump(doc), encoding="utf-8")
    return build


def test_inlining_puts_the_layer_into_every_function_and_removes_it(tmp_path: Path) -> None:
    from tools.inline_layer import inline

    build = _fake_build(tmp_path)
    changed = inline(build)

    doc = yaml_parse((build / "template.yaml").read_text(encoding="utf-8"))
    functions = {k: v for k, v in doc["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert sorted(changed) == sorted(functions)
    assert "Layers" not in doc["Globals"]["Function"]
    assert not [k for k, v in doc["Resources"].items() if v["Type"] == "AWS::Serverless::LayerVersion"]
    for logical_id, resource in functions.items():
        assert "Layers" not in resource["Properties"], logical_id
        assert (build / logical_id / "shop_shared" / "aws.py").is_file(), logical_id
        assert (build / logical_id / "handler.py").is_file(), logical_id
    assert "SharedLayer" not in (build / "template.yaml").read_text(encoding="utf-8")
    assert inline(build) == []  # a second run finds nothing to do
