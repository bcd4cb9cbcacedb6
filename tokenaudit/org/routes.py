from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..access import get_org_member_or_404, superuser_required
from ..activities import recent_activities
from ..team import PermissionChangeRefused, change_permissions, home_card_counts, team_members
from . import bp
from .forms import MemberForm


@bp.get("/")
@login_required
def home():
    """Organization home: cards and recent Activities."""
    return render_template(
        "org/home.html",
        counts=home_card_counts(current_user),
        activities=recent_activities(current_user),
    )


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
