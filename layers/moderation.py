"""Moderation of residents' reports by the hromada's staff.

- Hide a photo (a face, a licence plate) or show it again.
- Redact the description (a phone number, a name): the public text is replaced; the original is kept,
  staff-only, in the report's history.
- Hide the whole report from the public with a reason, or show it again.
- Approve a report held by pre-moderation (a category set to ``premoderate``, in the catalogue or for
  the hromada): until then nothing of it is public.

A report that is not public (``report.is_public``, computed from the two states above) is left out of
every public output: its page, the map and its list, the layer API, OGC API, tiles and exports (the
layer's ``public_rows``), Open311, "similar reports nearby", and mail to followers other than its
reporter. A hidden photo is served to the hromada's staff only. Every act is in the history with who
and when.
"""
from __future__ import annotations

import sqlalchemy as sa

from gis.errors import Conflict, InvalidInput, NotFound
from gis.models import report, report_event, report_photo
from layers.report_states import Actor
from layers.reports import check_description, lock_report, require_access

MAX_REASON = 500


def _event(conn: sa.Connection, report_id: int, kind: str, actor: Actor, *, public_note: str | None = None,
           private_note: str | None = None) -> None:
    conn.execute(report_event.insert().values(report_id=report_id, kind=kind, user_id=actor.user_id,
                                              public_note=public_note, private_note=private_note))
    conn.execute(report.update().where(report.c.id == report_id).values(updated_at=sa.func.now()))


def _row(conn: sa.Connection, code: str, actor: Actor):
    row = lock_report(conn, code)
    require_access(actor, row)
    return row


def set_photo_hidden(conn: sa.Connection, code: str, position: int, hidden: bool, actor: Actor) -> None:
    """Hide one photo of the report from the public (or show it again)."""
    row = _row(conn, code, actor)
    changed = conn.execute(report_photo.update().where(
        report_photo.c.report_id == row["id"], report_photo.c.position == position,
        report_photo.c.hidden_at.is_(None) if hidden else report_photo.c.hidden_at.is_not(None),
    ).values(hidden_at=sa.func.now() if hidden else None).returning(report_photo.c.id)).first()
    if changed is None:
        exists = conn.execute(sa.select(report_photo.c.id).where(
            report_photo.c.report_id == row["id"], report_photo.c.position == position)).first()
        if exists is None:
            raise NotFound(f"У звернення {code} немає фото {position}", f"Report {code} has no photo {position}")
        return  # already so
    _event(conn, row["id"], "photo_hidden" if hidden else "photo_shown", actor, private_note=f"фото / photo {position}")


def redact_description(conn: sa.Connection, code: str, text: str, actor: Actor) -> None:
    """Replace the public description; the original stays in the history for staff only."""
    row = _row(conn, code, actor)
    new = check_description(text)
    if new == row["description"]:
        raise InvalidInput("Текст не змінено", "The text is unchanged")
    conn.execute(report.update().where(report.c.id == row["id"]).values(description=new))
    _event(conn, row["id"], "redacted", actor, private_note=f"Було / Was: {row['description']}")


def hide_report(conn: sa.Connection, code: str, reason: str, actor: Actor) -> None:
    """Take the whole report off every public output, with a reason (shown where it would have been)."""
    row = _row(conn, code, actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Вкажіть причину, з якої звернення приховано", "Give the reason for hiding the report")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"Причина задовга (понад {MAX_REASON} знаків)",
                           f"The reason is too long (over {MAX_REASON} characters)")
    if row["hidden_reason"] is not None:
        raise Conflict("Звернення вже приховано", "The report is hidden already")
    conn.execute(report.update().where(report.c.id == row["id"]).values(hidden_reason=reason))
    _event(conn, row["id"], "hidden", actor, private_note=reason)


def show_report(conn: sa.Connection, code: str, actor: Actor) -> None:
    row = _row(conn, code, actor)
    if row["hidden_reason"] is None:
        raise Conflict("Звернення не приховане", "The report is not hidden")
    conn.execute(report.update().where(report.c.id == row["id"]).values(hidden_reason=None))
    _event(conn, row["id"], "unhidden", actor)


def approve(conn: sa.Connection, code: str, actor: Actor) -> None:
    """Make a report held by pre-moderation public."""
    row = _row(conn, code, actor)
    if not row["awaiting_approval"]:
        raise Conflict("Звернення не чекає схвалення", "The report is not waiting for approval")
    conn.execute(report.update().where(report.c.id == row["id"]).values(awaiting_approval=False))
    _event(conn, row["id"], "approved", actor)
    from layers.area_alerts import alert_report  # issue #18: now public, the subscribers of its areas are told
    alert_report(conn, row["id"])

