"""What the goals tests share beyond the root conftest: the clock held early or in the middle
of a month."""

import datetime as dt

import pytest
import time_machine

# The 3rd of June 2031: before the plans' deadline in every zone.
EARLY_JUNE = dt.datetime(2031, 6, 3, 12, tzinfo=dt.UTC)
# The 16th: every goal of the month under way, every plan's deadline gone.
MID_JUNE = dt.datetime(2031, 6, 16, 12, tzinfo=dt.UTC)


@pytest.fixture
def early_june():
    """The clock held at the 3rd of June 2031, noon UTC (for the plans' tests:
    `pytest.mark.usefixtures("early_june")`)."""
    with time_machine.travel(EARLY_JUNE, tick=False):
        yield


@pytest.fixture
def mid_june():
    """The clock held at the 16th of June 2031, noon UTC."""
    with time_machine.travel(MID_JUNE, tick=False):
        yield
