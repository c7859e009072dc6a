"""Looking up hromadas for pages and APIs."""
from __future__ import annotations

import sqlalchemy as sa

from gis import codes
from gis.crs import area_m2_sql
from gis.errors import NotFound
from gis.models import hromada


def hromada_id_by_code(conn: sa.Connection, code: str) -> int:
    code = codes.katottg(code)
    found = conn.execute(sa.select(hromada.c.id).where(hromada.c.katottg == code)).scalar()
    if found is None:
        raise NotFound(f"Громаду з кодом {code} не завантажено", f"No hromada with code {code} is loaded")
    return found


def hromada_summary(conn: sa.Connection, code: str) -> sa.RowMapping:
    code = codes.katottg(code)
    row = conn.execute(sa.text(f"""
        SELECT id, katottg, name_uk, name_en, population,
               {area_m2_sql('boundary')} / 1e6 AS area_km2,
               ST_XMin(boundary) AS minx, ST_YMin(boundary) AS miny,
               ST_XMax(boundary) AS maxx, ST_YMax(boundary) AS maxy
        FROM hromada WHERE katottg = :code"""), {"code": code}).mappings().first()
    if row is None:
        raise NotFound(f"Громаду з кодом {code} не завантажено", f"No hromada with code {code} is loaded")
    return row


def list_hromadas(conn: sa.Connection) -> list[sa.RowMapping]:
    return list(conn.execute(sa.select(hromada.c.katottg, hromada.c.name_uk, hromada.c.name_en,
                                       hromada.c.oblast).order_by(hromada.c.oblast, hromada.c.name_uk)).mappings())


def any_hromada(conn: sa.Connection) -> bool:
    return conn.execute(sa.select(sa.exists().where(sa.true()).select_from(hromada))).scalar()
