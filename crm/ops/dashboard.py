"""What the ops dashboard is made of: sections of figures, a table and charts, each figure
linking to the admin list behind it. The core's sections (crm/ops/core.py) and each app's (its
`ops.py`, found at start-up like `panels.py`) register here, so the core names no app:

    @ops_section(order=50)
    def ingestion(now: datetime) -> Section: ...

A section reads with a fixed number of queries whatever the data, and never fails the page: a
section that raises is shown as such (and logged), the others as usual.
"""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import timezone

from crm.charts import BarChart, column_chart

logger = logging.getLogger(__name__)

GOOD, WARN, BAD = "good", "warn", "bad"


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    href: str = ""  # the admin list (or page) behind the figure
    state: str = ""  # GOOD, WARN, BAD or nothing to say
    note: str = ""


@dataclass(frozen=True)
class Cell:
    text: str
    href: str = ""
    state: str = ""


@dataclass(frozen=True)
class Table:
    caption: str
    header: list[str]
    rows: list[list[Cell]]
    empty: str = "Nothing here."

    @property
    def labelled(self) -> list[list[tuple[str, Cell]]]:
        """Each row's cells with their column's name (a phone shows rows as labelled cards)."""
        return [list(zip(self.header, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Chart:
    label: str
    chart: BarChart
    unit: str  # what a column counts: "tasks", "conflicts"
    total: int = 0
    label_every: int = 1  # under the columns, every nth label (the figures table has them all)


def count_chart(
    label: str, unit: str, items: list[tuple[str, int]], *, label_every: int | None = None
) -> Chart:
    """Columns of counts (label, count), scaled to the largest."""
    top = max([value for _, value in items] + [1])
    total = sum(value for _, value in items)
    bars = column_chart([(name, value, unit) for name, value in items], scale_max=top)
    every = label_every or max(1, -(-len(items) // 7))
    return Chart(label, bars, unit, total, label_every=every)


def last_hour(now: dt.datetime) -> tuple[list[str], str]:
    """The labels of the last 60 whole minutes in the viewer's zone, and the zone's name."""
    local = timezone.localtime(now)
    labels = [(local - dt.timedelta(minutes=back)).strftime("%H:%M") for back in range(60, 0, -1)]
    return labels, local.tzname()


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    # A template included under the section, with its `section` (the dead letters' actions).
    actions: str = ""
    context: dict = field(default_factory=dict)
    failed: bool = False

    @property
    def state(self) -> str:
        states = {figure.state for figure in self.figures} | {
            cell.state for table in self.tables for row in table.rows for cell in row
        }
        return BAD if self.failed or BAD in states else WARN if WARN in states else GOOD


SectionReader = Callable[[dt.datetime], Section | None]
_sections: list[tuple[int, SectionReader]] = []


def ops_section(order: int) -> Callable[[SectionReader], SectionReader]:
    def decorator(reader: SectionReader) -> SectionReader:
        if all(known is not reader for _, known in _sections):
            _sections.append((order, reader))
        return reader

    return decorator


def read_sections(now: dt.datetime) -> list[Section]:
    shown = []
    for _, reader in sorted(_sections, key=lambda item: item[0]):
        try:
            section = reader(now)
        except Exception:
            logger.exception("ops section %s failed", reader.__qualname__)
            title = (reader.__doc__ or reader.__name__).strip().splitlines()[0]
            section = Section(title=title, failed=True)
        if section is not None:
            shown.append(section)
    return shown
