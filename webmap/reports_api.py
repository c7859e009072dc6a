"""Residents' side of the open city: what can be reported here, similar reports, submitting, "me too".

GET  /api/reports/categories?lat=&lon=   the hromada at the point and the categories handled there
GET  /api/reports/nearby?lat=&lon=&category=   open reports of the category within 100 m
GET  /api/reports/assets?lat=&lon=&category=   the lamps (road segments, …) the category is about
                                         within 100 m, nearest first: which one is out
POST /api/reports                        a new report (multipart form or JSON; CSRF token; photos;
                                         Idempotency-Key header; rate-limited per client)
POST /api/speed-tests                    a resident's own speed measurement (lat, lon, down_mbps,
                                         up_mbps, network, latency_ms, provider; CSRF; rate-limited)
POST /api/reports/<code>/me-too          support an open report, optionally follow it by e-mail
GET  /api/reports/<code>                 the public view of a report (no personal data)
GET  /api/csrf-token                     a CSRF token for a client that did not load a page
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_wtf.csrf import generate_csrf

from gis.errors import InvalidInput
from gis.photos import MAX_PHOTOS, process_photo
from gis.routing import ASSET_KINDS, assets_near, categories_at, category_asset_kind
from layers import reports
from layers.connectivity import submit_speed_test
from webmap.database import connection
from webmap.extensions import limiter, report_rate_limit
from webmap.forms import MeTooForm, ReportForm, SpeedTestForm, raise_for, submitted
from webmap.idempotency import idempotency_key, public_url, request_fingerprint, run_once

bp = Blueprint("reports_api", __name__, url_prefix="/api")


@bp.get("/csrf-token")
def csrf_token():
    # The one GET that starts a visitor's session (forms ask for it when first sent): never cached.
    return jsonify({"csrf_token": generate_csrf()}), 200, {"Cache-Control": "no-store"}


@bp.get("/reports/categories")
def report_categories():
    hromada, rows = categories_at(connection(), request.args.get("lon"), request.args.get("lat"))
    return jsonify({
        "hromada": {"katottg": hromada.katottg, "uk": hromada.name_uk, "en": hromada.name_en},
        "categories": [{"code": r.code, "uk": r.name_uk, "en": r.name_en} for r in rows],
    })


@bp.get("/reports/nearby")
def report_nearby():
    return jsonify({"reports": reports.nearby_open(
        connection(), request.args.get("lon"), request.args.get("lat"), request.args.get("category") or None)})


@bp.get("/reports/assets")
def report_assets():
    category = (request.args.get("category") or "").strip()
    if not category:
        raise InvalidInput("Вкажіть категорію (category)", "Give the category (category)")
    conn = connection()
    kind = category_asset_kind(conn, category)
    return jsonify({"kind": ASSET_KINDS.get(kind), "assets": assets_near(
        conn, request.args.get("lon"), request.args.get("lat"), category)})


@bp.get("/reports/<code>")
def report_public(code: str):
    return jsonify(reports.public_report(connection(), code))


def _formdata():
    """The submitted fields, from a form (with its files) or from a JSON object of plain values."""
    return submitted()


def _read_photos() -> list:
    uploads = [u for u in request.files.getlist("photos") if u and u.filename]
    if len(uploads) > MAX_PHOTOS:
        raise InvalidInput(f"Забагато фото: {len(uploads)}, можна до {MAX_PHOTOS}",
                           f"Too many photos: {len(uploads)}, at most {MAX_PHOTOS}")
    return [process_photo(u.read(), u.filename) for u in uploads]


@bp.post("/reports")
@limiter.limit(report_rate_limit)
def report_create():
    form = ReportForm(formdata=_formdata())
    if not form.validate():
        raise_for(form)
    key = idempotency_key()
    fingerprint = request_fingerprint() if key else None  # before the photos' streams are read
    new = reports.NewReport(
        lon=form.lon.data, lat=form.lat.data, category=form.category.data.strip(),
        description=form.description.data, name=form.name.data, email=form.email.data, phone=form.phone.data,
        show_name=form.show_name.data, asset_id=form.asset_id.data, photos=_read_photos())
    answer, status = run_once("report", key, fingerprint, 201,
                           lambda conn: reports.create_report(conn, new, public_url=public_url()))
    return jsonify(answer), status, {"Location": answer["public_url"]} if status == 201 else {}


@bp.post("/speed-tests")
@limiter.limit(report_rate_limit)
def speed_test_create():
    form = SpeedTestForm(formdata=_formdata())
    if not form.validate():
        raise_for(form)
    key = idempotency_key()
    answer, status = run_once("speed-test", key, request_fingerprint() if key else None, 201,
                           lambda conn: submit_speed_test(
                               conn, lon=form.lon.data, lat=form.lat.data, down_mbps=form.down_mbps.data,
                               up_mbps=form.up_mbps.data, network=form.network.data,
                               latency_ms=form.latency_ms.data, provider=form.provider.data))
    return jsonify(answer), status


@bp.post("/reports/<code>/me-too")
@limiter.limit(report_rate_limit)
def report_me_too(code: str):
    form = MeTooForm(formdata=_formdata())
    if not form.validate():
        raise_for(form)
    key = idempotency_key()
    answer, status = run_once(f"me-too:{code}", key, request_fingerprint() if key else None, 200,
                           lambda conn: reports.me_too(conn, code, form.email.data))
    return jsonify(answer), status

