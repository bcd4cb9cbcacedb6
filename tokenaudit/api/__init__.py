"""The JSON API (SPEC section 7): token authentication only, JSON errors everywhere."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v2")

from . import auth, routes, secret_scanning  # noqa: E402,F401
