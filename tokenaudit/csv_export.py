"""CSV downloads: one place for the formula rule and for streaming rows out."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: object) -> str:
    """The cell as text; a leading formula character is defused with an apostrophe."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def csv_lines(header: list[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The CSV text line by line, so a long export streams instead of building in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for cells in rows:
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([neutralised(cell) for cell in cells])
    yield buffer.getvalue()
