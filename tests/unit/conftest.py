"""Fixtures of the unit tests (the shared ones are in tests/conftest.py).

- `sample_confirmation_lines`: what the confirmation of the sample order
  (events/email-order-created.json) says, in its text and its HTML alike: rendered
  (test_email_rendering) and as sent through SES (test_email_sender).
"""

from __future__ import annotations

import pytest


@pytest.fixture
def sample_confirmation_lines() -> tuple[str, ...]:
    return (
        "Hello Ada,",
        "Wireless Mouse x 2 = $59.98",
        "x 1 = $1,029.99",
        "Total: $1,089.97",
        "Payment method: Credit card",
    )
