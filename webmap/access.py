"""Who is asking: the roles of the signed-in user (anonymous visitors have none)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import g, session

from gis.models import app_user
from webmap.database import connection

STAFF_ROLES = frozenset({"unit_staff", "planner", "admin"})


def current_roles() -> frozenset[str]:
    if "roles" not in g:
        roles: frozenset[str] = frozenset()
        user_id = session.get("user_id")
        if user_id is not None:
            row = connection().execute(sa.select(app_user.c.roles).where(
                app_user.c.id == user_id, app_user.c.is_active)).first()
            roles = frozenset(row.roles) if row else frozenset()
        g.roles = roles
    return g.roles


def is_staff() -> bool:
    """Staff see staff-only fields (never residents or anonymous visitors)."""
    return bool(current_roles() & STAFF_ROLES)
