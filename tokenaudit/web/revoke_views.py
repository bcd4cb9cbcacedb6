"""The revoke confirmation and its answer, shared by the audit page and the profile."""

from __future__ import annotations

from flask import Response, flash, make_response, redirect, render_template
from flask_login import current_user

from ..models import ApiToken
from ..revocation import Revocation, TokenAlreadyRevoked, revoke_token
from ..text import isolate
from .access import TOKEN_GONE
from .forms import EmptyForm
from .htmx import to_status_area, vary_on_htmx, wants_fragment

TOKENS_CHANGED_EVENT = "tokens-changed"


def render_revoke_confirmation(
    token: ApiToken | None, action_url: str, cancel_url: str
) -> Response:
    """The dialog partial for htmx, or a full confirmation page without JavaScript.

    `token` is None when someone else revoked it meanwhile: that is said where the user is
    looking, and the list they came from is offered (or refreshed).
    """
    if token is None:
        return token_gone(cancel_url)
    template = "revoke/_dialog.html" if wants_fragment() else "revoke/confirm.html"
    response = make_response(
        render_template(
            template, token=token, form=EmptyForm(), action_url=action_url, cancel_url=cancel_url
        )
    )
    return vary_on_htmx(response)


def revocation_message(revocation: Revocation) -> tuple[str, str]:
    """The status message after a revoke, and its category."""
    token_name, owner_name = isolate(revocation.token_name), isolate(revocation.owner_name)
    if revocation.by_owner:
        subject = f"Revoked your token “{token_name}” ({revocation.prefix})."
    else:
        subject = f"Revoked “{token_name}” ({revocation.prefix}) belonging to {owner_name}."
    if revocation.email_sent is False:
        return (
            subject + f" The email to {owner_name} could not be sent yet; it will be retried.",
            "warning",
        )
    if revocation.email_sent:
        subject += f" {owner_name} has been emailed."
    return subject, "success"


def token_gone(done_url: str) -> Response:
    """404 for a token that no longer exists: a status message and a refreshed list for htmx,
    else a page that leads back to the list in the state it was in."""
    if wants_fragment():
        response = make_response(
            render_template("revoke/_status.html", message=TOKEN_GONE, category="info"), 404
        )
        # The table reloads itself, so the stale row goes.
        response.headers["HX-Trigger"] = TOKENS_CHANGED_EVENT
        return vary_on_htmx(to_status_area(response))
    page = render_template("revoke/gone.html", message=TOKEN_GONE, done_url=done_url)
    return vary_on_htmx(make_response(page, 404))


def perform_revoke(token: ApiToken | None, done_url: str) -> Response:
    """Revoke the token as the current user; a status fragment for htmx, else back to the list.

    `token` is None when it is already gone (or not the user's to see): that is said plainly,
    with 404, and the list refreshes so the stale row goes too.
    """
    if not EmptyForm().validate_on_submit():  # CSRFProtect has already refused bad tokens
        return redirect(done_url)
    try:
        if token is None:
            raise TokenAlreadyRevoked
        revocation = revoke_token(token, actor=current_user)
    except TokenAlreadyRevoked:
        return token_gone(done_url)
    message, category = revocation_message(revocation)
    return revoke_answer(message, category, done_url)


def revoke_answer(message: str, category: str, done_url: str) -> Response:
    """After a revoke (of one token or many): a status fragment that reloads the table for
    htmx, else back to the list with the message."""
    if wants_fragment():
        response = make_response(
            render_template("revoke/_status.html", message=message, category=category)
        )
        # The table reloads itself in its current search, sort and page.
        response.headers["HX-Trigger"] = TOKENS_CHANGED_EVENT
        return vary_on_htmx(to_status_area(response))
    flash(message, category)
    return redirect(done_url)
