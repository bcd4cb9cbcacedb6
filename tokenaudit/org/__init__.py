"""The organization's pages: home, team, settings and the Activity log."""

from flask import Blueprint

bp = Blueprint("org", __name__)

from . import routes  # noqa: E402,F401
