"""The unit's day: a report assigned to one of its people ("my reports"), and response templates —
texts per hromada (and category) that staff insert into a public note and edit before sending."""
from __future__ import annotations

import sqlalchemy as sa

from gis.errors import InvalidInput, NotFound
from gis.models import report, report_event, response_template
from layers.report_states import Actor
from layers.reports import lock_report, require_access

MAX_TEMPLATE = 2000


def colleagues(conn: sa.Connection, report_row) -> list[sa.Row]:
    """Who may be given the report: active staff of its unit, and the hromada's administrators."""
    return conn.execute(sa.text("""
        SELECT DISTINCT u.id, COALESCE(u.full_name, u.email) AS name FROM app_user u
        LEFT JOIN staff_membership m ON m.user_id = u.id AND m.unit_id = :unit
        LEFT JOIN role_grant g ON g.user_id = u.id AND g.hromada_id = :h AND g.role = 'admin'
        WHERE u.is_active AND (m.user_id IS NOT NULL OR g.user_id IS NOT NULL)
        ORDER BY name"""), {"unit": report_row["unit_id"], "h": report_row["hromada_id"]}).all()


def assign(conn: sa.Connection, code: str, user_id: int | None, actor: Actor) -> None:
    """Give the report to one person of its unit (None: back to the unit as a whole); in the history,
    staff-only."""
    row = lock_report(conn, code)
    require_access(actor, row)
    name = None
    if user_id is not None:
        name = next((c.name for c in colleagues(conn, row) if c.id == user_id), None)
        if name is None:
            raise InvalidInput("Цю людину не можна призначити: вона не працює в підрозділі звернення",
                               "This person cannot be assigned: they do not work in the report's unit")
    if row["assigned_user_id"] == user_id:
        return
    conn.execute(report.update().where(report.c.id == row["id"]).values(assigned_user_id=user_id,
                                                                        updated_at=sa.func.now()))
    conn.execute(report_event.insert().values(report_id=row["id"], kind="assigned", user_id=actor.user_id,
                                              private_note=name or "—"))


def templates_for(conn: sa.Connection, hromada_id: int, category_id: int | None = None) -> list[sa.RowMapping]:
    """The hromada's templates for a category (and those for any category), by title."""
    return list(conn.execute(sa.select(response_template).where(
        response_template.c.hromada_id == hromada_id,
        sa.or_(response_template.c.category_id.is_(None), response_template.c.category_id == category_id)
        if category_id is not None else sa.true(),
    ).order_by(response_template.c.title)).mappings())


def save_template(conn: sa.Connection, hromada_id: int, title: str, body: str, category_id: int | None = None) -> int:
    title, body = (title or "").strip(), (body or "").strip()
    if not title or not body:
        raise InvalidInput("Потрібні назва й текст шаблону", "A template needs a title and a text")
    if len(body) > MAX_TEMPLATE or len(title) > 200:
        raise InvalidInput("Шаблон задовгий", "The template is too long")
    return conn.execute(response_template.insert().values(hromada_id=hromada_id, category_id=category_id,
                                                          title=title, body=body).returning(response_template.c.id)
                        ).scalar_one()


def delete_template(conn: sa.Connection, hromada_id: int, template_id: int) -> None:
    gone = conn.execute(response_template.delete().where(
        response_template.c.id == template_id, response_template.c.hromada_id == hromada_id
    ).returning(response_template.c.id)).first()
    if gone is None:
        raise NotFound("Такого шаблону в громаді немає", "No such template in this hromada")
