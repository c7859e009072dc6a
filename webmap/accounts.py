"""Accounts in the browser (issue #14): accepting an invitation, password reset, one's own account,
the operator's console of hromadas, and a hromada administrator's staff page.

GET  /account/                            signed in: my roles per hromada and where to work
GET  /account/set-password/<token>        an invitation's one-time link: the form (opening it uses nothing up)
POST /account/set-password/<token>        set the password, sign in
GET  /account/reset                       ask for a reset link (the answer never says whether the address exists)
GET|POST /account/reset/<token>           the same set-password form, for a reset link
GET  /operator/?q=&page=                  operator: the hromadas, searched by name or KATOTTG, 50 a page
GET  /operator/hromadas/<katottg>         operator: one hromada — on or off, its staff, appoint an administrator
POST /operator/hromadas/<katottg>/enable | /disable | /admins
GET  /admin/<katottg>/staff               the hromada's administrator: staff, invite
POST /admin/<katottg>/staff               invite (e-mail, roles, units)
POST /admin/<katottg>/staff/<id>/deactivate | /reactivate | /revoke

The work is done by gis.accounts; this module parses forms and renders. Pages that carry a token
send ``Referrer-Policy: no-referrer`` and are not cached, so the token leaks neither to another site
nor into a shared cache.
"""
from __future__ import annotations

import math

from flask import Blueprint, flash, g, get_flashed_messages, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectMultipleField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length, Optional, ValidationError

from gis import accounts, hromadas
from gis.audit import By
from gis.errors import Conflict, HromadaError
from gis.models import HROMADA_ROLES
from gis.users import MIN_PASSWORD
from layers.admin_areas import hromadas_by_ids
from webmap.access import (
    auth_epoch,
    current_user,
    hromada_id_of_katottg,
    hromada_roles,
    operator_required,
    signed_in_required,
    signed_in_user,
)
from webmap.database import connection, engine
from webmap.extensions import limiter, login_rate_limit
from webmap.forms import REQUIRED, Bilingual
from webmap.i18n import t
from webmap.idempotency import public_url

bp = Blueprint("accounts", __name__)
PER_PAGE = 50


# --- forms ----------------------------------------------------------------------------------------

EMAIL_CHECKS = [InputRequired(REQUIRED), Length(max=254, message=Bilingual("до 254 знаків", "at most 254 characters")),
                Email(Bilingual("неправильна адреса ел. пошти", "not a valid e-mail address"),
                      check_deliverability=False)]
NAME_CHECKS = [Optional(), Length(max=200, message=Bilingual("до 200 знаків", "at most 200 characters"))]


class SetPasswordForm(FlaskForm):
    password = PasswordField("Новий пароль", validators=[
        InputRequired(REQUIRED),
        Length(min=MIN_PASSWORD, max=1000, message=Bilingual(f"щонайменше {MIN_PASSWORD} знаків",
                                                             f"at least {MIN_PASSWORD} characters"))])
    confirm = PasswordField("Повторіть пароль", validators=[
        InputRequired(REQUIRED), EqualTo("password", Bilingual("паролі не збігаються", "the passwords differ"))])


class ResetRequestForm(FlaskForm):
    email = EmailField("Ел. пошта", validators=EMAIL_CHECKS)


class InviteForm(FlaskForm):
    email = EmailField("Ел. пошта", validators=EMAIL_CHECKS)
    full_name = StringField("Ім'я", validators=NAME_CHECKS)
    # Choices are checked by the validators below: WTForms' own check speaks English only.
    roles = SelectMultipleField("Ролі", choices=[], validate_choice=False, validators=[
        InputRequired(Bilingual("оберіть щонайменше одну роль", "choose at least one role"))])
    units = SelectMultipleField("Підрозділи", coerce=int, choices=[], validate_choice=False)

    def validate_roles(self, field):
        if any(r not in HROMADA_ROLES for r in field.data or ()):
            raise ValidationError(Bilingual("можливі ролі: адміністратор, працівник підрозділу, планувальник",
                                            "the roles are: administrator, unit staff, planner"))

    def validate_units(self, field):
        allowed = {value for value, _ in field.choices}
        if any(u not in allowed for u in field.data or ()):
            raise ValidationError(Bilingual("оберіть підрозділи цієї громади, що мають облікові записи",
                                            "choose units of this hromada that have staff accounts"))


class AppointForm(FlaskForm):
    email = EmailField("Ел. пошта", validators=EMAIL_CHECKS)
    full_name = StringField("Ім'я", validators=NAME_CHECKS)


def _by() -> By:
    user = signed_in_user()
    return By(user.email, user.id)


TOKEN_PAGES = {"accounts.set_password", "accounts.reset_with_token"}


@bp.after_request
def _token_pages_leak_nothing(response):
    """A page whose URL carries a one-time token: no Referer to anywhere, no copy in a cache."""
    if request.endpoint in TOKEN_PAGES:
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
    return response


def _sign_in(user_id: int) -> None:
    session.clear()
    session["user_id"] = user_id
    session["auth_epoch"] = auth_epoch(user_id)


# --- one's own account, one-time links ------------------------------------------------------------

@bp.get("/account/")
@signed_in_required
def home():
    """Where the signed-in person works: their roles per hromada, with links."""
    user = current_user()
    places = [{**h, "roles": sorted(user.grants[h["id"]])} for h in hromadas_by_ids(connection(), user.grants)]
    return render_template("accounts/home.html", user=user, places=places, saved=request.args.get("saved") == "1",
                           role_label=accounts.role_label)


def _password_page(token: str, purpose: str):
    form = SetPasswordForm()
    try:
        link = accounts.check_link(connection(), token, purpose)
    except HromadaError as error:
        return render_template("accounts/link_problem.html", error=error), error.http_status
    status, problem = 200, None
    if request.method == "POST":
        if form.validate():
            try:
                with engine().begin() as conn:
                    user_id = accounts.set_password_with_token(conn, token, form.password.data, purpose=purpose)
            except HromadaError as error:  # used up meanwhile, or the password refused
                problem, status = error, error.http_status
            else:
                _sign_in(user_id)
                return redirect(url_for(".home", saved=1))
        else:
            status = 400
    return render_template("accounts/set_password.html", form=form, link=link, purpose=purpose, problem=problem,
                           min_password=MIN_PASSWORD), status


@bp.route("/account/set-password/<token>", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def set_password(token: str):
    return _password_page(token, "invite")


@bp.route("/account/reset/<token>", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def reset_with_token(token: str):
    return _password_page(token, "reset")


@bp.route("/account/reset", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def reset():
    form = ResetRequestForm()
    sent, status = False, 200
    if request.method == "POST":
        if form.validate():
            with engine().begin() as conn:
                accounts.request_reset(conn, form.email.data, public_url())
            sent = True
        else:
            status = 400
    return render_template("accounts/reset.html", form=form, sent=sent), status


# --- the operator -----------------------------------------------------------------------------------

@bp.get("/operator/")
@operator_required
def operator_home():
    query = request.args.get("q", "").strip()[:200]
    try:
        page = min(max(int(request.args.get("page", "1")), 1), 10_000)  # 1,466 hromadas: 30 pages
    except ValueError:
        page = 1
    rows, total = accounts.hromada_page(connection(), query, page=page, per_page=PER_PAGE)
    pages = max(math.ceil(total / PER_PAGE), 1)
    return render_template("operator/hromadas.html", rows=rows, total=total, page=min(page, pages), pages=pages,
                           query=query, user=current_user())


def _operator_hromada_page(katottg: str, form: AppointForm, problem=None, status: int = 200):
    place = accounts.hromada_status(connection(), katottg)
    return render_template("operator/hromada.html", place=place, form=form, problem=problem,
                           messages=get_flashed_messages(), role_label=accounts.role_label,
                           user=current_user()), status


@bp.get("/operator/hromadas/<katottg>")
@operator_required
def operator_hromada(katottg: str):
    return _operator_hromada_page(katottg, AppointForm(formdata=None))


@bp.post("/operator/hromadas/<katottg>/enable")
@operator_required
def operator_enable(katottg: str):
    with engine().begin() as conn:
        accounts.enable_hromada(conn, katottg, _by())
    flash(t("acc_done_enabled"))
    return redirect(url_for(".operator_hromada", katottg=katottg))


@bp.post("/operator/hromadas/<katottg>/disable")
@operator_required
def operator_disable(katottg: str):
    with engine().begin() as conn:
        accounts.disable_hromada(conn, katottg, _by())
    flash(t("acc_done_disabled"))
    return redirect(url_for(".operator_hromada", katottg=katottg))


@bp.post("/operator/hromadas/<katottg>/admins")
@operator_required
def operator_appoint(katottg: str):
    form = AppointForm()
    hromadas.hromada_by_katottg(connection(), katottg)  # 404 before anything else
    if not form.validate():
        return _operator_hromada_page(katottg, form, status=400)
    try:
        with engine().begin() as conn:
            accounts.appoint_admin(conn, katottg, form.email.data, _by(), public_url(), form.full_name.data)
    except HromadaError as error:
        return _operator_hromada_page(katottg, form, problem=error, status=error.http_status)
    flash(t("acc_done_invited") + " " + form.email.data.strip())
    return redirect(url_for(".operator_hromada", katottg=katottg))


# --- a hromada's administrator: staff ---------------------------------------------------------------

admin_of_katottg = hromada_roles("admin", hromada=lambda katottg, **_: hromada_id_of_katottg(katottg))


def _invite_form(formdata=True) -> InviteForm:
    form = InviteForm() if formdata else InviteForm(formdata=None)
    units = accounts.accounts_units(connection(), g.hromada_id)
    form.units.choices = [(u.id, u.name_uk) for u in units]  # only read by validate_units
    form.unit_rows = units
    return form


def _staff_page(katottg: str, form: InviteForm, problem=None, status: int = 200, problem_at: str = "invite"):
    conn = connection()
    place = hromadas.hromada_by_katottg(conn, katottg)
    return render_template("accounts/staff.html", place=place, staff=accounts.list_staff(conn, g.hromada_id),
                           form=form, problem=problem, problem_at=problem_at, messages=get_flashed_messages(),
                           roles=HROMADA_ROLES, role_label=accounts.role_label, user=current_user(),
                           invite_days=accounts.invite_lifetime().days), status


@bp.get("/admin/<katottg>/staff")
@admin_of_katottg
def staff(katottg: str):
    return _staff_page(katottg, _invite_form(formdata=False))


@bp.post("/admin/<katottg>/staff")
@admin_of_katottg
def staff_invite(katottg: str):
    form = _invite_form()
    if not form.validate():
        return _staff_page(katottg, form, status=400)
    try:
        with engine().begin() as conn:
            accounts.invite(conn, email=form.email.data, roles=form.roles.data, hromada_id=g.hromada_id,
                            unit_ids=form.units.data or (), by=_by(), public_url=public_url(),
                            full_name=form.full_name.data)
    except HromadaError as error:
        return _staff_page(katottg, form, problem=error, status=error.http_status)
    flash(t("acc_done_invited") + " " + form.email.data.strip())
    return redirect(url_for(".staff", katottg=katottg))


def _staff_action(katottg: str, user_id: int, act, done_key: str):
    try:
        with engine().begin() as conn:
            act(conn, user_id, g.hromada_id, _by())
    except Conflict as error:  # oneself, or roles elsewhere: said on the page (a 404 stays a 404)
        return _staff_page(katottg, _invite_form(formdata=False), problem=error, status=error.http_status,
                           problem_at="list")
    flash(t(done_key))
    return redirect(url_for(".staff", katottg=katottg))


@bp.post("/admin/<katottg>/staff/<int:user_id>/deactivate")
@admin_of_katottg
def staff_deactivate(katottg: str, user_id: int):
    return _staff_action(katottg, user_id, accounts.deactivate, "acc_done_deactivated")


@bp.post("/admin/<katottg>/staff/<int:user_id>/reactivate")
@admin_of_katottg
def staff_reactivate(katottg: str, user_id: int):
    return _staff_action(katottg, user_id, accounts.reactivate, "acc_done_reactivated")


@bp.post("/admin/<katottg>/staff/<int:user_id>/revoke")
@admin_of_katottg
def staff_revoke(katottg: str, user_id: int):
    return _staff_action(katottg, user_id, accounts.revoke_roles, "acc_done_revoked")
