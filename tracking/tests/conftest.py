"""What the tracking tests share beyond the root conftest and tracking.tests.helpers."""

import pytest

from tracking.tests.helpers import make_tenant


@pytest.fixture
def tenant(db):
    """A tenant ("shop") that accepts the shop's origin."""
    return make_tenant()
