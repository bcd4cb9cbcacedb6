"""Organization API Tokens (SPEC section 5, 11): the superusers' audit page of every token."""

from flask import Blueprint

bp = Blueprint("audit", __name__)

from . import routes  # noqa: E402,F401
