"""Staff side: log-in, the unit's queue of reports, a report's page and the actions on it.

Unit staff see and act on their own units' reports only (another unit's report is a 403); a
hromada's administrators see every report of that hromada, and nobody sees another hromada's. Every form carries a CSRF token; log-in attempts are throttled per client.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, g, redirect, render_template, request, session, url_for

from gis.users import authenticate, units_of_hromadas
from layers import reports, roads
from layers.base import label
from webmap.access import auth_epoch, chosen_hromada, current_actor, current_user, hromada_id_by_sql, hromada_roles
from webmap.database import connection, engine
from webmap.extensions import limiter, login_rate_limit
from webmap.forms import LoginForm, NoteForm, StatusForm, TransferForm, raise_for
from webmap.i18n import current_lang
from webmap.mapview import point_map
from webmap.reports_api import public_url

bp = Blueprint("staff", __name__, url_prefix="/staff")
WORKING_ROLES = ("unit_staff", "admin")
AGES = {"1": 1, "7": 7, "30": 30}
report_hromada = hromada_id_by_sql("SELECT hromada_id FROM report WHERE code = :code")


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
                    target = url_for(".queue")
                return redirect(target)
        failed = True
    return render_template("staff/login.html", form=form, failed=failed), 401 if failed else 200


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("pages.index"))


@bp.get("/")
@hromada_roles(*WORKING_ROLES, hromada=chosen_hromada(*WORKING_ROLES))
def queue():
    """The queue of one hromada (``?hromada=KATOTTG``, else the first where the user works)."""
    actor = current_actor()
    args = request.args
    conditions, params = ["r.hromada_id = :hromada"], {"hromada": g.hromada_id}
    if not actor.is_admin_of(g.hromada_id):
        conditions.append("r.unit_id = ANY(:units)")
        params["units"] = list(actor.unit_ids)
    if args.get("status") == "open" or not args.get("status"):
        conditions.append("r.status = ANY(:open)")
        params["open"] = list(reports.OPEN_STATUSES)
    elif args.get("status") in reports.STATUSES:
        conditions.append("r.status = :status")
        params["status"] = args["status"]
    if args.get("category"):
        conditions.append("c.code = :category")
        params["category"] = args["category"]
    if args.get("village"):
        conditions.append("s.name_uk = :village")
        params["village"] = args["village"]
    if args.get("age") in AGES:
        conditions.append("r.created_at < now() - make_interval(days => :age)")
        params["age"] = AGES[args["age"]]
    where = " AND ".join(conditions) or "true"
    rows = connection().execute(sa.text(f"""
        SELECT r.code, r.status, r.description, r.created_at, r.due_at, r.due_at < now() AS overdue,
               c.code AS category, c.name_uk AS category_uk, c.name_en AS category_en,
               u.name_uk AS unit_uk, u.name_en AS unit_en, s.name_uk AS village
        FROM report r JOIN category c ON c.id = r.category_id JOIN unit u ON u.id = r.unit_id
        LEFT JOIN LATERAL (SELECT name_uk FROM settlement s WHERE s.hromada_id = r.hromada_id
                           AND ST_Intersects(s.boundary, r.location) LIMIT 1) s ON true
        WHERE {where} ORDER BY r.due_at, r.id LIMIT 500"""), params).mappings().all()
    categories = connection().execute(sa.text(
        "SELECT code, name_uk, name_en FROM category WHERE hromada_id IS NULL OR hromada_id = :h ORDER BY id"),
        {"h": g.hromada_id}).all()
    villages = sorted({r["village"] for r in rows if r["village"]})
    mine = [h for h, held in current_user().grants.items() if held & set(WORKING_ROLES)]
    hromadas = connection().execute(sa.text(
        "SELECT id, katottg, name_uk, name_en FROM hromada WHERE id = ANY(:ids) ORDER BY name_uk"),
        {"ids": mine}).mappings().all()
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
    photos = [p for p, in conn.execute(sa.text(
        "SELECT position FROM report_photo WHERE report_id = :id ORDER BY position"), {"id": row["id"]})]
    subscribers = conn.execute(sa.text(
        "SELECT count(*) FROM report_subscriber WHERE report_id = :id"), {"id": row["id"]}).scalar()
    road_segment = conn.execute(sa.text("SELECT id, name, ref FROM road_segment WHERE id = :id"),
                                {"id": row["asset_id"]}).first() if row["asset_id"] else None
    return render_template(
        "staff/report.html", row=row, road_segment=road_segment,
        road_conditions=[(k, label(v, current_lang())) for k, v in roads.CONDITIONS.items()], photos=photos, history=reports.history(conn, row["id"], staff=True),
        statuses=reports.STATUSES, status_form=status_form, transfer_form=transfer_form,
        note_form=NoteForm(), subscribers=subscribers, user=current_user(),
        place_map=point_map(row["lat"], row["lon"], row["code"], current_lang()),
    )


def _status_choices(status: str) -> list[tuple[str, str]]:
    lang = current_lang()
    return [(s, getattr(reports.STATUSES[s], lang)) for s in reports.TRANSITIONS[status]]


def _act(code: str, form, action):
    """Validate a staff form, apply ``action(conn, form)`` in one transaction, back to the report."""
    if not form.validate():
        raise_for(form)
    with engine().begin() as conn:
        action(conn, form)
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
        conn, code, f.unit_id.data, f.reason.data, current_actor()))


@bp.post("/reports/<code>/note")
@hromada_roles(*WORKING_ROLES, hromada=report_hromada)
def report_note(code: str):
    return _act(code, NoteForm(), lambda conn, f: reports.add_note(
        conn, code, current_actor(), public_note=f.public_note.data, private_note=f.private_note.data))
