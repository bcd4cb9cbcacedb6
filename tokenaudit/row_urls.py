"""Per-row links for long tables: build the URL once, then put each row's id into it."""

from __future__ import annotations

from flask import Flask, url_for

# An id no row has, so it appears exactly once in the built URL.
_PLACEHOLDER = 987_654_321_012


class UrlForEachId:
    """`url_for(endpoint, field=id)` for many ids at the cost of one url_for call.

    url_for walks the URL map on every call; in a table of 50 rows with two links each that
    was half the fragment's rendering time at 100,000 tokens (see docs/benchmarks.md).
    """

    def __init__(self, endpoint: str, field: str) -> None:
        self._head, self._tail = url_for(endpoint, **{field: _PLACEHOLDER}).split(str(_PLACEHOLDER))

    def __call__(self, row_id: int) -> str:
        return f"{self._head}{int(row_id)}{self._tail}"


def register_row_urls(app: Flask) -> None:
    app.add_template_global(UrlForEachId, "url_for_each_id")
