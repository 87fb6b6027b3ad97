"""Dev data that survives a restart (issue 28): `shop dev` keeps the emulator's tables and mailbox
in a state file; `--fresh` starts empty; an unusable state file is set aside, never a crash."""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from sam_runner import dev_state
from sam_runner.emulator import ACCOUNT_ID
from sam_runner.template import ROOT
from shop_local.testing import ShopStack


def test_a_user_registered_before_a_restart_logs_in_after_it_and_fresh_empties_it(
    redis_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "moto-state.pickle"
    with ShopStack(redis_url=redis_url, state_file=state) as before:
        user = before.new_user()
        mails_before = len(before.emails())
    assert before.exit_code == 0
    assert state.is_file()

    banner = before.log_text()
    assert "kept across restarts: users, orders, sessions and the mailbox" in banner
    assert "make run FRESH=1" in banner and "SHOP_ADMIN_PASSWORD" in banner
    assert "POST    /auth/login" in banner

    with ShopStack(redis_url=redis_url, state_file=state) as after:
        assert after.login(user["username"], user["password"])
        assert len(after.emails()) >= mails_before  # the mailbox too
        invoked = _invoke_login_against(after, user, tmp_path)
    assert "dev state restored" in after.log_text()
    # `shop invoke --stack URL` found the running stack's tables by itself
    assert invoked.returncode == 0, invoked.stderr[-2000:]
    assert json.loads(invoked.stdout)["statusCode"] == 200

    with ShopStack(redis_url=redis_url, state_file=state, fresh=True) as fresh:
        response = fresh.post(
            "/auth/login", json={"username": user["username"], "password": user["password"]}
        )
        assert response.status_code == 401
        assert fresh.emails() == []


def _invoke_login_against(
    stack: ShopStack, user: dict[str, str], folder: Path
) -> subprocess.CompletedProcess[str]:
    event = json.loads((ROOT / "events" / "auth-login.json").read_text(encoding="utf-8"))
    event["body"] = json.dumps({"username": user["username"], "password": user["password"]})
    path = folder / "login.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key not in ("AWS_ENDPOINT_URL", "REDIS_URL")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "shop_local.cli",
            "invoke",
            "AuthFunction",
            "-e",
            str(path),
            "--stack",
            stack.url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_a_test_stack_keeps_nothing(redis_url: str) -> None:
    with ShopStack(redis_url=redis_url) as stack:
        assert stack.state_file is None
        assert "dev state" not in stack.log_text()


@pytest.mark.parametrize(
    "content",
    [b"not a pickle at all", pickle.dumps({"format": dev_state.FORMAT + 1}), pickle.dumps(["old", "shape"])],
    ids=["corrupt", "another-format", "another-shape"],
)
def test_an_unusable_state_file_is_set_aside_with_a_message(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "moto-state.pickle"
    state.write_bytes(content)

    with caplog.at_level(logging.WARNING, logger="shop_local.dev_state"):
        assert dev_state.restore(state, ACCOUNT_ID) is False

    assert not state.exists()
    aside = list(tmp_path.glob("moto-state.pickle.incompatible-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert "cannot be used" in caplog.text and "starting with empty tables and mailbox" in caplog.text


def test_a_state_file_of_another_moto_is_set_aside(tmp_path: Path) -> None:
    state = tmp_path / "moto-state.pickle"
    state.write_bytes(pickle.dumps({"format": dev_state.FORMAT, "moto": "0.0.1", "backends": {}}))

    assert dev_state.restore(state, ACCOUNT_ID) is False
    assert list(tmp_path.glob("moto-state.pickle.incompatible-*"))
