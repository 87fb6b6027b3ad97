"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile), and the password
rule of the contract (`weakness`).

`PASSWORD_HASH_PROFILE` names one of argon2-cffi's profiles (`argon2.profiles`): unset, the RFC
9106 low-memory one (t=3, m=64 MiB, p=4: about 0.2 s of CPU a hash here), which is what AWS runs:
the template declares no such variable (tests/template/test_template_matches_code.py). The test
stacks set `CHEAPEST`, argon2-cffi's profile "for testing purposes" (a thousandth of that), because
the suite hashes and verifies a few thousand passwords (docs/testing.md, "Password hashing in the
tests"). A hash made with a weaker profile is rehashed with the configured one at the next login
(`needs_rehash`)."""

from __future__ import annotations

import itertools
import os
import unicodedata
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

PROFILE_VARIABLE = "PASSWORD_HASH_PROFILE"
PROFILES = {"RFC_9106_LOW_MEMORY": profiles.RFC_9106_LOW_MEMORY, "CHEAPEST": profiles.CHEAPEST}


@cache
def _hasher() -> PasswordHasher:
    name = os.environ.get(PROFILE_VARIABLE) or "RFC_9106_LOW_MEMORY"
    if name not in PROFILES:  # a typo must not silently mean some other cost
        raise ValueError(f"{PROFILE_VARIABLE}={name!r}: expected one of {', '.join(PROFILES)}")
    return PasswordHasher.from_parameters(PROFILES[name])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


@cache
def _dummy_hash() -> str:
    return _hasher().hash("not-a-real-password-only-for-timing")


def burn_verification_time(password: str) -> None:
    """Spend the time of one verification, so an unknown username answers as slowly as a wrong password."""
    verify_password(_dummy_hash(), password)


# --- the password rule -------------------------------------------------------------------------

MIN_LENGTH, MAX_LENGTH = 8, 128
# "aaaaaaaa", "abababab", "abcabcab": one block of at most this many characters, repeated.
MAX_REPEATED_BLOCK = 3


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of zxcvbn's frequency lists (lowercase), a maintained list.

    Loaded on the first password set, never at import: importing zxcvbn costs ~70-90 ms on this
    machine (its package builds every ranked dictionary), which login and the authorizer, which
    never set a password, should not pay at cold start (docs/architecture.md, "Passwords")."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def weakness(password: str, *, username: str, email: str) -> str | None:
    """Why `password` may not be used (a message for the client), or None when it may.

    The rule (docs/architecture.md, "Passwords"): 8-128 characters; no control characters (NUL,
    line breaks, tabs: they cannot be typed into a password field, and NUL truncates it in C
    code); not only spaces; not one short block repeated (`aaaaaaaa`, `abababab`) nor a straight
    run (`12345678`, `hgfedcba`); not the username or the e-mail's local part; not one of the
    30,000 most common passwords. NIST SP 800-63B 5.1.1.2 asks for exactly these checks against
    "commonly-used, expected, or compromised" values ("repetitive or sequential characters")."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return f"Password must be {MIN_LENGTH} to {MAX_LENGTH} characters long"
    if any(unicodedata.category(character) == "Cc" for character in password):
        return "Password must not contain control characters (such as NUL or line breaks)"
    folded = password.strip().casefold()
    if not folded:
        return "Password must not be only spaces"
    if _repeats_a_short_block(folded) or _is_a_straight_run(folded):
        return "Password must not be a short pattern repeated (aaaaaaaa, abababab) or a simple run (12345678)"
    if folded in {username.strip().casefold(), email.partition("@")[0].strip().casefold()}:
        return "Password must not be your username or the name of your e-mail address"
    if folded in common_passwords():
        return "Password is too common, choose a less guessable one"
    return None


def _repeats_a_short_block(text: str) -> bool:
    """One block of at most MAX_REPEATED_BLOCK characters, repeated (the last copy may be cut)."""
    return any(
        text == (text[:size] * (len(text) // size + 1))[: len(text)]
        for size in range(1, MAX_REPEATED_BLOCK + 1)
    )


def _is_a_straight_run(text: str) -> bool:
    """Each character the one after (or before) the previous one: `12345678`, `abcdefgh`, `hgfedcba`."""
    steps = {ord(after) - ord(before) for before, after in itertools.pairwise(text)}
    return steps in ({1}, {-1})
