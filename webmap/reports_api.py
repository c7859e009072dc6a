"""Residents' side of the open city: what can be reported here, similar reports, submitting, "me too".

GET  /api/reports/categories?lat=&lon=   the hromada at the point and the categories handled there
GET  /api/reports/nearby?lat=&lon=&category=   open reports of the category within 100 m
POST /api/reports                        a new report (multipart form or JSON; CSRF token; photos;
                                         Idempotency-Key header; rate-limited per client)
POST /api/reports/<code>/me-too          support an open report, optionally follow it by e-mail
GET  /api/reports/<code>                 the public view of a report (no personal data)
GET  /api/csrf-token                     a CSRF token for a client that did not load a page
"""
from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request
from flask_wtf.csrf import generate_csrf

from gis.errors import InvalidInput, Unprocessable
from gis.photos import MAX_PHOTOS, process_photo
from gis.routing import categories_at
from layers import reports
from webmap.database import connection, engine
from webmap.extensions import limiter, report_rate_limit
from webmap.forms import MeTooForm, ReportForm, raise_for

bp = Blueprint("reports_api", __name__, url_prefix="/api")


def public_url() -> str:
    return (current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")


@bp.get("/csrf-token")
def csrf_token():
    return jsonify({"csrf_token": generate_csrf()})


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


@bp.get("/reports/<code>")
def report_public(code: str):
    return jsonify(reports.public_report(connection(), code))


def _json_body_checked() -> None:
    if request.mimetype == "application/json" and request.get_json(silent=True) is None:
        raise InvalidInput("Тіло запиту — не правильний JSON-об'єкт", "The request body is not a valid JSON object")
    if request.is_json and not isinstance(request.get_json(silent=True), dict):
        raise InvalidInput("Очікується JSON-об'єкт", "A JSON object is expected")


def _request_fingerprint() -> str:
    """What the request asked for: form or JSON fields and the photos' bytes."""
    digest = hashlib.sha256()
    fields = request.get_json(silent=True) if request.is_json else request.form.to_dict(flat=False)
    digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
    for upload in request.files.getlist("photos"):
        digest.update(hashlib.sha256(upload.stream.read()).digest())
        upload.stream.seek(0)
    return digest.hexdigest()


def _read_photos() -> list:
    uploads = [u for u in request.files.getlist("photos") if u and u.filename]
    if len(uploads) > MAX_PHOTOS:
        raise InvalidInput(f"Забагато фото: {len(uploads)}, можна до {MAX_PHOTOS}",
                           f"Too many photos: {len(uploads)}, at most {MAX_PHOTOS}")
    return [process_photo(u.read(), u.filename) for u in uploads]


@bp.post("/reports")
@limiter.limit(report_rate_limit)
def report_create():
    _json_body_checked()
    form = ReportForm()
    if not form.validate():
        raise_for(form)
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 200:
        raise InvalidInput("Idempotency-Key задовгий (до 200 знаків)", "Idempotency-Key is too long (200 at most)")
    new = reports.NewReport(
        lon=form.lon.data, lat=form.lat.data, category=form.category.data.strip(),
        description=form.description.data, name=form.name.data, email=form.email.data, phone=form.phone.data,
        show_name=form.show_name.data, asset_id=form.asset_id.data, photos=_read_photos())
    fingerprint = _request_fingerprint() if key else None
    with engine().begin() as conn:
        if key:
            earlier = _claim_idempotency_key(conn, key, fingerprint)
            if earlier is not None:
                return jsonify(earlier[1]), earlier[0]
        answer = reports.create_report(conn, new, public_url=public_url())
        if key:
            conn.execute(sa.text("""UPDATE idempotency_key SET status_code = 201, response = CAST(:r AS jsonb)
                                    WHERE scope = 'report' AND key = :k"""), {"r": json.dumps(answer), "k": key})
    return jsonify(answer), 201, {"Location": answer["public_url"]}


def _claim_idempotency_key(conn: sa.Connection, key: str, fingerprint: str):
    """None when this request is the first with ``key``; else the first answer (status, body).

    A concurrent request with the same key waits on the unique key until the first commits.
    """
    claimed = conn.execute(sa.text("""
        INSERT INTO idempotency_key (scope, key, request_hash) VALUES ('report', :k, :h)
        ON CONFLICT DO NOTHING RETURNING key"""), {"k": key, "h": fingerprint}).first()
    if claimed is not None:
        return None
    earlier = conn.execute(sa.text("""SELECT request_hash, status_code, response FROM idempotency_key
                                      WHERE scope = 'report' AND key = :k"""), {"k": key}).one()
    if earlier.request_hash != fingerprint:
        raise Unprocessable("Цей Idempotency-Key вже використано для іншого запиту",
                            "This Idempotency-Key was already used for a different request")
    return earlier.status_code, earlier.response


@bp.post("/reports/<code>/me-too")
@limiter.limit(report_rate_limit)
def report_me_too(code: str):
    _json_body_checked()
    form = MeTooForm()
    if not form.validate():
        raise_for(form)
    with engine().begin() as conn:
        return jsonify(reports.me_too(conn, code, form.email.data))

