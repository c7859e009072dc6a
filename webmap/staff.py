"""Staff side: log-in, the unit's queue of reports, a report's page and the actions on it.

Unit staff see and act on their own units' reports only (another unit's report is a 403); a
hromada's administrators see every report of that hromada, and nobody sees another hromada's.
Every form carries a CSRF token; log-in attempts are throttled per client.
"""
from __future__ import annotations

import functools

from flask import Blueprint, flash, g, get_flashed_messages, redirect, render_template, request, session, url_for

from gis.errors import InvalidInput
from gis.users import authenticate, units_of_hromadas
from layers import assets, moderation, reports, roads, unit_day
from layers.admin_areas import hromadas_by_ids
from layers.base import label
from webmap.access import auth_epoch, chosen_hromada, current_actor, current_user, hromada_roles
from webmap.database import connection, engine
from webmap.extensions import limiter, login_rate_limit
from webmap.forms import (
    AssignForm,
    LoginForm,
    ModerationForm,
    NoteForm,
    StatusForm,
    TemplateForm,
    TransferForm,
    raise_for,
)
from webmap.i18n import current_lang, t
from webmap.idempotency import public_url
from webmap.mapview import point_map
from webmap.tiles import tile_memory

bp = Blueprint("staff", __name__, url_prefix="/staff")
WORKING_ROLES = ("unit_staff", "admin")
AGES = {"1": 1, "7": 7, "30": 30}


def _plans_landing(user, wanted: str | None = None) -> str | None:
    """Where a planner who works nowhere as staff or admin starts: the plans of their hromada (the one
    ``wanted`` names by KATOTTG if they plan there, else the first by name). None for anyone who works
    somewhere (the queue is theirs) or plans nowhere (#19)."""
    if any(held & set(WORKING_ROLES) for held in user.grants.values()):
        return None
    planning = hromadas_by_ids(connection(), [h for h, held in user.grants.items() if "planner" in held])
    if not planning:
        return None
    chosen = next((h for h in planning if h["katottg"] == wanted), planning[0])
    return url_for("plans.plan_list", code=chosen["katottg"])


def _planners_to_their_plans(view):
    """The queue is not a planner's: one who is only a planner goes to their plans, not to a 403."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        user = current_user()
        landing = _plans_landing(user, request.args.get("hromada")) if user is not None else None
        return redirect(landing) if landing else view(*args, **kwargs)
    return wrapped


def report_hromada(code: str, **_) -> int:
    """The hromada of the report a view is about (404 when there is none)."""
    return reports.report_hromada_id(connection(), code)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def login():
    form = LoginForm()
    failed = False
    if request.method == "POST":
        if form.validate():
            user = authenticate(connection(), form.email.data, form.password.data)
            if user is not None:
                session.clear()
                session["user_id"] = user.id
                session["auth_epoch"] = auth_epoch(user.id)
                target = request.args.get("next") or ""
                # Only local paths: never an open redirect.
                if not target.startswith("/") or target.startswith("//"):
                    target = _plans_landing(user) or url_for(".queue")
                return redirect(target)
        failed = True
    return render_template("staff/login.html", form=form, failed=failed), 401 if failed else 200


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("pages.index"))


@bp.get("/")
@_planners_to_their_plans
@hromada_roles(*WORKING_ROLES, hromada=chosen_hromada(*WORKING_ROLES))
def queue():
    """The queue of one hromada (``?hromada=KATOTTG``, else the first where the user works)."""
    conn, actor, args = connection(), current_actor(), request.args
    rows = reports.staff_queue(
        conn, g.hromada_id, unit_ids=None if actor.is_admin_of(g.hromada_id) else actor.unit_ids,
        status=args.get("status"), category=args.get("category"), village=args.get("village"),
        older_than_days=AGES.get(args.get("age")), assigned_to=current_user().id if args.get("mine") else None)
    categories = reports.queue_categories(conn, g.hromada_id)
    villages = sorted({r["village"] for r in rows if r["village"]})
    mine = [h for h, held in current_user().grants.items() if held & set(WORKING_ROLES)]
    hromadas = hromadas_by_ids(conn, mine)
    return render_template("staff/queue.html", rows=rows, args=args, statuses=reports.STATUSES,
                           categories=categories, villages=villages, user=current_user(),
                           hromadas=hromadas, hromada_id=g.hromada_id)


@bp.get("/reports/<code>")
@hromada_roles(*WORKING_ROLES, hromada=report_hromada)
def report_detail(code: str):
    return _render_detail(code)


def _render_detail(code: str):
    conn, actor = connection(), current_actor()
    row = reports.find_report(conn, code)
    reports.require_access(actor, row)
    status_form = StatusForm()
    status_form.status.choices = _status_choices(row["status"])
    transfer_form = TransferForm()
    transfer_form.unit_id.choices = [(u.id, u.name_uk if current_lang() == "uk" else (u.name_en or u.name_uk))
                                     for u in units_of_hromadas(conn, [row["unit_id"]]) if u.id != row["unit_id"]]
    photos = reports.photo_positions(conn, row["id"], staff=True)
    hidden_photos = reports.hidden_photo_positions(conn, row["id"])
    subscribers = reports.subscriber_count(conn, row["id"])
    road_segment = roads.find_segment(conn, row["asset_id"]) if row["asset_id"] else None
    templates = unit_day.templates_for(conn, row["hromada_id"], row["category_id"])
    chosen = next((t_["body"] for t_ in templates if str(t_["id"]) == request.args.get("template")), "")
    return render_template(
        "staff/report.html", row=row, road_segment=road_segment, templates=templates, template_text=chosen,
        colleagues=unit_day.colleagues(conn, row),
        road_conditions=[(k, label(v, current_lang())) for k, v in roads.CONDITIONS.items()], photos=photos,
        history=reports.history(conn, row["id"], staff=True),
        statuses=reports.STATUSES, status_form=status_form, transfer_form=transfer_form,
        note_form=NoteForm(), moderation_form=ModerationForm(), hidden_photos=hidden_photos,
        subscribers=subscribers, user=current_user(), messages=get_flashed_messages(),
        place_map=point_map(row["lat"], row["lon"], row["code"], current_lang(),
                            asset=assets.asset_outline(conn, row["asset_id"]) if row["asset_id"] else None),
    )


def _status_choices(status: str) -> list[tuple[str, str]]:
    """The statuses a report may move to, after an empty first choice: nothing is preselected, so
    sending the form unchanged changes nothing (a resolved report is not reopened by default)."""
    lang = current_lang()
    return [("", t("choose_status")), *((s, getattr(reports.STATUSES[s], lang)) for s in reports.TRANSITIONS[status])]


def _act(code: str, form, action):
    """Validate a staff form, apply ``action(conn, form)`` in one transaction, back to the report."""
    if not form.validate():
        raise_for(form)
    with engine().begin() as conn:
        action(conn, form)
    flash(t("staff_saved"))  # shown once on the report it returns to
    return redirect(url_for(".report_detail", code=code))


@bp.post("/reports/<code>/status")
@hromada_roles(*WORKING_ROLES, hromada=report_hromada)
def report_status(code: str):
    def act(conn, f):
        reports.change_status(conn, code, f.status.data, current_actor(), public_url=public_url(),
                              public_note=f.public_note.data, private_note=f.private_note.data,
                              duplicate_of=f.duplicate_of.data)
        if f.repair_condition.data:
            roads.record_repair(conn, code, f.repair_condition.data, current_actor().user_id,
                                note=f.public_note.data)
    return _act(code, StatusForm(), act)


@bp.post("/reports/<code>/transfer")
@hromada_roles(*WORKING_ROLES, hromada=report_hromada)
def report_transfer(code: str):
    return _act(code, TransferForm(), lambda conn, f: reports.transfer(
        conn, code, f.unit_id.data, f.reason.data, current_actor(), public_url=public_url()))


@bp.post("/reports/<code>/moderate")
@hromada_roles(*WORKING_ROLES, hromada=report_hromada)
def report_moderate(code: str):
    def act(conn, f):
        actor, action = current_actor(), f.action.data
        if action in ("hide_photo", "show_photo"):
            if not (f.position.data or "").isdigit():
                raise InvalidInput("Оберіть фото", "Choose the photo")
            moderation.set_photo_hidden(conn, code, int(f.position.data), action == "hide_photo", actor)
        elif action == "redact":
            moderation.redact_description(conn, code, f.text.data, actor)
        elif action == "hide":
            moderation.hide_report(conn, code, f.reason.data, actor)
        elif action == "show":
            moderation.show_report(conn, code, actor)
        elif action == "approve":
            moderation.approve(conn, code, actor)
        else:
            raise InvalidInput(f"Невідома дія модерації {action!r}", f"Unknown moderation action {action!r}")
    answer = _act(code, ModerationForm(), act)
    # What was hidden must not be served again from this process's tile memory (proxies keep tiles
    # for a minute at most: webmap.tiles.CACHE).
    tile_memory().forget_layer(reports.REPORTS.name)
    return answer


@bp.post("/reports/<code>/assign")
@hromada_roles(*WORKING_ROLES, hromada=report_hromada)
def report_assign(code: str):
    def act(conn, f):
        value = (f.user_id.data or "").strip()
        if value and not value.isdigit():
            raise InvalidInput("Оберіть людину зі списку", "Choose a person from the list")
        unit_day.assign(conn, code, int(value) if value else None, current_actor())
    return _act(code, AssignForm(), act)


@bp.get("/templates")
@hromada_roles("admin", hromada=chosen_hromada("admin"))
def templates_page():
    """The hromada's response templates (its administrators keep them)."""
    conn = connection()
    return render_template("staff/templates.html", templates=unit_day.templates_for(conn, g.hromada_id),
                           categories=reports.queue_categories(conn, g.hromada_id), form=TemplateForm(),
                           user=current_user(), messages=get_flashed_messages())


@bp.post("/templates")
@hromada_roles("admin", hromada=chosen_hromada("admin"))
def template_save():
    form = TemplateForm()
    if not form.validate():
        raise_for(form)
    with engine().begin() as conn:
        category = (form.category.data or "").strip()
        category_id = next((c["id"] for c in reports.queue_categories(conn, g.hromada_id) if c["code"] == category),
                           None) if category else None
        if form.delete.data:
            unit_day.delete_template(conn, g.hromada_id, int(form.delete.data))
        else:
            unit_day.save_template(conn, g.hromada_id, form.title.data, form.body.data, category_id)
    flash(t("staff_saved"))
    return redirect(url_for(".templates_page", hromada=request.args.get("hromada")))


@bp.post("/reports/<code>/note")
@hromada_roles(*WORKING_ROLES, hromada=report_hromada)
def report_note(code: str):
    return _act(code, NoteForm(), lambda conn, f: reports.add_note(
        conn, code, current_actor(), public_note=f.public_note.data, private_note=f.private_note.data,
        public_url=public_url()))
