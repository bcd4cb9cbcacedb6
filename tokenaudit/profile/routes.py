"""/profile/tokens: the member's tokens and the create form, and the confirmation and action
of rotating or revoking one of them (each behind the token permission and a recent password)."""

from flask import abort, make_response, render_template, url_for
from flask_login import current_user

from ..models import ApiToken
from ..personal_tokens import (
    TokenAlreadyRotated,
    create_personal_token,
    rotate_personal_token,
    tokens_of,
)
from ..token_lifetime import LifetimeRefused, default_lifetime_days
from ..web.access import (
    get_own_token_or_404,
    own_token_by_id,
    recent_password_required,
    token_permission_required,
)
from ..web.forms import EmptyForm
from ..web.htmx import vary_on_htmx, wants_fragment
from ..web.revoke_views import perform_revoke, render_revoke_confirmation
from . import bp
from .forms import TokenForm


def _render_tokens_page(
    form: TokenForm,
    new_token: ApiToken | None = None,
    new_value: str | None = None,
    status: int = 200,
):
    template = "profile/_tokens.html" if wants_fragment() else "profile/tokens.html"
    response = make_response(
        render_template(
            template,
            tokens=tokens_of(current_user),
            form=form,
            new_token=new_token,
            new_value=new_value,
        ),
        status,
    )
    return vary_on_htmx(response)


@bp.get("/tokens")
@token_permission_required
@recent_password_required
def tokens():
    """Managing your API tokens: your tokens and a form to create one."""
    return _render_tokens_page(TokenForm(current_user.organization))


@bp.post("/tokens")
@token_permission_required
@recent_password_required
def create_token():
    """Create a token and show its value once."""
    form = TokenForm(current_user.organization)
    if not form.validate_on_submit():
        return _render_tokens_page(form, status=422)
    try:
        token, value = create_personal_token(current_user, form.name.data, form.expires_at)
    except LifetimeRefused as refusal:  # the maximum was lowered while this form was checked
        form.expires_in_days.errors = [*form.expires_in_days.errors, str(refusal)]
        return _render_tokens_page(form, status=422)
    return _render_tokens_page(
        TokenForm(current_user.organization, formdata=None), new_token=token, new_value=value
    )


@bp.get("/tokens/<id:token_id>/rotate")
@token_permission_required
@recent_password_required
def confirm_rotate(token_id: int):
    """Confirm replacing one of your tokens' value (the link in reminder emails leads here)."""
    token = get_own_token_or_404(token_id, current_user)
    # What the policy gives the new value (a never-expiring token may come back with a date).
    new_expiry = default_lifetime_days(current_user.organization)
    return render_template(
        "profile/rotate.html", token=token, new_expiry_days=new_expiry, form=EmptyForm()
    )


@bp.post("/tokens/<id:token_id>/rotate")
@token_permission_required
@recent_password_required
def rotate_token(token_id: int):
    """Give one of your tokens a new value and lifetime; show the value once."""
    token = get_own_token_or_404(token_id, current_user)
    try:
        value = rotate_personal_token(token, actor=current_user)
    except TokenAlreadyRotated:
        abort(409, "That token was just rotated or revoked elsewhere: its new value is not shown.")
    form = TokenForm(current_user.organization, formdata=None)
    return _render_tokens_page(form, new_token=token, new_value=value)


@bp.get("/tokens/<id:token_id>/revoke")
@token_permission_required
@recent_password_required
def confirm_revoke(token_id: int):
    """Confirm revoking one of your own tokens."""
    return render_revoke_confirmation(
        own_token_by_id(token_id, current_user),
        action_url=url_for("profile.revoke_own_token", token_id=token_id),
        cancel_url=url_for("profile.tokens"),
    )


@bp.post("/tokens/<id:token_id>/revoke")
@token_permission_required
@recent_password_required
def revoke_own_token(token_id: int):
    """Revoke one of your own tokens."""
    token = own_token_by_id(token_id, current_user)
    return perform_revoke(token, done_url=url_for("profile.tokens"))
