"""The audit page's views: the list (search, filters, sort, pages), its CSV, and revoking one
token or many (the bulk confirmation and its answer are in bulk_revoke.py)."""

from dataclasses import replace

from flask import make_response, redirect, render_template, request, session, url_for
from flask_login import current_user

from ..models import parse_positive_int
from ..token_export import COLUMNS, token_rows
from ..token_filters import STATUS_LABELS
from ..token_listing import TokenListParams, find_token_by_value, matching_tokens, search_org_tokens
from ..tokens import parse_token
from ..web.access import org_token_by_id, superuser_required
from ..web.downloads import csv_download
from ..web.htmx import vary_on_htmx, wants_fragment
from ..web.revoke_views import perform_revoke, render_revoke_confirmation
from . import bp
from .bulk_revoke import (
    perform_bulk_revoke,
    render_bulk_confirmation,
    requested_ids,
    select_tokens,
)

# What a whole value pasted without JavaScript found by its digest, carried over the 303 to its
# prefix's URL (which holds no value): [prefix, ids]. Shown once; a reload searches the prefix.
VALUE_SEARCH_KEY = "value_search"


@bp.get("/tokens")
@superuser_required
def tokens():
    """Organization API Tokens: every token in the organization, searchable and sortable."""
    params = TokenListParams.from_args(request.args)
    # A whole token value pasted into the search must not stay in the address bar, the
    # browser's history or the page: its prefix takes its place, and finds the same token.
    prefix = parse_token(params.q)
    if prefix is not None and not wants_fragment():
        found = find_token_by_value(current_user.organization_id, params.q)
        session[VALUE_SEARCH_KEY] = [prefix, found or []]
        return redirect(url_for("audit.tokens", **params.to_args(q=prefix, page=1)), 303)
    by_value = None
    if not wants_fragment() and VALUE_SEARCH_KEY in session:
        carried_prefix, ids = session.pop(VALUE_SEARCH_KEY)
        if carried_prefix == params.q:
            by_value = ids
    result = search_org_tokens(current_user.organization_id, params, by_value)
    if prefix is not None:
        result = replace(result, params=replace(result.params, q=prefix))
    fragment = wants_fragment()
    template = "audit/_table.html" if fragment else "audit/tokens.html"
    response = make_response(
        render_template(
            template, result=result, count_out_of_band=fragment, status_labels=STATUS_LABELS
        )
    )
    if prefix is not None:
        response.headers["HX-Push-Url"] = url_for("audit.tokens", **result.params.to_args())
    return vary_on_htmx(response)


def _list_args() -> dict[str, object]:
    """The search, sort and page the superuser came from, or the member page (`member`): revoke
    URLs carry them, so that without JavaScript Cancel and a completed revoke return there."""
    args = TokenListParams.from_args(request.args).to_args()
    kept = {key: value for key, value in args.items() if key in request.args}
    if member := parse_positive_int(request.args.get("member")):
        kept["member"] = member
    return kept


def _back_url() -> str:
    """Where Cancel and a completed revoke lead without JavaScript: the page the superuser
    pressed Revoke on, as it was."""
    args = _list_args()
    if "member" in args:
        return url_for("org.edit_member", user_id=args["member"])
    return url_for("audit.tokens", **args)


@bp.get("/tokens.csv")
@superuser_required
def tokens_csv():
    """Every token the page's search and filters match, as a CSV download."""
    params = TokenListParams.from_args(request.args)
    query = matching_tokens(current_user.organization_id, params)
    return csv_download("api-tokens", COLUMNS, token_rows(query, params.filters))


@bp.get("/tokens/revoke")
@superuser_required
def confirm_bulk_revoke():
    """Confirm revoking the checked tokens, or every one matching the view: count and owners."""
    ids = requested_ids(request.args.getlist("ids"))
    return render_bulk_confirmation(request.args, select_tokens(request.args, ids))


@bp.post("/tokens/revoke")
@superuser_required
def bulk_revoke():
    """Revoke exactly the confirmed tokens that still exist."""
    return perform_bulk_revoke(request.form, requested_ids(request.form.getlist("ids")))


@bp.get("/tokens/<id:token_id>/revoke")
@superuser_required
def confirm_revoke(token_id: int):
    """Confirm revoking a token: shows its prefix and owner."""
    return render_revoke_confirmation(
        org_token_by_id(token_id, current_user),
        action_url=url_for("audit.revoke", token_id=token_id, **_list_args()),
        cancel_url=_back_url(),
    )


@bp.post("/tokens/<id:token_id>/revoke")
@superuser_required
def revoke(token_id: int):
    """Revoke any token of the organization."""
    token = org_token_by_id(token_id, current_user)
    return perform_revoke(token, done_url=_back_url())
