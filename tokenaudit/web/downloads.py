"""A CSV download: streamed, named with the moment it was made, never cached."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response, stream_with_context

from ..clock import utcnow
from ..csv_export import csv_chunks


def csv_download(name: str, header: Iterable[str], rows: Iterable[Iterable[object]]) -> Response:
    """`rows` as a CSV attachment `<name>-<UTC time>.csv`, written as the client reads it.

    `rows` is read while the body streams (stream_with_context keeps the request's app and
    session open), so a generator's query runs then, a chunk at a time.
    """
    body = stream_with_context(csv_chunks(header, rows))
    response = Response(body, mimetype="text/csv; charset=utf-8")
    filename = f"{name}-{utcnow():%Y%m%d-%H%M%S}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
