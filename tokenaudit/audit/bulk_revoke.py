"""Bulk revoke on the audit page (SPEC section 11): confirm a selection, then revoke exactly it.

The confirmation lists what will go and carries the exact ids it showed, signed, so the revoke
takes that set and nothing else: a token created (or newly matching the search) after the
superuser looked is never swept in, and one revoked meanwhile is reported, not an error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Response, abort, current_app, make_response, render_template, url_for
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from ..bulk_revocation import BulkRevocation, revoke_tokens
from ..extensions import db
from ..models import ApiToken, User, parse_positive_int
from ..token_listing import TokenListParams, matching_tokens
from ..web.forms import EmptyForm
from ..web.htmx import vary_on_htmx, wants_fragment
from ..web.revoke_views import revoke_answer

# A confirmation left open longer than this is asked again: the set may have changed a lot.
CONFIRMATION_SECONDS = 3600
NOTHING_SELECTED = "Select at least one token to revoke."


@dataclass(frozen=True)
class OwnerCount:
    id: int
    name: str
    email: str
    count: int


@dataclass(frozen=True)
class Selection:
    """The tokens a confirmation shows: their ids, and each owner with how many are theirs."""

    ids: list[int]
    owners: list[OwnerCount]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="bulk-revoke")


def sign_selection(ids: list[int]) -> str:
    """The ids as a signed, compact string for the confirmation form (bound to this user)."""
    # Gaps between sorted ids are small numbers that compress well: 10,000 ids take ~10 kB.
    gaps = [later - earlier for earlier, later in zip([0, *ids], ids, strict=False)]
    return _serializer().dumps({"user": current_user.id, "gaps": gaps})


def read_signed_selection(signed: str) -> list[int] | None:
    """The ids a confirmation signed for this user, or None if forged, altered or too old."""
    try:
        data = _serializer().loads(signed, max_age=CONFIRMATION_SECONDS)
    except BadSignature:  # SignatureExpired is one
        return None
    if data.get("user") != current_user.id:
        return None
    ids, total = [], 0
    for gap in data["gaps"]:
        total += gap
        ids.append(total)
    return ids


def requested_ids(values: list[str]) -> list[int]:
    """The `ids` fields as ids; 400 if any is not one."""
    ids = [parse_positive_int(value) for value in values]
    for value, token_id in zip(values, ids, strict=True):
        if token_id is None:
            abort(400, f"“{value[:20]}” is not a token id. Nothing was revoked.")
    return ids


def _selection(rows: list[tuple[int, int]]) -> Selection:
    """From (token id, owner id) rows: the ids, and owners by how many of their tokens go."""
    counts = Counter(user_id for _, user_id in rows)
    members = db.session.execute(
        select(User.id, User.full_name, User.email).where(
            User.organization_id == current_user.organization_id
        )
    )
    owners = [
        OwnerCount(user_id, name, email, counts[user_id])
        for user_id, name, email in members
        if user_id in counts
    ]
    owners.sort(key=lambda owner: (-owner.count, owner.name.casefold(), owner.id))
    return Selection(ids=sorted(token_id for token_id, _ in rows), owners=owners)


def select_tokens(args: Mapping[str, str], ids: list[int]) -> Selection:
    """The organization's tokens named by `ids`, or every one matching the view in `args`."""
    organization_id = current_user.organization_id
    if args.get("all_matching") == "1":
        matching = matching_tokens(organization_id, TokenListParams.from_args(args))
        query = matching.with_only_columns(ApiToken.id, ApiToken.user_id).order_by(None)
    else:
        query = select(ApiToken.id, ApiToken.user_id).where(
            ApiToken.organization_id == organization_id, ApiToken.id.in_(ids)
        )
    return _selection([tuple(row) for row in db.session.execute(query)])


def render_bulk_confirmation(args: Mapping[str, str], selection: Selection) -> Response:
    """The dialog partial for htmx, or a full page without JavaScript."""
    params = TokenListParams.from_args(args)
    template = "revoke/_dialog.html" if wants_fragment() else "revoke/confirm.html"
    count = len(selection.ids)
    page = render_template(
        template,
        question="revoke/_bulk_question.html",
        page_title=f"Revoke {count:,} API token{'' if count == 1 else 's'}",
        submit_label=f"Revoke {count:,}" if count else "",
        selection=selection,
        nothing_selected="ids" not in args and args.get("all_matching") != "1",
        signed=sign_selection(selection.ids) if selection.ids else "",
        form=EmptyForm(),
        action_url=url_for("audit.bulk_revoke"),
        cancel_url=url_for("audit.tokens", **params.to_args()),
        view_args=params.to_args(page=1),
    )
    return vary_on_htmx(make_response(page))


def bulk_revocation_message(result: BulkRevocation) -> tuple[str, str]:
    """The status message after a bulk revoke, and its category."""
    tokens = "token" if result.revoked == 1 else "tokens"
    if result.revoked == 0:
        return (
            f"Nothing was revoked: the {result.gone:,} selected "
            f"{'token no longer exists' if result.gone == 1 else 'tokens no longer exist'} "
            "(already revoked).",
            "info",
        )
    parts = [f"Revoked {result.revoked:,} {tokens}."]
    if result.gone:
        parts.append(f"{result.gone:,} of the selected no longer existed (already revoked).")
    if result.owners_emailed:
        owners = "owner has" if result.owners_emailed == 1 else "owners have"
        parts.append(f"{result.owners_emailed:,} {owners} been emailed.")
    if result.emails_pending:
        parts.append(f"{result.emails_pending:,} of those emails will be sent shortly.")
    return " ".join(parts), "success"


def perform_bulk_revoke(form: Mapping[str, str], ids: list[int]) -> Response:
    """Revoke the confirmed selection (signed) or the `ids` given; the answer as for one token."""
    done_url = url_for("audit.tokens", **TokenListParams.from_args(form).to_args(page=1))
    if form.get("confirmed"):
        ids = read_signed_selection(form["confirmed"])
        if ids is None:
            abort(
                400,
                "This confirmation is no longer valid. Nothing was revoked; please select again.",
            )
    elif form.get("all_matching") == "1":
        abort(400, "Confirm which tokens to revoke first. Nothing was revoked.")
    if not ids:
        abort(400, NOTHING_SELECTED)
    result = revoke_tokens(ids, actor=current_user)
    message, category = bulk_revocation_message(result)
    return revoke_answer(message, category, done_url)
