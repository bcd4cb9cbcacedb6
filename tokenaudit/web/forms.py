"""Forms shared across blueprints."""

from flask_wtf import FlaskForm


class EmptyForm(FlaskForm):
    """A single-button POST (revoke, sign out) that still carries its CSRF token."""
