"""Home (cards and recent activity), the team and a member's permissions, the token lifetime
policy on /settings, and the Activity log with its CSV."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..activity_log import (
    CSV_HEADER,
    ActivityFilters,
    activity_rows,
    filter_choices,
    find_activities,
    member_activities,
    recent_activities,
)
from ..lifetime_policy import change_lifetime_policy, parse_policy
from ..personal_tokens import tokens_of
from ..team import PermissionChangeRefused, change_permissions, home_card_counts, team_members
from ..token_lifetime import LifetimeRefused
from ..web.access import get_org_member_or_404, superuser_required
from ..web.downloads import csv_download
from . import bp
from .forms import LifetimePolicyForm, MemberForm


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
            return _render_member_page(member, form), 400
        if changes:
            flash(f"Saved {member.full_name}: {', '.join(changes)}.", "success")
        else:
            flash("Nothing changed.", "info")
        return redirect(url_for("org.edit_member", user_id=member.id))
    return _render_member_page(member, form)


@bp.route("/settings", methods=["GET", "POST"])
@superuser_required
def settings():
    """Organization settings: the token lifetime policy."""
    organization = current_user.organization
    form = LifetimePolicyForm(
        data={
            "max_token_lifetime_days": organization.max_token_lifetime_days or "",
            "default_token_lifetime_days": organization.default_token_lifetime_days or "",
        }
    )
    if not form.validate_on_submit():
        return render_template("org/settings.html", form=form)
    try:
        policy = parse_policy(
            form.max_token_lifetime_days.data, form.default_token_lifetime_days.data
        )
    except LifetimeRefused as refusal:
        form.form_errors.append(str(refusal))
        return render_template("org/settings.html", form=form), 400
    change = change_lifetime_policy(organization, current_user, *policy)
    if not change.changed:
        flash("Nothing changed.", "info")
    elif change.tokens_shortened:
        flash(
            f"Saved. {change.tokens_shortened} tokens now expire sooner; their "
            f"{change.owners_emailed} owners are being emailed.",
            "success",
        )
    else:
        flash("Saved. No existing token changed.", "success")
    return redirect(url_for("org.settings"))


def _render_member_page(member, form: MemberForm) -> str:
    """The permissions form, the member's tokens and what was recently recorded against them."""
    return render_template(
        "org/member.html",
        member=member,
        form=form,
        # Only this organization's: a token kept from a former organization is not ours to show.
        tokens=tokens_of(member, organization_id=member.organization_id),
        activities=member_activities(member),
    )


@bp.get("/activity")
@login_required
def activity():
    """The Activity log: superusers see the organization's, everyone else their own."""
    filters = ActivityFilters.from_args(request.args)
    return render_template(
        "org/activity.html",
        result=find_activities(current_user, filters),
        choices=filter_choices(current_user),
    )


@bp.get("/activity.csv")
@login_required
def activity_csv():
    """The Activity log's rows for the same filters, every page, as CSV."""
    filters = ActivityFilters.from_args(request.args)
    return csv_download("activity", CSV_HEADER, activity_rows(current_user, filters))
