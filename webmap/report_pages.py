"""Public pages of a report: status, history, photos — and the reporter's private view by token."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from gis.errors import NotFound
from layers import reports
from webmap.database import connection
from webmap.i18n import current_lang
from webmap.mapview import point_map

bp = Blueprint("report_pages", __name__)


@bp.get("/reports/<code>")
def report_page(code: str):
    conn = connection()
    public = reports.public_report(conn, code)
    own = None
    token = request.args.get("token")
    if token:
        row = reports.find_report(conn, code)
        if not reports.token_matches(row, token):
            raise NotFound("Посилання недійсне", "This link is not valid")
        # The private link shows the reporter what they gave us, and only to them.
        own = {"name": row["reporter_name"], "email": row["reporter_email"], "phone": row["reporter_phone"]}
    place_map = point_map(public["location"]["lat"], public["location"]["lon"], public["code"], current_lang())
    page = render_template("report.html", report=public, own=own, statuses=reports.STATUSES, place_map=place_map)
    if own is None:
        return page
    # The private link carries a secret: not kept in caches, not sent on as a referrer.
    return page, 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.get("/reports/<code>/photos/<int:position>.jpg")
def report_photo(code: str, position: int):
    return _photo(code, position, "data")


@bp.get("/reports/<code>/photos/<int:position>-thumb.jpg")
def report_photo_thumb(code: str, position: int):
    return _photo(code, position, "thumb")


def _photo(code: str, position: int, column: str) -> Response:
    data = reports.photo_bytes(connection(), code, position, thumb=column == "thumb")
    return Response(data, mimetype="image/jpeg",
                    headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})
