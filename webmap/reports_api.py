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
from webmap import api_models as m
from webmap.database import connection
from webmap.extensions import limiter, report_rate_limit
from webmap.idempotency import idempotency_key, public_url, request_fingerprint, run_once
from webmap.openapi import body, documented

bp = Blueprint("reports_api", __name__, url_prefix="/api")


@bp.get("/csrf-token")
@documented(summary="A CSRF token for a client that did not load a page (starts a session; not cached)",
            tags=("reports",),
            ok=m.CsrfToken)
def csrf_token():
    # The one GET that starts a visitor's session (forms ask for it when first sent): never cached.
    return jsonify({"csrf_token": generate_csrf()}), 200, {"Cache-Control": "no-store"}


@bp.get("/reports/categories")
@documented(summary="The hromada at the point and the categories some unit handles there", tags=("reports",),
            query=m.PointQuery, ok=m.ReportCategories, errors=(422,),
            description="A point outside every hromada is a 422.")
def report_categories():
    hromada, rows = categories_at(connection(), request.args.get("lon"), request.args.get("lat"))
    return jsonify({
        "hromada": {"katottg": hromada.katottg, "uk": hromada.name_uk, "en": hromada.name_en},
        "categories": [{"code": r.code, "uk": r.name_uk, "en": r.name_en} for r in rows],
    })


@bp.get("/reports/nearby")
@documented(summary="Open reports (of the category) within 100 m, nearest first", tags=("reports",),
            query=m.NearbyQuery,
            ok=m.NearbyReports, errors=(422,))
def report_nearby():
    return jsonify({"reports": reports.nearby_open(
        connection(), request.args.get("lon"), request.args.get("lat"), request.args.get("category") or None)})


@bp.get("/reports/assets")
@documented(summary="The lamps or road segments a category is about within 100 m, nearest first", tags=("reports",),
            query=m.AssetsQuery, ok=m.NearbyAssets, errors=(422,))
def report_assets():
    category = (request.args.get("category") or "").strip()
    if not category:
        raise InvalidInput("Вкажіть категорію (category)", "Give the category (category)")
    conn = connection()
    kind = category_asset_kind(conn, category)
    return jsonify({"kind": ASSET_KINDS.get(kind), "assets": assets_near(
        conn, request.args.get("lon"), request.args.get("lat"), category)})


@bp.get("/reports/<code>")
@documented(summary="The public view of a report (no personal data)", tags=("reports",), ok=m.PublicReport,
            path={"code": {"examples": ["ЯК-2026-000001"]}})
def report_public(code: str):
    return jsonify(reports.public_report(connection(), code))


def read_uploaded_photos() -> list:
    """The request's ``photos`` files (up to MAX_PHOTOS), checked, shrunk and stripped of EXIF."""
    uploads = [u for u in request.files.getlist("photos") if u and u.filename]
    if len(uploads) > MAX_PHOTOS:
        raise InvalidInput(f"Забагато фото: {len(uploads)}, можна до {MAX_PHOTOS}",
                           f"Too many photos: {len(uploads)}, at most {MAX_PHOTOS}")
    return [process_photo(u.read(), u.filename) for u in uploads]


@bp.post("/reports")
@limiter.limit(report_rate_limit)
@documented(summary="A new report: a multipart form (with up to 3 photos) or JSON", tags=("reports",), json=m.ReportIn,
            form=m.ReportMultipartIn, headers=m.WriteHeaders, ok=m.ReportCreated, status=201,
            errors=(413, 422, 429), description=(
                "Needs the CSRF token (X-CSRFToken, or csrf_token in the form); rate-limited per client. A "
                "“lamp not working” report on a lamp that already has an open one joins it (joined_existing: "
                "true, the existing code, no private link). Idempotency-Key makes retries safe."))
def report_create():
    data: m.ReportIn = body()
    key = idempotency_key()
    fingerprint = request_fingerprint() if key else None  # before the photos' streams are read
    new = reports.NewReport(
        lon=data.lon, lat=data.lat, category=data.category.strip(), description=data.description, name=data.name,
        email=data.email, phone=data.phone, show_name=data.show_name, asset_id=data.asset_id,
        photos=read_uploaded_photos())
    answer, status = run_once("report", key, fingerprint, 201,
                           lambda conn: reports.create_report(conn, new, public_url=public_url()))
    return jsonify(answer), status, {"Location": answer["public_url"]} if status == 201 else {}


@bp.post("/speed-tests")
@limiter.limit(report_rate_limit)
@documented(summary="A resident's own speed measurement", tags=("reports",), json=m.SpeedTestIn, form=m.SpeedTestIn,
            headers=m.WriteHeaders, ok=m.SpeedTestStored, status=201, errors=(422, 429),
            description="Needs the CSRF token; rate-limited like reports; stored in kbit/s, nothing about the person.")
def speed_test_create():
    data: m.SpeedTestIn = body()
    key = idempotency_key()
    answer, status = run_once("speed-test", key, request_fingerprint() if key else None, 201,
                           lambda conn: submit_speed_test(
                               conn, lon=data.lon, lat=data.lat, down_mbps=data.down_mbps, up_mbps=data.up_mbps,
                               network=data.network, latency_ms=data.latency_ms, provider=data.provider))
    return jsonify(answer), status


@bp.post("/reports/<code>/me-too")
@limiter.limit(report_rate_limit)
@documented(summary="Support an open report; with an e-mail, follow its updates", tags=("reports",), json=m.MeTooIn,
            form=m.MeTooIn, headers=m.WriteHeaders, ok=m.MeToo, errors=(409, 422, 429))
def report_me_too(code: str):
    data: m.MeTooIn = body()
    key = idempotency_key()
    answer, status = run_once(f"me-too:{code}", key, request_fingerprint() if key else None, 200,
                           lambda conn: reports.me_too(conn, code, data.email, public_url=public_url()))
    return jsonify(answer), status


@bp.post("/reports/<code>/follow")
@limiter.limit(report_rate_limit)
@documented(summary="Follow a report's updates by e-mail (double opt-in)", tags=("reports",), json=m.FollowIn,
            form=m.FollowIn, headers=m.WriteHeaders, ok=m.Following, errors=(429,),
            description="`follow`: `following` (a confirmed address), `confirm` (a confirmation link was mailed; "
                        "nothing else is sent until it is used) or `stopped` (the address asked for no mail).")
def report_follow(code: str):
    data: m.FollowIn = body()
    key = idempotency_key()
    answer, status = run_once(f"follow:{code}", key, request_fingerprint() if key else None, 200,
                              lambda conn: reports.follow(conn, code, data.email, public_url=public_url()))
    return jsonify(answer), status

