"""The re-authentication form (the sign-in form is web/forms.LoginForm)."""

from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length


class ReauthForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
