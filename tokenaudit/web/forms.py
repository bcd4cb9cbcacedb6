"""Forms shared across blueprints."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length


class EmptyForm(FlaskForm):
    """A single-button POST (revoke, sign out) that still carries its CSRF token."""


class LoginForm(FlaskForm):
    """The sign-in page's form; the sign-in budget reads its email exactly as the page does."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
