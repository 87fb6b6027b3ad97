"""JWT issue and verification (shop_shared.tokens): pure logic (the secret's fetch from Secrets
Manager is in tests/component/test_tokens_secret.py)."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from shop_shared.errors import Unauthorized
from shop_shared.tokens import (
    TokenClaims,
    bearer_token,
    decode_token,
    digest,
    issue_token,
    new_secret,
    revocation,
)

SECRET = "s" * 48
CLAIMS = {"user_id": "u-1", "username": "jane", "email": "jane@example.com", "role": "customer"}


def token(**overrides: object) -> str:
    arguments: dict[str, object] = {**CLAIMS, "secret": SECRET, "ttl_seconds": 3600, **overrides}
    issued, _ = issue_token(**arguments)  # type: ignore[arg-type]
    return issued


def refused(encoded: str, secret: str = SECRET) -> Unauthorized:
    with pytest.raises(Unauthorized) as raised:
        decode_token(encoded, secret)
    assert raised.value.status == 401
    return raised.value


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_an_issued_token_decodes_to_its_claims() -> None:
    issued, claims = issue_token(**CLAIMS, secret=SECRET, ttl_seconds=600, now=int(time.time()))
    decoded = decode_token(issued, SECRET)
    assert decoded == claims
    assert decoded.exp - decoded.iat == 600
    assert decoded.jti
    payload = jwt.decode(issued, SECRET, algorithms=["HS256"])
    assert {"user_id", "username", "email", "role", "iat", "exp"} <= set(payload)
    assert jwt.get_unverified_header(issued)["alg"] == "HS256"


def test_each_token_has_its_own_id() -> None:
    assert decode_token(token(), SECRET).jti != decode_token(token(), SECRET).jti


def test_a_tampered_payload_is_refused() -> None:
    header, payload, signature = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = b64({**claims, "role": "admin"})
    assert refused(f"{header}.{forged}.{signature}").code == "invalid_token"


def test_a_tampered_signature_is_refused() -> None:
    header, payload, signature = token().split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    refused(f"{header}.{payload}.{flipped}")


def test_an_expired_token_is_refused() -> None:
    expired = token(now=int(time.time()) - 7200, ttl_seconds=3600)
    assert refused(expired).code == "token_expired"


def test_a_token_signed_with_another_secret_is_refused() -> None:
    refused(token(secret="another-secret-that-is-long-enough!!"))


def test_alg_none_is_refused() -> None:
    claims = {**CLAIMS, "iat": int(time.time()), "exp": int(time.time()) + 600}
    unsigned = jwt.encode(claims, "", algorithm="none")
    refused(unsigned)
    # also with a hand-made header and an empty signature
    refused(f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.")


def test_other_algorithms_are_refused_even_with_the_right_secret() -> None:
    claims = {**CLAIMS, "iat": int(time.time()), "exp": int(time.time()) + 600}
    refused(jwt.encode(claims, SECRET, algorithm="HS512"))


@pytest.mark.parametrize("missing", ["user_id", "username", "email", "role", "exp", "iat"])
def test_tokens_missing_a_claim_are_refused(missing: str) -> None:
    claims = {**CLAIMS, "iat": int(time.time()), "exp": int(time.time()) + 600}
    del claims[missing]
    refused(jwt.encode(claims, SECRET, algorithm="HS256"))


def test_an_unknown_role_is_refused() -> None:
    refused(token(role="superuser"))


def test_garbage_is_refused() -> None:
    for text in ("", "abc", "a.b.c", "...."):
        refused(text)


def test_bearer_token_parses_the_authorization_header() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer   abc ") == "abc"
    assert bearer_token("BEARER x") == "x"
    for header, code in (
        (None, "missing_token"),
        ("", "missing_token"),
        ("abc.def.ghi", "invalid_token"),
        ("Basic dXNlcjpwYXNz", "invalid_token"),
        ("Bearer ", "invalid_token"),
    ):
        with pytest.raises(Unauthorized) as raised:
            bearer_token(header)
        assert raised.value.code == code


# --- revocation and opaque tokens (pure) ---------------------------------------------------------


def claims(**overrides: object) -> TokenClaims:
    fields: dict[str, object] = {
        "user_id": "u1",
        "username": "jane",
        "email": "jane@example.com",
        "role": "customer",
        "iat": 0,
        "exp": 900,
        "sid": "s1",
        "ver": 2,
        **overrides,
    }
    return TokenClaims(**fields)  # type: ignore[arg-type]


def test_a_token_of_the_current_version_and_a_live_session_is_not_revoked() -> None:
    assert revocation(claims(), {"is_active": True, "token_version": 2}) is None
    assert revocation(claims(ver=0, sid=""), {"is_active": True}) is None  # before either existed


def test_revocation_reasons() -> None:
    assert revocation(claims(), None) == "unknown_user"
    assert revocation(claims(), {"is_active": False, "token_version": 2}) == "inactive_user"
    assert revocation(claims(ver=1), {"is_active": True, "token_version": 2}) == "revoked_token"
    ended = {"is_active": True, "token_version": 2, "ended_sessions": {"s1:1799999999", "s9:1"}}
    assert revocation(claims(), ended) == "ended_session"
    assert revocation(claims(sid="s2"), ended) is None


def test_the_version_and_session_survive_encoding() -> None:
    token, issued = issue_token(
        user_id="u1",
        username="jane",
        email="j@example.com",
        role="customer",
        secret=SECRET,
        ttl_seconds=60,
        sid="s7",
        ver=3,
    )
    decoded = decode_token(token, SECRET)
    assert (decoded.sid, decoded.ver) == ("s7", 3) == (issued.sid, issued.ver)


def test_opaque_tokens_are_random_and_stored_as_a_digest() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and len(first) >= 43
    assert digest(first) == digest(first) != digest(second)
    assert first not in digest(first)
