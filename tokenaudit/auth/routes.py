"""Sign-in, sign-out, re-authentication before token management, and /sessions (sign out
other sessions)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..accounts import check_password
from ..clock import utcnow
from ..extensions import db
from ..sessions import end_other_sessions, end_session, live_sessions, start_session
from ..web.access import is_safe_next, note_password_entered
from ..web.forms import EmptyForm, LoginForm
from ..web.sign_in import checked_credentials, log_auth_failure, sign_in_budget, sign_in_succeeded
from . import bp
from .forms import ReauthForm


def _next_url(default: str = "org.home") -> str:
    target = request.args.get("next")
    return target if is_safe_next(target) else url_for(default)


@bp.route("/login", methods=["GET", "POST"])
@sign_in_budget
def login():
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(_next_url())
    form = LoginForm()
    if form.validate_on_submit():
        user = checked_credentials(form.email.data, form.password.data)
        if user is not None:
            sign_in_succeeded(user)
            start_session(user)
            user.last_login_at = utcnow()
            db.session.commit()
            note_password_entered()
            return redirect(_next_url())
        form.form_errors.append("Wrong email or password.")
    return render_template("auth/login.html", form=form), 200 if not form.errors else 400


@bp.post("/logout")
def logout():
    """Sign out (a POST with CSRF, so another site cannot sign you out)."""
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("auth.login"))
    if current_user.is_authenticated:
        end_session(current_user.id)
    flash("You have signed out.", "info")
    response = redirect(url_for("auth.login"))
    # htmx keeps pages (token table included) in sessionStorage for its history: drop them.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@bp.post("/sessions/revoke")
@login_required
def revoke_other_sessions():
    """Sign out every other browser signed in to this account."""
    if EmptyForm().validate_on_submit():
        ended = end_other_sessions(current_user.id)
        flash(f"Signed out {ended} other session{'s' if ended != 1 else ''}.", "success")
    return redirect(url_for("auth.sessions"))


@bp.get("/sessions")
@login_required
def sessions():
    """Your sessions: where you are signed in, and a button to sign out the others."""
    return render_template(
        "auth/sessions.html", sessions=live_sessions(current_user.id), form=EmptyForm()
    )


@bp.route("/reauthenticate", methods=["GET", "POST"])
@login_required
@sign_in_budget
def reauthenticate():
    """Ask for the password again before showing token management."""
    form = ReauthForm()
    if form.validate_on_submit():
        if check_password(current_user.password_hash, form.password.data):
            sign_in_succeeded(current_user)
            note_password_entered()
            return redirect(_next_url(default="profile.tokens"))
        log_auth_failure("wrong password on re-authentication", user_id=current_user.id)
        form.password.errors.append("That password is not right.")
    status = 400 if form.errors else 200
    return render_template("auth/reauthenticate.html", form=form), status
