"""Progress bars for management commands (tqdm, on the command's stderr)."""

from django.core.management.base import BaseCommand
from tqdm import tqdm


class _ProgressStream:
    """tqdm redraws a line with "\\r"; Django's OutputWrapper would end every write with "\\n"."""

    def __init__(self, wrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")

    def flush(self) -> None:
        self.wrapper.flush()


def progress_bar(command: BaseCommand, *, desc: str, unit: str, total: int | None = None) -> tqdm:
    """A bar on `command`'s stderr, silent at verbosity 0."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=_ProgressStream(command.stderr),
        disable=command.verbosity == 0,
        mininterval=0.2,
    )
