"""CSV text: one place for the formula rule and for writing rows out a chunk at a time.

A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return) as a formula: a
token named `=HYPERLINK(...)` would become a link in the auditor's copy. Each such cell gets a
leading apostrophe, which keeps it text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 1000


def neutralised(cell: object) -> str:
    """The cell as text (None as empty); a leading formula character is defused."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def csv_chunks(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The header, then the rows, as CSV text of ROWS_PER_CHUNK rows a piece: a long export
    streams in pieces of a steady size instead of being built in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for count, cells in enumerate(rows, start=1):
        writer.writerow([neutralised(cell) for cell in cells])
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
