"""Small helpers for answering htmx requests."""

from flask import Response, request


def wants_fragment() -> bool:
    """An htmx swap asks for a fragment; a history restore after a cache miss needs the page."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def vary_on_htmx(response: Response) -> Response:
    """The same URL answers with a page or a fragment, so caches must key on HX-Request."""
    response.vary.add("HX-Request")
    return response


STATUS_AREA = "#status"


def to_status_area(response: Response) -> Response:
    """An htmx answer that is a message goes to the status area, never into a table or slot."""
    response.headers["HX-Retarget"] = STATUS_AREA
    response.headers["HX-Reswap"] = "innerHTML"
    return response


def redirect_window(url: str, message: str, status: int = 401) -> Response:
    """Send the whole browser window to `url`, never swapping that page into a fragment."""
    response = Response(message, status=status, mimetype="text/plain")
    response.headers["HX-Redirect"] = url
    return response
