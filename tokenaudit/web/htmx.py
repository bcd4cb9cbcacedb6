"""Answering htmx: is this htmx, a fragment or the page (and Vary on it), a message to the
status area, and redirecting the whole window rather than swapping a page into a fragment."""

from flask import Response, redirect, request


def is_htmx_request() -> bool:
    """Whether htmx sent this request (rather than the browser loading a page)."""
    return request.headers.get("HX-Request") == "true"


def wants_fragment() -> bool:
    """An htmx swap asks for a fragment; a history restore after a cache miss needs the page."""
    return is_htmx_request() and request.headers.get("HX-History-Restore-Request") != "true"


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


def redirect_window_or_page(url: str, message: str) -> Response:
    """Send the user to `url`: the whole window for htmx (never that page inside a table), a
    plain redirect for a page load."""
    return redirect_window(url, message) if is_htmx_request() else redirect(url)
