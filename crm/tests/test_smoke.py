import pytest
from django.db import connection


@pytest.mark.sqlite
@pytest.mark.django_db
def test_database_vendor_matches_mode():
    import os

    expected = "sqlite" if os.environ.get("TEST_DATABASE") == "sqlite" else "postgresql"
    assert connection.vendor == expected
