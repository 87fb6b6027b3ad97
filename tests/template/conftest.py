"""Fixtures of the template checks (the helpers are in sam_template.py)."""

from __future__ import annotations

import pytest
from sam_template import PARAMETER_SETS, Deploy, deployed


@pytest.fixture(params=sorted(PARAMETER_SETS), ids=sorted(PARAMETER_SETS))
def each_deploy(request: pytest.FixtureRequest) -> Deploy:
    """The template as deployed with each parameter set."""
    return deployed(PARAMETER_SETS[request.param])
