"""The audit log: who changed what in a hromada's set-up and accounts, and every use of a unit's
signed link. Written in the same transaction as the change, so a change never goes unrecorded."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from gis.models import audit_log


@dataclass(frozen=True)
class By:
    """Who acts: a signed-in user (id and e-mail), or a label such as ``cli`` or ``link: road_service``."""

    label: str
    user_id: int | None = None


CLI = By("cli")


def record(conn: sa.Connection, by: By, action: str, *, hromada_id: int | None, object: str | None = None,
           detail: dict | None = None) -> None:
    conn.execute(audit_log.insert().values(hromada_id=hromada_id, user_id=by.user_id, actor=by.label,
                                           action=action, object=object, detail=detail or {}))


def entries(conn: sa.Connection, hromada_id: int, *, limit: int = 200) -> list[dict]:
    """The newest entries of a hromada first."""
    rows = conn.execute(sa.select(audit_log).where(audit_log.c.hromada_id == hromada_id)
                        .order_by(audit_log.c.id.desc()).limit(limit)).mappings()
    return [dict(r) for r in rows]
