"""Refresh tokens' shape (auth_sessions.RefreshToken): pure, no AWS."""

from __future__ import annotations

import pytest

from auth_sessions import RefreshToken
from shop_shared.errors import Unauthorized


def test_a_refresh_token_round_trips() -> None:
    token = RefreshToken("0b6f-user", "a1b2", "s3cr-et_")
    assert RefreshToken.parse(str(token)) == token
    assert RefreshToken.parse(f"  {token}  ") == token


@pytest.mark.parametrize("text", ["", "nope", "a.b", "a..c", ".b.c", "a.b.c.d", "a.b."])
def test_malformed_refresh_tokens_are_401(text: str) -> None:
    with pytest.raises(Unauthorized) as refused:
        RefreshToken.parse(text)
    assert refused.value.code == "invalid_refresh_token"
