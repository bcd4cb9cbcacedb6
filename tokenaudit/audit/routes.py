from flask import make_response, render_template, request, url_for
from flask_login import current_user

from ..access import find_org_token, get_org_token_or_404, superuser_required
from ..htmx import vary_on_htmx, wants_fragment
from ..revoke_views import perform_revoke, render_revoke_confirmation
from ..token_listing import TokenListParams, find_org_tokens
from . import bp


@bp.get("/tokens")
@superuser_required
def tokens():
    """Organization API Tokens: every token in the organization, searchable and sortable."""
    result = find_org_tokens(current_user.organization_id, TokenListParams.from_args(request.args))
    template = "audit/_table.html" if wants_fragment() else "audit/tokens.html"
    response = make_response(render_template(template, result=result))
    return vary_on_htmx(response)


@bp.get("/tokens/<id:token_id>/revoke")
@superuser_required
def confirm_revoke(token_id: int):
    """Confirm revoking a token: shows its prefix and owner."""
    token = get_org_token_or_404(token_id, current_user)
    return render_revoke_confirmation(
        token,
        action_url=url_for("audit.revoke", token_id=token.id),
        cancel_url=url_for("audit.tokens"),
    )


@bp.post("/tokens/<id:token_id>/revoke")
@superuser_required
def revoke(token_id: int):
    """Revoke any token of the organization."""
    token = find_org_token(token_id, current_user)
    return perform_revoke(token, done_url=url_for("audit.tokens"))
