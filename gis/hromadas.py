"""Which hromada a KATOTTG code names: the one lookup every CLI, view and module uses."""
from __future__ import annotations

import sqlalchemy as sa

from gis.errors import NotFound
from gis.models import hromada


def find_hromada_id(conn: sa.Connection, katottg: str) -> int | None:
    """The id of the hromada with this KATOTTG code, or None when it is not loaded."""
    return conn.execute(sa.select(hromada.c.id).where(hromada.c.katottg == (katottg or "").strip())).scalar()


_NAMED = (hromada.c.id, hromada.c.katottg, hromada.c.name_uk, hromada.c.name_en)


def find_hromada(conn: sa.Connection, katottg: str) -> sa.Row | None:
    """The hromada (id, katottg, name_uk, name_en) with this KATOTTG code, or None."""
    return conn.execute(sa.select(*_NAMED).where(hromada.c.katottg == (katottg or "").strip())).first()


def hromada_by_katottg(conn: sa.Connection, katottg: str) -> sa.RowMapping:
    """The hromada (id, katottg, name_uk, name_en) with this KATOTTG code; NotFound otherwise."""
    row = find_hromada(conn, katottg)
    if row is None:
        raise NotFound(f"Громаду {katottg} не знайдено (її межу ще не завантажено: hromada communities load)",
                       f"Hromada {katottg} not found (is its boundary loaded? hromada communities load)")
    return row._mapping


def hromada_id(conn: sa.Connection, katottg: str) -> int:
    """The id of the hromada with this KATOTTG code; NotFound otherwise."""
    return hromada_by_katottg(conn, katottg)["id"]


def all_hromada_ids(conn: sa.Connection) -> list[int]:
    """Every hromada the service holds."""
    return list(conn.execute(sa.select(hromada.c.id).order_by(hromada.c.id)).scalars())


def first_hromadas(conn: sa.Connection, limit: int = 2) -> list[sa.Row]:
    """The first ``limit`` hromadas (id, katottg, names): enough to tell none, one and several apart."""
    return list(conn.execute(sa.select(*_NAMED).order_by(hromada.c.id).limit(limit)))
