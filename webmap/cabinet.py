"""The resident's cabinet at /cabinet (layers.cabinet): sign in by a mailed link, see one's reports,
follows, proposals and comments, choose how to be told, delete one's account.

The resident is kept in the session as ``resident_email`` (apart from staff's ``user_id``). The
mailed link opens a page with a button, and only its POST signs in: a mail scanner that opens every
link spends nothing.
"""
from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask import Blueprint, redirect, render_template, request, session, url_for

from gis.errors import InvalidInput, Unauthorized
from layers import cabinet, reports
from webmap.database import connection, engine
from webmap.extensions import limiter, login_rate_limit
from webmap.idempotency import public_url

bp = Blueprint("cabinet", __name__, url_prefix="/cabinet")
SESSION_KEY = "resident_email"
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def signed_in_resident() -> str | None:
    """The signed-in resident's address (lower case), or None."""
    return session.get(SESSION_KEY)


def _email(text: str | None) -> str:
    text = (text or "").strip()
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise InvalidInput(f"«{text}» — не адреса електронної пошти", f"“{text}” is not an e-mail address") from None


def _area_subscriptions(conn, email: str) -> list[dict]:
    from layers import area_alerts

    return area_alerts.list_for_email(conn, email)


@bp.get("/")
def home():
    email = signed_in_resident()
    if email is None:
        return render_template("cabinet/sign_in.html"), 200, PRIVATE
    conn = connection()
    return render_template(
        "cabinet/home.html", email=email, reports=cabinet.my_reports(conn, email),
        follows=cabinet.my_follows(conn, email),
        areas=_area_subscriptions(conn, email), proposals=cabinet.my_proposals(conn, email),
        comments=cabinet.my_comments(conn, email), report_updates=cabinet.report_updates(conn, email),
        statuses=reports.STATUSES, saved=request.args.get("saved")), 200, PRIVATE


@bp.post("/sign-in")
@limiter.limit(login_rate_limit)
def ask_for_link():
    email = _email(request.form.get("email"))
    with engine().begin() as conn:
        cabinet.request_link(conn, email, public_url=public_url())
    # The same answer whether a link went out or the address had one a moment ago.
    return render_template("cabinet/sent.html", email=email), 200, PRIVATE


@bp.get("/sign-in/<token>")
def link_page(token: str):
    cabinet.check_link(connection(), token)
    return render_template("cabinet/link.html", token=token), 200, PRIVATE


@bp.post("/sign-in/<token>")
@limiter.limit(login_rate_limit)
def sign_in(token: str):
    with engine().begin() as conn:
        email = cabinet.use_link(conn, token)
    session.pop(SESSION_KEY, None)
    session[SESSION_KEY] = email
    return redirect(url_for("cabinet.home"), 303)


@bp.post("/settings")
def settings():
    email = _signed_in()
    how = request.form.get("report_updates", "")
    areas = request.form.get("area_alerts")
    with engine().begin() as conn:
        cabinet.set_report_updates(conn, email, how)
        if areas:
            from layers import area_alerts

            area_alerts.set_frequency(conn, email, areas)
    return redirect(url_for("cabinet.home", saved=1), 303)


@bp.post("/follows/<int:subscriber_id>/stop")
def stop_following(subscriber_id: int):
    email = _signed_in()
    with engine().begin() as conn:
        cabinet.stop_following(conn, email, subscriber_id)
    return redirect(url_for("cabinet.home", saved=1), 303)


@bp.post("/sign-out")
def sign_out():
    session.pop(SESSION_KEY, None)
    return redirect(url_for("cabinet.home"), 303)


@bp.post("/delete")
def delete_account():
    email = _signed_in()
    if request.form.get("confirm") != "yes":
        raise InvalidInput("Щоб видалити обліковий запис, позначте «Так, видалити мої дані»",
                           "To delete the account, tick “Yes, erase my data”")
    with engine().begin() as conn:
        erased = cabinet.erase(conn, email)
    session.pop(SESSION_KEY, None)
    return render_template("cabinet/erased.html", erased=erased), 200, PRIVATE


def _signed_in() -> str:
    email = signed_in_resident()
    if email is None:
        raise Unauthorized("Спершу увійдіть до кабінету", "Sign in to the cabinet first")
    return email
