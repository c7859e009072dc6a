"""The links in residents' mail (layers.followers): confirm the address, unsubscribe from one report
(RFC 8058 one-click), stop all mail to the address.

A GET shows what the link will do and a button; the POST does it. Mail scanners that open every link
therefore change nothing, and a mail client's one-click unsubscribe (a POST with
``List-Unsubscribe=One-Click``, no cookie) works without a CSRF token: the signed token is the proof.
"""
from __future__ import annotations

from flask import Blueprint, render_template, request

from layers import followers
from webmap.database import engine

bp = Blueprint("mail_links", __name__, url_prefix="/mail")

ACTIONS = {
    "confirm": followers.confirm,
    "unsubscribe": followers.unsubscribe,
    "stop": followers.stop_all,
}
PURPOSES = {"confirm": followers.CONFIRM, "unsubscribe": followers.UNSUBSCRIBE, "stop": followers.STOP_ALL}


def _page(action: str, token: str, done: bool, result=None):
    subject = followers.read_token(PURPOSES[action], token)  # a broken link is a 400 before anything else
    shown = followers.masked(subject) if isinstance(subject, str) else None
    answer = render_template("mail_link.html", action=action, token=token, done=done, result=result, shown=shown)
    # The address is a secret of its holder: not kept in caches, not sent on as a referrer.
    return answer, 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.get("/<any(confirm, unsubscribe, stop):action>/<token>")
def ask(action: str, token: str):
    return _page(action, token, done=False)


@bp.post("/<any(confirm, unsubscribe, stop):action>/<token>")
def act(action: str, token: str):
    with engine().begin() as conn:
        result = ACTIONS[action](conn, token)
    if request.form.get("List-Unsubscribe") == "One-Click":
        return "", 204  # a mail client's one-click unsubscribe: nobody reads the answer
    return _page(action, token, done=True, result=result)
