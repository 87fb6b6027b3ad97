"""The curl session of docs/api.md ("A whole session with curl"), run as written against the stack.

The block is taken from the page itself, so the page cannot drift from what the API does: the
test sets only what the reader sets (`API`, and `ADMIN_PASSWORD`, the one terminal 1 gave
`SHOP_ADMIN_PASSWORD`), then checks what the session did through the API and the mailbox.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

from shop_local.testing import ShopStack

API_PAGE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# What the test appends to the session, to learn which user and order it made.
REPORT = 'echo; printf "SESSION %s=%s\\n" USER_ID "$USER_ID" EMAIL "$EMAIL" ORDER_ID "$ORDER_ID"\n'


def session_block(page: Path = API_PAGE) -> str:
    """The ```bash block under the page's "A whole session with curl" heading."""
    text = page.read_text(encoding="utf-8")
    section = text.split("## A whole session with curl", 1)[1]
    match = re.search(r"^```bash\n(.*?)^```", section, flags=re.M | re.S)
    assert match, f"{page}: no ```bash block under 'A whole session with curl'"
    return match.group(1)


def run_session(stack: ShopStack) -> tuple[str, dict[str, str]]:
    env = {**os.environ, "API": stack.url, "ADMIN_PASSWORD": stack.admin_password}
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + session_block() + REPORT],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"the session failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    made = dict(re.findall(r"^SESSION (\w+)=(.*)$", done.stdout, flags=re.M))
    return done.stdout, made


def mails_to(stack: ShopStack, email: str) -> list[dict[str, Any]]:
    return [mail for mail in stack.emails() if email in mail["to"]]


def test_the_documented_session_runs_as_written_and_twice(stack: ShopStack) -> None:
    admin = stack.admin_token()
    runs = [run_session(stack), run_session(stack)]

    users = {made["USER_ID"] for _, made in runs}
    assert len(users) == 2, "a second run makes a user of its own"
    for output, made in runs:
        order = stack.get(f"/orders/{made['ORDER_ID']}", token=admin).json()
        assert order["user_id"] == made["USER_ID"]
        assert order["status"] == "shipped"
        assert [step["status"] for step in order["history"]] == ["pending", "confirmed", "shipped"]
        assert order["history"][1].get("note") == "packed"
        assert order["tracking"]["carrier"] == "UPS"
        assert [item["product_id"] for item in order["items"]] == [1, 7]

        number = order["order_number"]
        subjects = [mail["subject"] for mail in mails_to(stack, made["EMAIL"])]
        assert subjects[0].startswith("Verify your e-mail")
        assert sorted(subject for subject in subjects if number in subject) == sorted(
            [f"Order Confirmation - {number}", f"Order Confirmed - {number}", f"Order Shipped - {number}"]
        )
        # the session waited for those e-mails before it printed them
        assert f"Order Shipped - {number}" in output
        # logout answers 204; the logged-out token is refused afterwards
        assert re.search(r"^204$", output, flags=re.M)
        assert '"code":"ended_session"' in output.split("SESSION USER_ID", 1)[0].rstrip().splitlines()[-1]
