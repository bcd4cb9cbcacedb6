"""The benchmark's probe: GET /api/v2/me/'s work without authenticating or recording the use.

It finds the token by its prefix with the very query the token check runs
(token_auth.find_token_row), makes the same ORM objects of it, and renders the owner with the
same function as /api/v2/me/. What it leaves out is what authentication adds: checking the
secret and recording the use. It shows any token owner's data to anyone, so it exists only in
the benchmark's own app (bench/app.py), never in the product's.
"""

from flask import Blueprint, abort, jsonify

from tokenaudit.api.routes import user_json
from tokenaudit.token_auth import find_token_row, token_from_row

bp = Blueprint("bench_probe", __name__, url_prefix="/_bench")


@bp.get("/tokens/<prefix>/me/")
def owner_as_me(prefix: str):
    """The owner GET /api/v2/me/ would render for this token, loaded the way it loads them."""
    row = find_token_row(prefix)
    if row is None:
        abort(404)
    return jsonify(user_json(token_from_row(row).owner))
