from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from ..access import get_org_member_or_404, superuser_required
from ..activities import recent_activities
from ..extensions import db
from ..models import ApiToken, User
from ..team import PermissionChangeRefused, change_permissions, team_members
from . import bp
from .forms import MemberForm


@bp.get("/")
@login_required
def home():
    """Organization home: cards and recent Activities."""
    user = current_user
    counts = {}
    if user.is_superuser:
        counts["members"] = db.session.scalar(
            select(func.count(User.id)).where(User.organization_id == user.organization_id)
        )
        counts["org_tokens"] = db.session.scalar(
            select(func.count(ApiToken.id)).where(ApiToken.organization_id == user.organization_id)
        )
    if user.can_manage_tokens:
        counts["own_tokens"] = db.session.scalar(
            select(func.count(ApiToken.id)).where(ApiToken.user_id == user.id)
        )
    return render_template("org/home.html", counts=counts, activities=recent_activities(user))


@bp.get("/team")
@superuser_required
def team():
    """Team members with their permissions."""
    return render_template("org/team.html", members=team_members(current_user.organization_id))


@bp.route("/team/<id:user_id>", methods=["GET", "POST"])
@superuser_required
def edit_member(user_id: int):
    """Team-member edit page: the permission checkboxes."""
    member = get_org_member_or_404(user_id, current_user)
    form = MemberForm(obj=member)
    if form.validate_on_submit():
        try:
            changes = change_permissions(
                member,
                current_user,
                {
                    field: form[field].data
                    for field in ("is_superuser", "can_manage_tokens", "is_active")
                },
            )
        except PermissionChangeRefused as refusal:
            form.form_errors.append(str(refusal))
            return render_template("org/member.html", member=member, form=form), 400
        if changes:
            flash(f"Saved {member.full_name}: {', '.join(changes)}.", "success")
        else:
            flash("Nothing changed.", "info")
        return redirect(url_for("org.edit_member", user_id=member.id))
    return render_template("org/member.html", member=member, form=form)
