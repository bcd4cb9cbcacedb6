"""One structured line per request on the `tokenaudit.requests` logger, and no secrets in logs.

The line is logfmt (`key=value`, values quoted when needed) so it can be grepped and parsed;
the same fields are attached to the record for a JSON formatter. Paths never carry the query
string (queries can hold secrets), and anything shaped like a token value is masked.
"""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, Response, g, request

from ..text import logfmt
from ..tokens import mask_token_values

log = logging.getLogger("tokenaudit.requests")

# A query string in a request line Werkzeug could not parse: it may hold spaces and quotes, so
# everything after the "?" goes.
QUERY_STRING = re.compile(r"\?.*", re.DOTALL)


def signed_in_user_id() -> int | None:
    """The session user's id, if this request loaded one (never loads it just for the log)."""
    user = g.get("_login_user")  # where Flask-Login keeps the user it loaded for this request
    return user.id if user is not None and user.is_authenticated else None


def request_fields(response: Response) -> dict[str, object]:
    """What the request line says about this request."""
    started = g.get("request_started")
    api_token = g.get("api_token")
    api_user = g.get("api_user")
    return {
        "method": request.method,
        "path": mask_token_values(request.path),
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        "user_id": api_user.id if api_user is not None else signed_in_user_id(),
        "token": api_token.prefix if api_token is not None else None,
        "remote_addr": request.remote_addr,
    }


class DropWerkzeugAccessLines(logging.Filter):
    """The development server's own access line repeats ours, with the query string: drop it.
    Its error lines quote a request line it cannot parse (`Bad request syntax ('GET /?q=a b
    HTTP/1.1')`): keep them, cut at the query string.

    Werkzeug puts the client's address and the time in front of its format before logging
    (`127.0.0.1 - - [date] "%s" %s %s`), so the format is recognised by its end.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.endswith('"%s" %s %s'):
            return False
        if isinstance(record.args, tuple):
            record.args = tuple(
                QUERY_STRING.sub("?…", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def register_request_log(app: Flask) -> None:
    """Time every request and log its line once the response is ready."""

    @app.before_request
    def start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        fields = request_fields(response)
        log.info(logfmt(fields), extra={"request": fields})
        return response

    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, DropWerkzeugAccessLines) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(DropWerkzeugAccessLines())
