"""The member's own API tokens on their profile: create, rotate and revoke them."""

from flask import Blueprint

bp = Blueprint("profile", __name__, url_prefix="/profile")

from . import routes  # noqa: E402,F401
