from flask_wtf import FlaskForm
from wtforms import BooleanField


class MemberForm(FlaskForm):
    is_superuser = BooleanField("Organization Superuser")
    can_manage_tokens = BooleanField("Can create and manage personal API tokens")
    is_active = BooleanField("Active")
