"""The auth rules (auth_service, auth_accounts, auth_profiles, auth_sessions, the authorizer) on the
in-memory fakes of their ports: registration, login, refresh rotation, password change and reset,
e-mail verification, addresses and who may do what, with no moto, no Redis (deployed without it:
no login throttle) and no HTTP. The fakes behave like DynamoDB;
tests/component/test_auth_*_contract.py proves it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from botocore.exceptions import ClientError
from shop_fakes.auth import InMemorySessions, InMemoryUsers, fake_adapters

import auth_accounts
import auth_adapters
import auth_authorizer
import auth_emails
import auth_profiles
import auth_service
import auth_sessions
from shop_local.testing import DEFAULT_ADDRESS as ADDRESS
from shop_shared import passwords, tokens
from shop_shared.api import Caller
from shop_shared.config import get_settings
from shop_shared.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from shop_shared.models import AddressRequest, RegisterRequest, UserPatch

SECRET = "unit-test-signing-secret-of-at-least-32-chars"
PASSWORD = "correct-horse-battery"


@dataclass
class Auth:
    users: InMemoryUsers
    sessions: InMemorySessions
    mails: list[dict[str, str]] = field(default_factory=list)

    def register(self, username: str = "jane", email: str | None = None, **extra: Any) -> Caller:
        user = auth_service.register(
            RegisterRequest(
                username=username,
                email=email or f"{username}@example.com",
                first_name="Jane",
                last_name="Doe",
                password=PASSWORD,
            ),
            **extra,
        )
        return Caller(user_id=user.id, username=user.username, email=user.email, role=user.role)

    def link(self, kind: str) -> str:
        """The token of the last e-mail of this kind."""
        return next(mail["token"] for mail in reversed(self.mails) if mail["kind"] == kind)


@pytest.fixture
def auth(monkeypatch: pytest.MonkeyPatch) -> Iterator[Auth]:
    monkeypatch.setenv("REDIS_URL", "none")  # deployed without Redis: no login throttle, no resend limit
    monkeypatch.setenv("JWT_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt")
    get_settings.cache_clear()
    monkeypatch.setattr(tokens, "jwt_secret", lambda: SECRET)
    monkeypatch.setattr(auth_sessions, "jwt_secret", lambda: SECRET)
    monkeypatch.setattr(auth_authorizer, "jwt_secret", lambda: SECRET)
    # A cheap argon2id: the same rules, microseconds instead of 0.2 s of CPU per hash.
    monkeypatch.setenv("PASSWORD_HASH_PROFILE", "CHEAPEST")
    passwords._hasher.cache_clear()
    passwords._dummy_hash.cache_clear()
    monkeypatch.setattr(auth_accounts, "RESET_ANSWER_FLOOR_SECONDS", 0.0)
    adapters = fake_adapters()
    monkeypatch.setattr(auth_adapters, "_adapters", adapters)
    assert isinstance(adapters.users, InMemoryUsers) and isinstance(adapters.sessions, InMemorySessions)
    fakes = Auth(adapters.users, adapters.sessions)
    # ADMIN's account as stored: admin-only writes check the stored role, not the caller's claims.
    adapters.users.create_user(
        {
            "id": ADMIN.user_id,
            "username": ADMIN.username,
            "email": ADMIN.email,
            "first_name": "Root",
            "last_name": "Admin",
            "role": "admin",
            "is_active": True,
            "email_verified": True,
            "token_version": 0,
            "created_at": "2026-01-01T00:00:00+00:00",
        }
    )

    def send(kind: str, *, to: str, first_name: str, token: str = "", **details: str) -> None:
        fakes.mails.append({"kind": kind, "to": to, "first_name": first_name, "token": token, **details})

    monkeypatch.setattr(auth_emails, "send", send)
    yield fakes
    get_settings.cache_clear()
    passwords._hasher.cache_clear()
    passwords._dummy_hash.cache_clear()


ADMIN = Caller(user_id="admin-1", username="admin_1", email="admin-1@example.com", role="admin")


def claims(access_token: str) -> tokens.TokenClaims:
    return tokens.decode_token(access_token, SECRET)


def bearer(access_token: str) -> str:
    return f"Bearer {access_token}"


def refused_code(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises((Unauthorized, BadRequest, Forbidden, NotFound, Conflict)) as refused:
        call(*args, **kwargs)
    return str(refused.value.code)


# ------------------------------------------------------------------------------------ registration


def test_a_new_user_is_unverified_and_gets_a_verification_link(auth: Auth) -> None:
    jane = auth.register("jane", "Jane@Example.com")
    user = auth_service.read_user(jane.user_id)
    assert (user.username, user.email, user.role, user.email_verified) == (
        "jane",
        "Jane@Example.com",
        "customer",
        False,
    )
    assert [(mail["kind"], mail["to"]) for mail in auth.mails] == [("verify_email", "Jane@Example.com")]
    stored = auth.users.get_profile(jane.user_id, ("password_hash",))
    assert stored is not None and stored["password_hash"] != PASSWORD


@pytest.mark.parametrize(
    ("username", "email", "code"),
    [("JANE", "other@example.com", "username_taken"), ("john", "JANE@example.COM", "email_taken")],
)
def test_a_taken_username_or_email_in_any_case_is_409(
    auth: Auth, username: str, email: str, code: str
) -> None:
    jane = auth.register("jane", "jane@example.com")
    assert refused_code(auth.register, username, email) == code
    # nothing of the refused user was written: its free username or e-mail is still free
    assert auth.users.user_id_for_username(username) == (jane.user_id if code == "username_taken" else None)
    assert auth.users.user_id_for_email(email) == (jane.user_id if code == "email_taken" else None)
    assert len(auth.mails) == 1  # the refused registration sent nothing


def test_a_registration_retried_with_the_same_body_gets_the_account_not_409(auth: Auth) -> None:
    # Issue 26, item 7: the first attempt stored the account but its answer was a 5xx or lost.
    jane = auth.register("jane", "jane@example.com")
    again = auth.register("jane", "JANE@example.com")
    assert again.user_id == jane.user_id
    assert [mail["kind"] for mail in auth.mails] == ["verify_email", "verify_email"]  # its link again
    request = RegisterRequest(
        username="jane", email="jane@example.com", first_name="J", last_name="D", password="another-pw-2026"
    )
    with pytest.raises(Conflict):  # not the same password: someone else
        auth_service.register(request)
    auth_accounts.verify_email(auth.link("verify_email"))
    assert refused_code(auth.register, "jane", "jane@example.com") == "username_taken"  # received


def test_a_registration_whose_verification_link_cannot_be_stored_still_succeeds(
    auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(*_: Any, **__: Any) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "PutItem")

    monkeypatch.setattr(auth.users, "issue_token", unavailable)
    jane = auth.register("jane", "jane@example.com")
    assert auth_service.read_user(jane.user_id).username == "jane"
    assert auth.mails == []  # the user asks for the link again (resend)


def test_a_verified_registration_sends_no_link(auth: Auth) -> None:
    auth.register("root", role="admin", verified=True)
    assert auth.mails == []


# ------------------------------------------------------------------------------------ login


def test_login_in_any_case_gives_a_token_of_the_user(auth: Auth) -> None:
    jane = auth.register("jane")
    token = auth_service.login("JaNe", PASSWORD)
    access = claims(token.access_token)
    assert (access.user_id, access.username, access.role, access.ver) == (jane.user_id, "jane", "customer", 0)
    assert auth_service.verify_token(bearer(token.access_token)).user_id == jane.user_id


def test_wrong_password_unknown_and_deactivated_users_get_the_same_401(auth: Auth) -> None:
    jane = auth.register("jane")
    assert refused_code(auth_service.login, "jane", "wrong-password-123") == "invalid_credentials"
    assert refused_code(auth_service.login, "nobody", PASSWORD) == "invalid_credentials"
    auth_profiles.update_user(ADMIN, jane.user_id, UserPatch(is_active=False))
    assert refused_code(auth_service.login, "jane", PASSWORD) == "invalid_credentials"


def test_login_upgrades_a_weaker_password_hash(auth: Auth) -> None:
    jane = auth.register("jane")
    weak = PasswordHasher(time_cost=1, memory_cost=32, parallelism=1).hash(PASSWORD)
    auth.users.update_profile(jane.user_id, {"password_hash": weak})
    auth_service.login("jane", PASSWORD)
    stored = auth.users.get_profile(jane.user_id, ("password_hash",))
    assert stored is not None and stored["password_hash"] != weak
    assert not passwords.needs_rehash(str(stored["password_hash"]))
    auth_service.login("jane", PASSWORD)  # the new hash checks the same password


# ------------------------------------------------------------------------------------ sessions


def test_refresh_rotates_and_a_reused_token_ends_the_session(auth: Auth) -> None:
    auth.register("jane")
    first = auth_service.login("jane", PASSWORD)
    second = auth_service.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert claims(second.access_token).sid == claims(first.access_token).sid  # the same session
    third = auth_service.refresh(second.refresh_token)

    assert refused_code(auth_service.refresh, first.refresh_token) == "refresh_token_reused"
    # the whole session ended: its newest refresh token and its access tokens too
    assert refused_code(auth_service.refresh, third.refresh_token) == "invalid_refresh_token"
    assert refused_code(auth_service.verify_token, bearer(third.access_token)) == "ended_session"


def test_other_sessions_survive_a_logout(auth: Auth) -> None:
    jane = auth.register("jane")
    phone, laptop = auth_service.login("jane", PASSWORD), auth_service.login("jane", PASSWORD)
    auth_sessions.logout(jane.user_id, phone.refresh_token)
    assert refused_code(auth_service.refresh, phone.refresh_token) == "invalid_refresh_token"
    assert refused_code(auth_service.verify_token, bearer(phone.access_token)) == "ended_session"
    auth_service.refresh(laptop.refresh_token)
    assert auth_service.verify_token(bearer(laptop.access_token)).username == "jane"
    assert refused_code(auth_sessions.logout, "someone-else", laptop.refresh_token) == "invalid_refresh_token"


def test_a_password_change_ends_every_session(auth: Auth) -> None:
    jane = auth.register("jane")
    token = auth_service.login("jane", PASSWORD)
    assert refused_code(
        auth_accounts.change_password, jane.user_id, "not-it-at-all", "brand-new-secret-1"
    ) == ("wrong_password")
    auth_accounts.change_password(jane.user_id, PASSWORD, "brand-new-secret-1")
    assert refused_code(auth_service.refresh, token.refresh_token) == "invalid_refresh_token"
    assert refused_code(auth_service.verify_token, bearer(token.access_token)) == "revoked_token"
    assert not any(sk.startswith("SESSION#") for _, sk in auth.users.table.items)
    assert refused_code(auth_service.login, "jane", PASSWORD) == "invalid_credentials"
    assert claims(auth_service.login("jane", "brand-new-secret-1").access_token).ver == 1


# ------------------------------------------------------------------------------------ password reset


def test_a_reset_link_sets_a_new_password_once_and_ends_the_sessions(auth: Auth) -> None:
    auth.register("jane", "jane@example.com", verified=True)
    token = auth_service.login("jane", PASSWORD)
    auth_accounts.request_password_reset("JANE@example.com")
    link = auth.link("password_reset")
    auth_accounts.confirm_password_reset(link, "brand-new-secret-2")
    assert refused_code(auth_service.refresh, token.refresh_token) == "invalid_refresh_token"
    auth_service.login("jane", "brand-new-secret-2")
    assert refused_code(auth_accounts.confirm_password_reset, link, "third-secret-333") == "invalid_token"


def test_a_reset_link_dies_with_a_password_change_and_unknown_emails_get_none(auth: Auth) -> None:
    jane = auth.register("jane", "jane@example.com", verified=True)
    auth_accounts.request_password_reset("nobody@example.com")
    assert auth.mails == []  # the same answer, no e-mail
    auth_accounts.request_password_reset("jane@example.com")
    auth_accounts.change_password(jane.user_id, PASSWORD, "brand-new-secret-3")
    link = auth.link("password_reset")
    assert refused_code(auth_accounts.confirm_password_reset, link, "fourth-secret-44") == "invalid_token"
    auth_service.login("jane", "brand-new-secret-3")


def _account_email_failures(output: str) -> list[str]:
    """The `Kind` of every AccountEmailFailed metric (EMF, one JSON line each) in the output."""
    return [
        json.loads(line)["Kind"]
        for line in output.splitlines()
        if line.startswith("{") and '"AccountEmailFailed"' in line
    ]


def test_an_account_email_ses_refuses_is_counted_for_the_alarm(
    auth: Auth, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """SES refusing the verification or reset e-mail (an IAM or identity problem after a deploy)
    leaves the account working but is never silent: the AccountEmailFailedAlarm watches this metric."""

    def refused(kind: str, **_: Any) -> None:
        error = {"Error": {"Code": "AccessDenied", "Message": "not authorized to perform ses:SendRawEmail"}}
        raise ClientError(error, "SendRawEmail")

    monkeypatch.setattr(auth_emails, "send", refused)
    jane = auth.register("jane", "jane@example.com")
    assert auth_service.read_user(jane.user_id).email_verified is False
    auth.users.update_profile(jane.user_id, {"email_verified": True})  # resets go to verified addresses
    auth_accounts.request_password_reset("jane@example.com")  # still answered as accepted
    assert _account_email_failures(capsys.readouterr().out) == ["verify_email", "password_reset"]


def test_a_reset_goes_only_to_a_verified_address(auth: Auth) -> None:
    # Issue 26, item 3: a reset link to an address nobody proved they read is an account takeover.
    jane = auth.register("jane", "jane@example.com")
    auth_accounts.request_password_reset("jane@example.com")  # answered as accepted, sends nothing
    assert [mail["kind"] for mail in auth.mails] == ["verify_email"]
    auth_accounts.verify_email(auth.link("verify_email"))
    auth_accounts.request_password_reset("jane@example.com")
    assert [(mail["kind"], mail["to"]) for mail in auth.mails][-1] == ("password_reset", "jane@example.com")
    assert auth_service.read_user(jane.user_id).email_verified is True


def test_a_stolen_access_token_cannot_move_the_account_to_another_address(auth: Auth) -> None:
    # Issue 26, item 3: the e-mail change needs the password, tells the old address, and the new
    # (unverified) address gets no reset link.
    jane = auth.register("jane", "jane@example.com", verified=True)
    with pytest.raises(Unprocessable) as missing:
        auth_profiles.update_user(jane, jane.user_id, UserPatch(email="mallory@example.com"))
    assert missing.value.code == "current_password_required"
    wrong = UserPatch(email="mallory@example.com", current_password="not-the-password")
    assert refused_code(auth_profiles.update_user, jane, jane.user_id, wrong) == "wrong_password"
    assert auth_service.read_user(jane.user_id).email == "jane@example.com"
    assert auth.mails == []

    moved = auth_profiles.update_user(
        jane, jane.user_id, UserPatch(email="mallory@example.com", current_password=PASSWORD)
    )
    assert (moved.email, moved.email_verified) == ("mallory@example.com", False)
    sent = [(mail["kind"], mail["to"]) for mail in auth.mails]
    assert ("email_changed", "jane@example.com") in sent
    assert ("verify_email", "mallory@example.com") in sent
    notice = next(mail for mail in auth.mails if mail["kind"] == "email_changed")
    assert notice["new_email"] == "mallory@example.com"
    auth_accounts.request_password_reset("mallory@example.com")
    assert "password_reset" not in [mail["kind"] for mail in auth.mails]


def test_an_admin_changes_a_users_email_without_their_password(auth: Auth) -> None:
    jane = auth.register("jane", "jane@example.com", verified=True)
    changed = auth_profiles.update_user(ADMIN, jane.user_id, UserPatch(email="jane.new@example.com"))
    assert changed.email == "jane.new@example.com"
    assert ("email_changed", "jane@example.com") in [(mail["kind"], mail["to"]) for mail in auth.mails]


def test_a_names_only_change_needs_no_password(auth: Auth) -> None:
    jane = auth.register("jane", "jane@example.com", verified=True)
    assert auth_profiles.update_user(jane, jane.user_id, UserPatch(first_name="Janet")).first_name == "Janet"
    same = auth_profiles.update_user(jane, jane.user_id, UserPatch(email="jane@example.com"))
    assert same.email_verified is True


# ------------------------------------------------------------------------------------ e-mail verification


def test_a_verification_link_works_once(auth: Auth) -> None:
    jane = auth.register("jane")
    link = auth.link("verify_email")
    assert auth_accounts.verify_email(link) == jane.user_id
    assert auth_service.read_user(jane.user_id).email_verified is True
    assert refused_code(auth_accounts.verify_email, link) == "invalid_token"
    assert refused_code(auth_accounts.resend_verification, jane.user_id) == "email_already_verified"


def test_an_expired_verification_link_is_refused(auth: Auth, monkeypatch: pytest.MonkeyPatch) -> None:
    jane = auth.register("jane")
    issued = auth_accounts._now()
    ttl = get_settings().email_verification_ttl_seconds
    monkeypatch.setattr(auth_accounts, "_now", lambda: issued + ttl)
    assert refused_code(auth_accounts.verify_email, auth.link("verify_email")) == "invalid_token"
    assert auth_service.read_user(jane.user_id).email_verified is False
    assert refused_code(auth_accounts.verify_email, "not-a-token-we-sent") == "invalid_token"


def test_a_link_to_an_address_changed_since_is_refused(auth: Auth) -> None:
    jane = auth.register("jane", "jane@example.com")
    old_link = auth.link("verify_email")
    auth_profiles.update_user(
        jane, jane.user_id, UserPatch(email="janet@example.com", current_password=PASSWORD)
    )
    assert refused_code(auth_accounts.verify_email, old_link) == "invalid_token"
    assert auth.mails[-1]["to"] == "janet@example.com"
    auth_accounts.verify_email(auth.link("verify_email"))
    user = auth_service.read_user(jane.user_id)
    assert (user.email, user.email_verified) == ("janet@example.com", True)


def test_an_email_of_another_user_is_409(auth: Auth) -> None:
    jane = auth.register("jane", "jane@example.com")
    auth.register("john", "john@example.com")
    assert refused_code(
        auth_profiles.update_user,
        jane,
        jane.user_id,
        UserPatch(email="John@Example.com", current_password=PASSWORD),
    ) == ("email_taken")
    assert auth_service.read_user(jane.user_id).email == "jane@example.com"


# ------------------------------------------------------------------------------------ addresses


def address(**fields: Any) -> AddressRequest:
    return AddressRequest(**{**ADDRESS, **fields})


def defaults(caller: Caller) -> dict[str, bool]:
    listed = auth_service.list_addresses(caller, caller.user_id).addresses
    return {a.street: bool(a.is_default) for a in listed}


def test_the_default_address_rule(auth: Auth) -> None:
    jane = auth.register("jane")
    assert auth_service.list_addresses(jane, jane.user_id).addresses == []
    home = auth_service.add_address(jane, jane.user_id, address(street="1 Home St"))
    assert home.is_default is True  # the first is the default whatever the request says
    work = auth_service.add_address(jane, jane.user_id, address(street="2 Work St"))
    assert defaults(jane) == {"1 Home St": True, "2 Work St": False}
    auth_service.add_address(jane, jane.user_id, address(street="3 New St", is_default=True))
    assert defaults(jane) == {"1 Home St": False, "2 Work St": False, "3 New St": True}

    auth_profiles.update_address(jane, jane.user_id, work.id, address(street="2 Work Ave", is_default=True))
    assert defaults(jane) == {"1 Home St": False, "2 Work Ave": True, "3 New St": False}
    # the default stays the default until another takes its place
    auth_profiles.update_address(jane, jane.user_id, work.id, address(street="2 Work Ave", is_default=False))
    assert defaults(jane)["2 Work Ave"] is True

    auth_profiles.delete_address(jane, jane.user_id, work.id)  # the newest remaining one takes over
    assert defaults(jane) == {"1 Home St": False, "3 New St": True}
    assert refused_code(auth_profiles.delete_address, jane, jane.user_id, work.id) == "address_not_found"
    assert (
        refused_code(auth_profiles.update_address, jane, jane.user_id, work.id, address())
        == "address_not_found"
    )


def test_customers_see_and_change_only_their_own_account(auth: Auth) -> None:
    jane, john = auth.register("jane"), auth.register("john")
    auth_service.add_address(john, john.user_id, address())
    assert refused_code(auth_service.get_user, jane, john.user_id) == "forbidden"
    assert refused_code(auth_service.list_addresses, jane, john.user_id) == "forbidden"
    assert refused_code(auth_service.add_address, jane, john.user_id, address()) == "forbidden"
    assert (
        refused_code(auth_profiles.update_user, jane, john.user_id, UserPatch(first_name="X")) == "forbidden"
    )
    (johns,) = auth_service.list_addresses(john, john.user_id).addresses
    assert refused_code(auth_profiles.delete_address, jane, john.user_id, johns.id) == "forbidden"
    # an admin reads anyone, and learns that an unknown user is unknown
    assert auth_service.get_user(ADMIN, john.user_id).username == "john"
    assert len(auth_service.list_addresses(ADMIN, john.user_id).addresses) == 1
    assert refused_code(auth_service.get_user, ADMIN, str(uuid.uuid4())) == "user_not_found"
    assert refused_code(auth_service.list_addresses, ADMIN, str(uuid.uuid4())) == "user_not_found"


# ------------------------------------------------------------------------------------ PATCH and admin


def test_only_an_admin_changes_is_active_and_role(auth: Auth) -> None:
    jane = auth.register("jane")
    for patch in (UserPatch(is_active=False), UserPatch(role="admin")):
        assert refused_code(auth_profiles.update_user, jane, jane.user_id, patch) == "forbidden"
    changed = auth_profiles.update_user(jane, jane.user_id, UserPatch(first_name="Janet"))
    assert (changed.first_name, changed.role, changed.is_active) == ("Janet", "customer", True)
    assert auth_profiles.update_user(ADMIN, jane.user_id, UserPatch(role="admin")).role == "admin"


def test_an_admin_cannot_deactivate_or_demote_themself(auth: Auth) -> None:
    root = auth.register("root", role="admin", verified=True)
    for patch in (UserPatch(is_active=False), UserPatch(role="customer")):
        assert refused_code(auth_profiles.update_user, root, root.user_id, patch) == "cannot_change_own_admin"


@pytest.mark.parametrize(
    "patch",
    [UserPatch(role="admin"), UserPatch(is_active=True), UserPatch(first_name="Mallory")],
)
def test_a_demoted_admin_cannot_use_a_token_still_saying_admin(auth: Auth, patch: UserPatch) -> None:
    # Issue 26, item 1: within the authorizer's cache window the caller still reads `role: admin`.
    mallory = auth.register("mallory", role="admin", verified=True)
    jane = auth.register("jane")
    auth_profiles.update_user(ADMIN, mallory.user_id, UserPatch(role="customer"))
    assert mallory.is_admin  # the cached claims
    assert (
        refused_code(auth_profiles.update_user, mallory, mallory.user_id, UserPatch(role="admin"))
        == "forbidden"
    )
    assert refused_code(auth_profiles.update_user, mallory, jane.user_id, patch) == "forbidden"
    assert auth_service.read_user(mallory.user_id).role == "customer"
    assert auth_service.read_user(jane.user_id).first_name == "Jane"


def test_a_deactivated_admin_cannot_reactivate_themself_or_change_anyone(auth: Auth) -> None:
    mallory = auth.register("mallory", role="admin", verified=True)
    jane = auth.register("jane")
    auth_profiles.update_user(ADMIN, mallory.user_id, UserPatch(is_active=False))
    assert (
        refused_code(auth_profiles.update_user, mallory, mallory.user_id, UserPatch(is_active=True))
        == "forbidden"
    )
    assert (
        refused_code(auth_profiles.update_user, mallory, jane.user_id, UserPatch(is_active=False))
        == "forbidden"
    )
    assert auth_service.read_user(mallory.user_id).is_active is False
    assert auth_service.read_user(jane.user_id).is_active is True


def test_a_customer_promoted_since_their_token_may_act_as_admin_once_the_claims_say_so(auth: Auth) -> None:
    # The stored role is necessary, and the claims too: a token saying `customer` stays a customer's.
    jane, john = auth.register("jane"), auth.register("john")
    auth_profiles.update_user(ADMIN, jane.user_id, UserPatch(role="admin"))
    assert (
        refused_code(auth_profiles.update_user, jane, john.user_id, UserPatch(is_active=False)) == "forbidden"
    )
    promoted = Caller(user_id=jane.user_id, username="jane", email=jane.email, role="admin")
    assert auth_profiles.update_user(promoted, john.user_id, UserPatch(is_active=False)).is_active is False


def test_deactivation_ends_every_token_and_session(auth: Auth) -> None:
    jane = auth.register("jane")
    token = auth_service.login("jane", PASSWORD)
    auth_profiles.update_user(ADMIN, jane.user_id, UserPatch(is_active=False))
    assert refused_code(auth_service.verify_token, bearer(token.access_token)) == "inactive_user"
    assert refused_code(auth_service.refresh, token.refresh_token) == "invalid_refresh_token"
    with pytest.raises(Exception, match="Unauthorized"):
        auth_authorizer.authorize(
            bearer(token.access_token), "arn:aws:execute-api:us-east-1:1:api/prod/GET/x"
        )


def test_the_authorizer_passes_the_stored_role_and_verification_on(auth: Auth) -> None:
    jane = auth.register("jane")
    token = auth_service.login("jane", PASSWORD)
    auth_accounts.verify_email(auth.link("verify_email"))
    auth_profiles.update_user(ADMIN, jane.user_id, UserPatch(role="admin"))
    allowed = auth_authorizer.authorize(
        bearer(token.access_token), "arn:aws:execute-api:us-east-1:1:api/prod/GET/x"
    )
    assert allowed["context"]["role"] == "admin"  # as stored now, not as in the token
    assert allowed["context"]["email_verified"] == "true"


def test_only_an_admin_searches_users(auth: Auth) -> None:
    jane = auth.register("jane", "jane@example.com")
    auth.register("bob", "jazz@example.com")
    assert refused_code(auth_profiles.search_users, jane, "ja", 10, None) == "forbidden"
    page = auth_profiles.search_users(ADMIN, "JA", 1, None)
    assert [user.username for user in page.users] == ["jane"]
    assert page.next is not None
    rest = auth_profiles.search_users(ADMIN, "ja", 10, page.next)
    assert [user.username for user in rest.users] == ["bob"]
    assert refused_code(auth_profiles.search_users, ADMIN, "ja", 10, "not-a-cursor") == "invalid_cursor"


def test_a_search_with_no_query_lists_the_users(auth: Auth) -> None:
    auth.register("jane", "jane@example.com")
    auth.register("bob", "zed@example.com")
    for query in ("", "   "):
        assert [user.username for user in auth_profiles.search_users(ADMIN, query, 10, None).users] == [
            "admin_1",
            "bob",
            "jane",
        ]
