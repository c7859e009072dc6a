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

import hashlib
import json

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request
from flask_wtf.csrf import generate_csrf
from werkzeug.datastructures import CombinedMultiDict, MultiDict

from gis.errors import InvalidInput, Unprocessable
from gis.photos import MAX_PHOTOS, process_photo
from gis.routing import ASSET_KINDS, assets_near, categories_at
from layers import reports
from layers.connectivity import submit_speed_test
from webmap.database import connection, engine
from webmap.extensions import limiter, report_rate_limit
from webmap.forms import MeTooForm, ReportForm, SpeedTestForm, raise_for

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


@bp.get("/reports/assets")
def report_assets():
    category = (request.args.get("category") or "").strip()
    if not category:
        raise InvalidInput("Вкажіть категорію (category)", "Give the category (category)")
    conn = connection()
    kind = conn.execute(sa.text("SELECT asset_kind FROM category WHERE code = :c"), {"c": category}).scalar()
    return jsonify({"kind": ASSET_KINDS.get(kind), "assets": assets_near(
        conn, request.args.get("lon"), request.args.get("lat"), category)})


@bp.get("/reports/<code>")
def report_public(code: str):
    return jsonify(reports.public_report(connection(), code))


def _formdata():
    """The submitted fields, from a form (with its files) or from a JSON object of plain values."""
    if not request.is_json:
        return CombinedMultiDict([request.form, request.files])
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("Тіло запиту — не правильний JSON-об'єкт", "The request body is not a valid JSON object")
    data = MultiDict()
    for key, value in body.items():
        if isinstance(value, (dict, list)):
            raise InvalidInput(f"Поле {key}: очікується одне значення, не список чи об'єкт",
                               f"Field {key}: a single value is expected, not a list or an object")
        if value is None:
            continue
        data.add(key, ("y" if value else "") if isinstance(value, bool) else str(value))
    return data


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


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 200:
        raise InvalidInput("Idempotency-Key задовгий (до 200 знаків)", "Idempotency-Key is too long (200 at most)")
    return key


@bp.post("/reports")
@limiter.limit(report_rate_limit)
def report_create():
    form = ReportForm(formdata=_formdata())
    if not form.validate():
        raise_for(form)
    key = _idempotency_key()
    fingerprint = _request_fingerprint() if key else None  # before the photos' streams are read
    new = reports.NewReport(
        lon=form.lon.data, lat=form.lat.data, category=form.category.data.strip(),
        description=form.description.data, name=form.name.data, email=form.email.data, phone=form.phone.data,
        show_name=form.show_name.data, asset_id=form.asset_id.data, photos=_read_photos())
    answer, status = _once("report", key, fingerprint, 201,
                           lambda conn: reports.create_report(conn, new, public_url=public_url()))
    return jsonify(answer), status, {"Location": answer["public_url"]} if status == 201 else {}


def _once(scope: str, key: str, fingerprint: str | None, status: int, action):
    """Run ``action(conn)`` in a transaction, once per Idempotency-Key: a retry gets the first answer.

    A concurrent request with the same key waits on the key's row until the first commits; the
    same key with a different request is a 422. Without a key, the action simply runs.
    """
    with engine().begin() as conn:
        if key:
            claimed = conn.execute(sa.text("""
                INSERT INTO idempotency_key (scope, key, request_hash) VALUES (:s, :k, :h)
                ON CONFLICT DO NOTHING RETURNING key"""), {"s": scope, "k": key, "h": fingerprint}).first()
            if claimed is None:
                earlier = conn.execute(sa.text("""SELECT request_hash, status_code, response FROM idempotency_key
                                                  WHERE scope = :s AND key = :k"""), {"s": scope, "k": key}).one()
                if earlier.request_hash != fingerprint:
                    raise Unprocessable("Цей Idempotency-Key вже використано для іншого запиту",
                                        "This Idempotency-Key was already used for a different request")
                return earlier.response, earlier.status_code
        answer = action(conn)
        if key:
            conn.execute(sa.text("""UPDATE idempotency_key SET status_code = :st, response = CAST(:r AS jsonb)
                                    WHERE scope = :s AND key = :k"""),
                         {"st": status, "r": json.dumps(answer), "s": scope, "k": key})
    return answer, status


@bp.post("/speed-tests")
@limiter.limit(report_rate_limit)
def speed_test_create():
    form = SpeedTestForm(formdata=_formdata())
    if not form.validate():
        raise_for(form)
    key = _idempotency_key()
    answer, status = _once("speed-test", key, _request_fingerprint() if key else None, 201,
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
    key = _idempotency_key()
    answer, status = _once(f"me-too:{code}", key, _request_fingerprint() if key else None, 200,
                           lambda conn: reports.me_too(conn, code, form.email.data))
    return jsonify(answer), status

