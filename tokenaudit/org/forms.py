"""Forms of the organization's pages: a member's permissions and the lifetime policy."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField


class MemberForm(FlaskForm):
    is_superuser = BooleanField("Organization Superuser")
    can_manage_tokens = BooleanField("Can create and manage personal API tokens")
    is_active = BooleanField("Active")


class LifetimePolicyForm(FlaskForm):
    # Text, not IntegerField: blank means "none", and lifetime_policy.parse_policy rules on both.
    max_token_lifetime_days = StringField("Maximum token lifetime (days)")
    default_token_lifetime_days = StringField("Default token lifetime (days)")
