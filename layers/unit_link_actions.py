"""What the holder of a unit's signed link may do (issue #14): acknowledge, add a public note, resolve,
or say "not ours" — through the same workflow staff use, so the reporter is told just the same, and
with every use in the report's history and the audit log. The links themselves are made and read in
layers.unit_mail, which sends them."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from gis.audit import By, record
from gis.errors import Forbidden, InvalidInput, NotFound
from layers import reports
from layers.report_states import Actor
from layers.unit_mail import Unit, load_unit

# --- acting through a signed link ------------------------------------------------------------------

LINK_ACTIONS = ("acknowledge", "note", "resolve", "not_ours")


@dataclass(frozen=True)
class LinkContext:
    """The report a genuine link acts on, and the unit that holds the link."""

    report_id: int
    code: str
    hromada_id: int
    status: str
    unit: Unit
    default_unit_id: int | None


def link_context(conn: sa.Connection, report_id: int, unit_id: int) -> LinkContext:
    """Check that a (genuine, unexpired) link may still act: its report exists, is still with its unit,
    and that unit is still one reached by e-mail only. Otherwise a clear 403/404."""
    row = conn.execute(sa.text("""
        SELECT r.id, r.code, r.hromada_id, r.status, r.unit_id, s.default_unit_id
        FROM report r LEFT JOIN hromada_setup s ON s.hromada_id = r.hromada_id WHERE r.id = :id"""),
        {"id": report_id}).first()
    unit = load_unit(conn, unit_id)
    if row is None or unit is None:
        raise NotFound("Звернення за цим посиланням не знайдено", "The report of this link was not found")
    if row.unit_id != unit.id:
        raise Forbidden("Звернення вже не у вашого підрозділу, тож посилання більше не діє.",
                        "The report is no longer with your unit, so this link no longer works.")
    if unit.has_accounts:
        raise Forbidden("Ваш підрозділ тепер працює з обліковими записами: увійдіть, щоб діяти.",
                        "Your unit now works with accounts: sign in to act.")
    return LinkContext(row.id, row.code, row.hromada_id, row.status, unit, row.default_unit_id)


def link_actor(ctx: LinkContext):
    """Someone allowed to work on this unit's reports in this hromada, and nothing else."""
    return Actor(user_id=None, grants={ctx.hromada_id: frozenset({"unit_staff"})},
                 unit_ids=frozenset({ctx.unit.id}))


def act_by_link(conn: sa.Connection, ctx: LinkContext, action: str, text: str | None, *,
                public_url: str) -> dict:
    """Do what the link's holder asked, through the same workflow staff use (so the reporter is told just
    the same), and record it in the report's history and the audit log. Runs in the caller's transaction;
    any refusal raises before anything is kept. Returns what was done."""
    actor = link_actor(ctx)
    via = f"через посилання / via link: {ctx.unit.code}"
    text = (text or "").strip() or None
    detail: dict = {"unit": ctx.unit.code}
    if action == "acknowledge":
        reports.change_status(conn, ctx.code, "acknowledged", actor, public_url=public_url, private_note=via)
    elif action == "note":
        if not text:
            raise InvalidInput("Напишіть коментар", "Write the note")
        reports.add_note(conn, ctx.code, actor, public_note=text, private_note=via, public_url=public_url)
    elif action == "resolve":
        if not text:
            raise InvalidInput("Напишіть, що зроблено: коментар побачать мешканці",
                               "Say what was done: residents will see the note")
        reports.change_status(conn, ctx.code, "resolved", actor, public_url=public_url, public_note=text,
                              private_note=via)
    elif action == "not_ours":
        if not text:
            raise InvalidInput("Напишіть, чому звернення не ваше", "Say why the report is not yours")
        reason = f"не наше / not ours: {text} — {via}"
        target = ctx.default_unit_id if ctx.default_unit_id not in (None, ctx.unit.id) else None
        if target is not None:
            # Back to the hromada's default unit, which is told like any unit given a report.
            reports.transfer(conn, ctx.code, target, reason, actor, public_url=public_url)
            detail["to_unit"] = conn.execute(sa.text("SELECT code FROM unit WHERE id = :id"),
                                             {"id": target}).scalar()
        else:
            # No default unit to hand it to: it stays, with a note the hromada's administrators see.
            reports.add_note(conn, ctx.code, actor, public_note=None, private_note=reason)
            detail["to_unit"] = None
    else:
        raise NotFound("Немає такої дії", "No such action")
    record(conn, By(f"link: {ctx.unit.code}"), f"unit_link.{action}", hromada_id=ctx.hromada_id,
           object=ctx.code, detail=detail)
    return detail
