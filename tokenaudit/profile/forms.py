from flask_wtf import FlaskForm
from wtforms import StringField, ValidationError

from ..personal_tokens import InvalidTokenName, clean_token_name


class TokenForm(FlaskForm):
    # No Length validator: clean_token_name is the one place that rules on names.
    name = StringField("Token name")

    def validate_name(self, field: StringField) -> None:
        try:
            field.data = clean_token_name(field.data or "")
        except InvalidTokenName as problem:
            raise ValidationError(str(problem)) from problem
