"""Password hashing (shop_shared.passwords): argon2id, salted, verification never raises; with the
profile AWS runs (no PASSWORD_HASH_PROFILE), not the test stacks' cheap one (tests/conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from argon2 import PasswordHasher

from shop_shared import passwords
from shop_shared.passwords import (
    burn_verification_time,
    hash_password,
    needs_rehash,
    verify_password,
    weakness,
)

PASSWORD = "correct-horse-battery"


def _use_profile(monkeypatch: pytest.MonkeyPatch, name: str | None) -> None:
    if name is None:
        monkeypatch.delenv("PASSWORD_HASH_PROFILE", raising=False)
    else:
        monkeypatch.setenv("PASSWORD_HASH_PROFILE", name)
    passwords._hasher.cache_clear()
    passwords._dummy_hash.cache_clear()


@pytest.fixture(autouse=True)
def production_profile(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _use_profile(monkeypatch, None)
    yield
    passwords._hasher.cache_clear()  # the next test reads the suite's profile again
    passwords._dummy_hash.cache_clear()


def test_without_a_profile_hashes_are_argon2id_with_rfc_9106_low_memory_costs() -> None:
    # RFC 9106's second recommended option: t=3 passes, m=64 MiB, p=4 lanes.
    assert hash_password(PASSWORD).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_the_test_profile_is_argon2s_cheapest_and_its_hashes_are_upgraded_by_the_real_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _use_profile(monkeypatch, "CHEAPEST")
    cheap = hash_password(PASSWORD)
    assert cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    _use_profile(monkeypatch, None)
    assert verify_password(cheap, PASSWORD)
    assert needs_rehash(cheap) is True  # the next login stores a hash with the real costs


def test_an_unknown_profile_is_refused_rather_than_taken_for_another(monkeypatch: pytest.MonkeyPatch) -> None:
    _use_profile(monkeypatch, "cheapest")
    with pytest.raises(ValueError, match="PASSWORD_HASH_PROFILE='cheapest'"):
        hash_password(PASSWORD)


def test_a_hash_is_argon2id_and_does_not_contain_the_password() -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$")
    assert PASSWORD not in hashed


def test_the_right_password_verifies_and_a_wrong_one_does_not() -> None:
    hashed = hash_password(PASSWORD)
    assert verify_password(hashed, PASSWORD) is True
    assert verify_password(hashed, PASSWORD.upper()) is False
    assert verify_password(hashed, "") is False


def test_hashes_are_salted() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    assert verify_password(first, PASSWORD) and verify_password(second, PASSWORD)


def test_unicode_passwords_work() -> None:
    hashed = hash_password("pässwörd-🔑-密码")
    assert verify_password(hashed, "pässwörd-🔑-密码")
    assert not verify_password(hashed, "passwörd-🔑-密码")


def test_a_corrupt_or_foreign_hash_does_not_verify_and_does_not_raise() -> None:
    for bad in (
        "",
        "not-a-hash",
        "$2b$12$abcdefghijklmnopqrstuuOpcCp4B9sBYFK5.xf0dwVq0kyPq1Ma",
        "$argon2id$v=19$",
    ):
        assert verify_password(bad, PASSWORD) is False


def test_weaker_hashes_are_flagged_for_rehashing() -> None:
    assert needs_rehash(hash_password(PASSWORD)) is False
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert verify_password(weak, PASSWORD)
    assert needs_rehash(weak) is True


def test_burn_verification_time_accepts_any_password_and_takes_as_long_as_a_verification() -> None:
    # Called for unknown usernames: it must never fail, whatever the client typed ...
    for password in ("", PASSWORD, "x" * 128, "🔑"):
        assert burn_verification_time(password) is None
    # ... and must cost what checking a real user's password costs, or the answer's speed tells
    # which usernames exist. The fastest of a few runs: a busy machine only slows runs down.
    hashed = hash_password(PASSWORD)

    def fastest(run: Callable[[], object]) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return min(times)

    verify = fastest(lambda: verify_password(hashed, "wrong-password"))
    burn = fastest(lambda: burn_verification_time("wrong-password"))
    assert burn >= 0.5 * verify, f"burn {burn * 1000:.1f} ms, a real verification {verify * 1000:.1f} ms"


# --- the password rule (DESIGN "Accounts and sessions": 8-128, not common, not the username) ----


@pytest.mark.parametrize(
    "password",
    [
        "        ",  # eight spaces
        "12345678",
        "password",
        "Password",  # case does not make a common password strong
        "iloveyou",
        "qwertyuiop",
        "  password  ",
    ],
)
def test_common_or_blank_passwords_are_weak(password: str) -> None:
    assert weakness(password, username="jane_doe", email="jane@example.com") is not None


def test_the_username_or_the_email_local_part_is_weak() -> None:
    assert weakness("Jane_Doe_1984", username="jane_doe_1984", email="x@example.com") is not None
    assert weakness("jane.smith.home", username="someone", email="Jane.Smith.Home@example.com") is not None


# 128 characters: the longest allowed (one character repeated 128 times is refused, see below).
LONGEST = ("correct-horse-battery-" * 6)[:128]


@pytest.mark.parametrize(
    "password",
    ["correct-horse-battery", "pw-4f3a9c-secret", "Tr0ub4dor&3x", LONGEST, "aaaaaaab", "zxcvb 12345"],
)
def test_ordinary_passwords_are_fine(password: str) -> None:
    assert weakness(password, username="jane_doe", email="jane@example.com") is None


@pytest.mark.parametrize("password", ["short7!", "x" * 129])
def test_a_password_outside_8_to_128_characters_is_weak(password: str) -> None:
    assert weakness(password, username="jane_doe", email="jane@example.com") is not None


@pytest.mark.parametrize(
    "password",
    [
        "aaaaaaaa",
        "AAAAAAAAAAAA",
        "p" * 128,
        "abababab",
        "abcabcabc",
        "x1x1x1x1x1",
        "12345678",
        "hgfedcba",
        "qrstuvwxyz",
    ],
)
def test_one_character_or_a_short_block_repeated_or_a_straight_run_is_weak(password: str) -> None:
    # "aaaaaaaa" was accepted (issue 26, item 7): it is in no common-password list.
    assert weakness(password, username="jane_doe", email="jane@example.com") is not None


@pytest.mark.parametrize(
    "password",
    ["correct\x00horse-battery", "correct-horse\nbattery", "tab\there-ok-not", "del\x7fete-me-now"],
)
def test_control_characters_are_refused(password: str) -> None:
    assert weakness(password, username="jane_doe", email="jane@example.com") is not None


def test_the_common_list_comes_from_the_package_and_is_large() -> None:
    from shop_shared.passwords import common_passwords

    assert len(common_passwords()) >= 10_000


def test_importing_the_module_does_not_load_the_list() -> None:
    import subprocess
    import sys

    code = "import sys, shop_shared.passwords; print('zxcvbn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # loaded on the first password set, not at cold start
