"""Public pages of a report: status, history, photos — and the reporter's private view by token."""
from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask import Blueprint, Response, render_template, request

from gis.errors import InvalidInput, NotFound
from layers import fixed_check, reports
from webmap.access import current_user
from webmap.cabinet import signed_in_resident
from webmap.database import connection, engine
from webmap.extensions import csrf, limiter, report_rate_limit
from webmap.i18n import current_lang, t
from webmap.idempotency import public_url
from webmap.mapview import point_map
from webmap.reports_api import read_uploaded_photos

bp = Blueprint("report_pages", __name__)


@bp.get("/reports/<code>")
def report_page(code: str, notice: str | None = None):
    conn = connection()
    own = None
    token = request.args.get("token")
    resident = signed_in_resident()
    row = reports.find_report(conn, code) if token or resident else None
    if token and not reports.token_matches(row, token):
        raise NotFound("Посилання недійсне", "This link is not valid")
    # The private link, or the reporter signed in to their cabinet, shows what they gave us, only to them.
    if token or (resident and (row["reporter_email"] or "").lower() == resident):
        own = {"name": row["reporter_name"], "email": row["reporter_email"], "phone": row["reporter_phone"],
               "hidden_reason": row["hidden_reason"], "awaiting_approval": row["awaiting_approval"]}
    public = reports.public_report(conn, code, own=own is not None)
    place_map = point_map(public["location"]["lat"], public["location"]["lon"], public["code"], current_lang())
    if own is not None and request.args.get("sent"):  # just filed with the plain form (webmap.report_form)
        notice = t("report_sent_keep_link").format(code=public["code"])
    page = render_template("report.html", report=public, own=own, statuses=reports.STATUSES, place_map=place_map,
                           is_open=reports.STATUSES[public["status"]].is_open, notice=notice)
    if own is None:
        return page
    # The private link carries a secret: not kept in caches, not sent on as a referrer.
    return page, 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.post("/reports/<code>/follow")
@csrf.exempt
@limiter.limit(report_rate_limit)
def follow_form(code: str):
    """The report page's own "me too" and "follow" (a plain form: works without JavaScript).

    No CSRF token: the public page sets no cookie, and the worst a forged post can do is count a
    "me too" or send a confirmation request that nobody confirms (double opt-in)."""
    action = request.form.get("action")
    email = (request.form.get("email") or "").strip() or None
    if email is not None:
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            raise InvalidInput(f"«{email}» — не адреса електронної пошти",
                               f"“{email}” is not an e-mail address") from None
    with engine().begin() as conn:
        if action == "me_too":
            result = reports.me_too(conn, code, email, public_url=public_url())
        elif action == "follow":
            result = reports.follow(conn, code, email, public_url=public_url())
        else:
            raise InvalidInput("Оберіть «Я теж» або «Стежити»", "Choose “Me too” or “Follow”")
    lines = [t("me_too_done")] if action == "me_too" else []
    if result.get("follow"):
        lines.append(t(f"follow_{result['follow']}"))
    return report_page(code, notice=" ".join(lines))


@bp.route("/reports/<code>/fixed/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed, single-use link is the proof
def is_it_fixed(code: str, token: str):
    """The reporter's answer to "is it fixed?" (layers.fixed_check): a form, then its answer."""
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    if request.method == "GET":
        fixed_check.question(connection(), code, token)  # a used or stale link says so at once
        return render_template("fixed.html", code=code, token=token, done=None), 200, headers
    choice = request.form.get("fixed")
    if choice not in ("yes", "no"):
        raise InvalidInput("Оберіть «так» або «ні»", "Choose “yes” or “no”")
    photos = tuple(read_uploaded_photos()) if choice == "no" else ()
    with engine().begin() as conn:
        status = fixed_check.answer(conn, code, token, fixed=choice == "yes", comment=request.form.get("comment"),
                                    photos=photos, public_url=public_url())
    return render_template("fixed.html", code=code, token=token, done=choice, status=status), 200, headers


@bp.get("/reports/<code>/photos/<int:position>.jpg")
def report_photo(code: str, position: int):
    return _photo(code, position, "data")


@bp.get("/reports/<code>/photos/<int:position>-thumb.jpg")
def report_photo_thumb(code: str, position: int):
    return _photo(code, position, "thumb")


def _photo(code: str, position: int, column: str) -> Response:
    user = current_user()
    staff_hromadas = frozenset(h for h, roles in (user.grants if user else {}).items()
                               if set(roles) & {"admin", "unit_staff"})
    conn = connection()
    data = reports.photo_bytes(conn, code, position, thumb=column == "thumb", staff_hromadas=staff_hromadas)
    # Kept by caches for minutes, not a day: a photo a moderator hides (a face, a licence plate) goes soon.
    cache = "private, no-store" if staff_hromadas else "public, max-age=600"
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})
