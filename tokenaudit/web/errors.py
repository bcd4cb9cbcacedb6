"""Error responses: JSON under /api/, a fragment for htmx, a page otherwise. Never a bare 500."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import unquote_to_bytes

from flask import Flask, Response, abort, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from .htmx import to_status_area, wants_fragment
from .sign_in import log_auth_failure

log = logging.getLogger(__name__)

FRIENDLY_MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have permission to do that.",
    404: "There is nothing here.",
    405: "That method is not allowed here.",
    413: "The request is too large.",
    415: "That content type is not accepted here.",
    429: "Too many attempts. Wait a little and try again.",
    500: "Something went wrong on our side. Nothing was changed.",
}


def _message(error: HTTPException) -> str:
    default = type(error).description
    if error.description and error.description != default:
        return error.description
    return FRIENDLY_MESSAGES.get(error.code, error.name)


def error_response(error: HTTPException) -> Response:
    """Render an HTTP error in the form the client asked for."""
    code = error.code or 500
    # Only sign-ins and secret-scanning reports are rate limited: both are unauthenticated.
    if code == 429:
        log_auth_failure(f"too many attempts ({error.description})")
    message = _message(error)
    if request.path.startswith("/api/"):
        response = jsonify(detail=message)
    elif wants_fragment():
        response = to_status_area(
            Response(render_template("errors/_message.html", message=message))
        )
    else:
        response = Response(render_template("errors/error.html", code=code, message=message))
    response.status_code = code
    # Keep headers such as Retry-After (429) and Allow (405).
    for header, value in error.get_headers():
        if header.lower() != "content-type":
            response.headers[header] = value
    return response


def handle_csrf_error(error: CSRFError) -> Response:
    error.description = (
        "This form has expired or did not come from this site. Reload the page and try again."
    )
    return error_response(error)


def handle_unexpected_error(error: Exception) -> Response:
    log.exception("Unhandled error on %s %s", request.method, request.path)
    return error_response(InternalServerError())


TEXT_BODIES = ("application/x-www-form-urlencoded", "application/json", "multipart/form-data")


def _multipart_field_values(body: bytes, boundary: str) -> Iterator[bytes]:
    """The raw bytes of each non-file field of a multipart body."""
    decoder = MultipartDecoder(boundary.encode("latin-1"))
    decoder.receive_data(body)
    decoder.receive_data(None)
    is_field, chunks = False, []
    while not isinstance(event := decoder.next_event(), NeedData | Epilogue):
        if isinstance(event, Field | File):
            is_field, chunks = isinstance(event, Field), []
        elif isinstance(event, Data) and is_field:
            chunks.append(event.data)
            if not event.more_data:
                yield b"".join(chunks)


def _text_of_body() -> Iterator[bytes]:
    """The parts of the body that are text: the whole JSON, each form value."""
    body = request.get_data(cache=True)
    if request.mimetype == "application/json":
        yield body
    elif request.mimetype == "multipart/form-data":
        try:
            yield from _multipart_field_values(body, request.mimetype_params.get("boundary", ""))
        except ValueError:
            abort(400, "The multipart body is malformed.")
    else:
        yield unquote_to_bytes(body.replace(b"+", b" "))


def refuse_chunked_bodies_at_the_limit() -> None:
    """413 for a chunked body (no Content-Length) that reaches MAX_CONTENT_LENGTH.

    Werkzeug refuses a Content-Length over the limit itself, but stops reading a chunked body
    at the limit without a word: the form's first megabyte would be taken for all of it.
    """
    limit = request.max_content_length
    # Without Content-Length or Transfer-Encoding a request has no body (RFC 9112, 6.3): a GET
    # is not read at all (reading its empty body cost ~15 µs of every API call).
    chunked = (
        request.content_length is None
        and "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )
    if chunked and limit is not None and len(request.get_data(cache=True)) >= limit:
        abort(413)


def refuse_invalid_utf8() -> None:
    """400 for a form, multipart or JSON body that is not UTF-8.

    Werkzeug would otherwise drop such a form silently (so the client hears "form expired"),
    keep %FF escapes as literal text, or (multipart) replace bad bytes by U+FFFD: a name
    would be stored mangled.
    """
    # Not `request.content_length`: a chunked body (gunicorn, the development server) has none.
    if request.mimetype not in TEXT_BODIES:
        return
    try:
        for text in _text_of_body():
            text.decode("utf-8")
    except UnicodeDecodeError:
        abort(400, "The request body is not valid UTF-8 text.")


def refuse_file_uploads() -> None:
    """400 for a multipart body carrying a file: no form here takes one, and Flask-WTF reads
    files before text fields, so a file named "email" would reach the code in place of text."""
    if request.mimetype == "multipart/form-data" and request.files:
        abort(400, "This site takes no files: send the form's fields as text.")


def refuse_json_outside_the_api() -> None:
    """415 for a JSON body sent to a page: its forms read form fields only. Flask-WTF would
    otherwise take the JSON as the form, numbers, lists and objects in place of text (a 500)."""
    if request.is_json and not request.path.startswith("/api/"):
        abort(415, "This page takes form posts, not JSON; the JSON API is under /api/v2/.")


def api_redirect_in_json(response: Response) -> Response:
    """A redirect under /api/ (Werkzeug's 308 to the path with its trailing slash) says so in
    JSON, as every other API answer does, instead of an HTML page."""
    if request.path.startswith("/api/") and response.status_code == 308:
        location = response.headers["Location"]
        body = jsonify(detail=f"This endpoint's address ends with a slash: {location}")
        response.set_data(body.get_data())
        response.mimetype = "application/json"
    return response


def register_error_handlers(app: Flask) -> None:
    # First of all, before CSRFProtect reads the form, so the client learns the real problem.
    app.before_request_funcs.setdefault(None, [])[0:0] = [
        refuse_chunked_bodies_at_the_limit,
        refuse_invalid_utf8,
        refuse_file_uploads,
        refuse_json_outside_the_api,
    ]
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, error_response)
    app.register_error_handler(Exception, handle_unexpected_error)
    app.after_request(api_redirect_in_json)
