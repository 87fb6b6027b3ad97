"""Password hashing (shop_shared.passwords): argon2id, salted, verification never raises."""

from __future__ import annotations

import time
from collections.abc import Callable

from argon2 import PasswordHasher

from shop_shared.passwords import burn_verification_time, hash_password, needs_rehash, verify_password

PASSWORD = "correct-horse-battery"


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
