"""Benchmark-only probe: GET /api/v2/me/'s work without token authentication.

Registered only when BENCHMARK_ENDPOINTS is on (TOKENAUDIT_BENCHMARK=1, set by `make bench`
alone), because it shows any user's data to anyone. `make bench` compares its throughput with
the token-authenticated endpoint's, so the difference is what token authentication costs.
"""

from flask import Blueprint, abort, jsonify
from sqlalchemy.orm import joinedload

from .api.routes import user_json
from .extensions import db
from .models import User

bp = Blueprint("bench_probe", __name__, url_prefix="/_bench")


@bp.get("/users/<id:user_id>/me/")
def user_as_me(user_id: int):
    """The user and organization GET /api/v2/me/ would load, rendered by the same function."""
    # With its organization in the same query, as the token check loads the owner's.
    user = db.session.get(User, user_id, options=[joinedload(User.organization)])
    if user is None:
        abort(404)
    return jsonify(user_json(user))
