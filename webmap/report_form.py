"""The report form as a plain HTML form: a resident files a report with no JavaScript at all.

GET  /reports/new?hromada=<KATOTTG>   the form alone (no map): the place as an address or a village,
                                      or coordinates; the hromada's categories; photos as file inputs
POST /reports/new?hromada=<KATOTTG>   files the report and answers 303 to the reporter's private page
                                      (tracking code, status); a problem re-renders the form with what
                                      was typed kept, the reason and, for a place not found, the closest
                                      matches to choose from

The map page's form posts here too when its script did not run (report.js otherwise sends it to
/api/reports). No CSRF token, as the report page's own forms: the public pages set no cookie, and
a forged post can do no more than anyone may do here directly — file a report (rate-limited).
A plain form has no Idempotency-Key header, and the page that holds it may be cached: the key is
what was sent and who sent it (the fields, the photos' bytes, the client's address), so a second
press of "send", or a resend after a lost answer, gets the first report back instead of a copy.
"""
from __future__ import annotations

import hashlib

from flask import Blueprint, redirect, render_template, request

from gis.errors import HromadaError, InvalidInput
from gis.routing import categories_in
from layers import admin_areas, places, reports
from webmap import api_models as m
from webmap.database import connection
from webmap.extensions import csrf, limiter, report_rate_limit
from webmap.i18n import current_lang, t
from webmap.idempotency import public_url, request_fingerprint, run_once
from webmap.openapi import read_body
from webmap.reports_api import read_uploaded_photos

bp = Blueprint("report_form", __name__)

# What the form keeps when it comes back with a problem (photos cannot be kept: the browser forgets them).
KEPT_FIELDS = ("place", "lat", "lon", "category", "description", "name", "email", "phone", "show_name")


def form_context(conn, summary, *, values: dict | None = None, error: str | None = None,
                 suggestions: list[dict] | None = None) -> dict:
    """What partials/report_form.html needs: the hromada, its categories (routing to a unit happens
    when the report is sent, at its point) and, after a problem, the values,
    the message and the places the resident may have meant."""
    return {"hromada_code": summary["katottg"], "form_categories": categories_in(conn, summary["id"]),
            "form_values": values or {}, "form_error": error,
            "form_suggestions": suggestions or []}


def _hromada_summary(conn):
    code = request.args.get("hromada") or request.form.get("hromada")
    if not code:
        from gis.config import default_hromada

        code = default_hromada()
    return admin_areas.hromada_summary(conn, code)


def _page(conn, summary, status: int = 200, **context):
    name = summary["name_en"] if current_lang() == "en" and summary["name_en"] else summary["name_uk"]
    return render_template("report_new.html", hromada_name=name, **form_context(conn, summary, **context)), status


@bp.get("/reports/new")
def form():
    conn = connection()
    summary = _hromada_summary(conn)
    values = {k: request.args[k] for k in ("lat", "lon", "place", "category") if request.args.get(k)}
    return _page(conn, summary, values=values)


@bp.post("/reports/new")
@csrf.exempt
@limiter.limit(report_rate_limit)
def submit():
    conn = connection()
    summary = _hromada_summary(conn)
    values = {k: request.form.get(k, "") for k in KEPT_FIELDS}
    try:
        fingerprint = request_fingerprint()  # what was typed and the photos' bytes, before they are read
        key = hashlib.sha256(f"{fingerprint}:{request.remote_addr}".encode()).hexdigest()
        photos = read_uploaded_photos()
        fields = _with_place(conn, summary["id"], request.form.to_dict(), photos)
        data = read_body_of(fields)
        new = reports.NewReport(
            lon=data.lon, lat=data.lat, category=data.category.strip(), description=data.description,
            name=data.name, email=data.email, phone=data.phone, show_name=data.show_name,
            asset_id=data.asset_id, photos=photos)
        answer, _status = run_once("report-form", key, fingerprint, 201,
                                   lambda c: reports.create_report(c, new, public_url=public_url()))
    except places.PlaceNotFound as exc:
        return _page(conn, summary, exc.http_status, values=values, error=_with_photo_note(exc.message(current_lang())),
                     suggestions=exc.suggestions)
    except HromadaError as exc:
        return _page(conn, summary, exc.http_status, values=values, error=_with_photo_note(exc.message(current_lang())))
    # The private link shows the tracking code and the status; after "send", a reload does not send again.
    target = answer.get("private_url") or answer["public_url"]
    return redirect(target + ("&" if "?" in target else "?") + "sent=1", 303)


def read_body_of(fields: dict) -> m.ReportIn:
    """The form's fields checked as the report API checks them (one model, one set of messages)."""
    return read_body(None, m.ReportIn, data=fields)


def _with_place(conn, hromada_id: int, fields: dict, photos) -> dict:
    """The form's fields with ``lat``/``lon`` set: as typed, else from a place the resident chose
    among the suggestions, else from the address or village typed in ``place``, else where the
    first photo with a GPS position was taken."""
    fields = {k: v for k, v in fields.items() if k not in ("place", "place_choice", "hromada")}
    if (fields.get("lat") or "").strip() or (fields.get("lon") or "").strip():
        return fields
    choice = (request.form.get("place_choice") or "").strip()
    if choice:
        lat, _, lon = choice.partition(",")
        return {**fields, "lat": lat, "lon": lon}
    text = (request.form.get("place") or "").strip()
    taken_at = next((p.position for p in photos if p.position), None)
    if not text and taken_at:
        return {**fields, "lon": str(taken_at[0]), "lat": str(taken_at[1])}
    if not text:
        raise InvalidInput("Вкажіть місце: адресу, село або координати",
                           "Give the place: an address, a village or coordinates")
    found = places.place_for(conn, text, hromada_id=hromada_id)
    return {**fields, "lat": str(found["lat"]), "lon": str(found["lon"])}


def _with_photo_note(message: str) -> str:
    """A form that comes back has lost its photos (browsers do not keep chosen files): say so."""
    if any(u and u.filename for u in request.files.getlist("photos")):
        return f"{message} {t('choose_photos_again')}"
    return message
