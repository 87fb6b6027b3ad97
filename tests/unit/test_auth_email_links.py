"""The links in account e-mails open the storefront, which is one static page with hash routes."""

from __future__ import annotations

import pytest

import auth_emails
from shop_shared.config import get_settings


@pytest.fixture
def storefront(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STOREFRONT_URL", "https://shop.example/")
    get_settings.cache_clear()
    yield "https://shop.example"
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("kind", "page"), [("verify_email", "verify-email"), ("password_reset", "reset-password")]
)
def test_a_mailed_link_is_a_hash_route_of_the_storefront(storefront: str, kind: str, page: str) -> None:
    # A path such as /verify-email is served by no static host (S3 answers 403, the local stack 404);
    # a hash route is, and its token never reaches a server's log or a Referer header.
    assert auth_emails.link(kind, "t0k+/=") == f"{storefront}/#/{page}?token=t0k%2B%2F%3D"


def test_the_email_changed_notice_names_both_addresses_and_carries_no_link(storefront: str) -> None:
    mail = auth_emails.render(
        "email_changed", to="jane@example.com", first_name="Jane", new_email="m@example.net"
    )
    assert (mail.to, mail.subject) == ("jane@example.com", "Your e-mail address was changed")
    for part in (mail.text, mail.html):
        assert "jane@example.com" in part and "m@example.net" in part
        assert storefront not in part and "href" not in part
    verify = auth_emails.render("verify_email", to="jane@example.com", first_name="Jane", token="t")
    assert f'href="{storefront}/#/verify-email?token=t"' in verify.html  # the links are still there
