"""The create-token form: its name and lifetime, each checked by the domain's one rule."""

from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, ValidationError
from wtforms.validators import Optional

from ..models import Organization
from ..personal_tokens import InvalidTokenName, clean_token_name, refuse_name_in_use
from ..token_lifetime import (
    CUSTOM,
    LifetimeRefused,
    default_choice,
    expiry_in_days,
    expiry_on_date,
    lifetime_choices,
)


class TokenForm(FlaskForm):
    # No Length validator: clean_token_name is the one place that rules on names.
    name = StringField("Token name")
    # Checked by token_lifetime against the organization's policy, not against the choices:
    # blank means the organization's default, as in the API.
    expires_in_days = SelectField("Expires", validate_choice=False)
    expires_on = DateField("Custom expiry date", validators=[Optional()])

    def __init__(self, organization: Organization, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.expires_in_days.choices = lifetime_choices(organization)
        if self.expires_in_days.data is None:
            self.expires_in_days.data = default_choice(organization)
        self.expires_at = None

    def validate_name(self, field: StringField) -> None:
        try:
            field.data = clean_token_name(field.data or "")
            refuse_name_in_use(current_user, field.data)
        except InvalidTokenName as problem:
            raise ValidationError(str(problem)) from problem

    def validate_expires_in_days(self, field: SelectField) -> None:
        try:
            if field.data != CUSTOM:
                self.expires_at = expiry_in_days(self.organization, field.data)
            elif self.expires_on.data is None:
                raise LifetimeRefused("Choose the custom expiry date.")
            else:
                self.expires_at = expiry_on_date(self.organization, self.expires_on.data)
        except LifetimeRefused as problem:
            raise ValidationError(str(problem)) from problem
