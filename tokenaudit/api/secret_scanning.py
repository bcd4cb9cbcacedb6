"""`POST /api/v2/secret-scanning/`: a secret scanner reports tokens it found in public."""

import logging

from flask import Response, abort, current_app, jsonify, request

from ..extensions import limiter
from ..outbox import deliver
from ..secret_scanning import MalformedReport, act_on_report, parse_report
from ..secret_scanning_keys import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    KeysFileProblem,
    signature_problem,
    trusted_keys,
)
from ..tokens import mask_token_values
from ..web.sign_in import log_auth_failure
from . import bp

log = logging.getLogger(__name__)

# GitHub's key identifiers are 64 hex digits.
MAX_LOGGED_KEY_ID = 100


def _rate_limit() -> str:
    return current_app.config["SECRET_SCANNING_RATE_LIMIT"]


def deliver_after_response(response: Response, email_ids: list[int]) -> None:
    """Deliver these outbox emails once the response has been sent.

    For a client that should not wait on the SMTP server as well as on many revokes; the
    emails are committed already, so any that fail here are retried like the others.
    """
    app = current_app._get_current_object()

    def deliver_all() -> None:
        with app.app_context():
            for email_id in email_ids:
                deliver(email_id)

    if email_ids:
        response.call_on_close(deliver_all)


@bp.post("/secret-scanning/")
@limiter.limit(_rate_limit)
def secret_scanning_report():
    """Revoke every live token in a signed report; answer each value's label."""
    keys_file = current_app.config["SECRET_SCANNING_KEYS_FILE"]
    if not keys_file:
        abort(404, "Secret scanning is not set up on this server.")
    try:
        keys = trusted_keys(keys_file)
    except KeysFileProblem as problem:
        log.error("secret-scanning keys file unusable: %s", problem)
        abort(503, "Secret scanning is unavailable: its keys cannot be read. Nothing was changed.")
    body = request.get_data(cache=True)
    key_id = request.headers.get(KEY_ID_HEADER)
    problem = signature_problem(keys, key_id, request.headers.get(SIGNATURE_HEADER), body)
    if problem is not None:
        # The header is the client's: no token value in it reaches the log, and only so much.
        logged_key_id = mask_token_values(key_id)[:MAX_LOGGED_KEY_ID] if key_id else None
        log_auth_failure(f"secret-scanning report refused: {problem}", key_id=logged_key_id)
        abort(401, "The report is not signed by a trusted key. Nothing was changed.")
    try:
        entries = parse_report(body)
    except MalformedReport as malformed:
        abort(400, f"{malformed} Nothing was changed.")
    outcome = act_on_report(entries)
    # It repeats the reported values: never cached (every API answer is no-store).
    response = jsonify(outcome.labels)
    # The revokes are committed; the owners' emails follow, so the scanner is answered sooner.
    deliver_after_response(response, outcome.email_ids)
    return response
