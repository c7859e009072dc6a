"""Small helpers shared by tests."""
from __future__ import annotations

import sqlalchemy as sa

from importers.communities import load_communities
from tests.conftest import UKRAINE

VINNYTSIA_CITY = "UA05020030000031457"
STRYZHAVKA = "UA05020230000029909"


def load_neighbours(engine) -> None:
    """Two real hromadas bordering the demo one: Vinnytsia city and Stryzhavka."""
    load_communities(engine, UKRAINE / "vinnytskyi_raion_hromadas.geojson", katottg=[VINNYTSIA_CITY, STRYZHAVKA])


def one(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).first()


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def asset_point(engine, kind: str, ref: str) -> tuple[float, float]:
    """(lon, lat) of a demo asset (a line's midpoint)."""
    row = one(engine, "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(geom, 0.5) AS p FROM asset "
                      "WHERE kind = :k AND ref = :r AND GeometryType(geom) = 'LINESTRING' UNION ALL "
                      "SELECT geom FROM asset WHERE kind = :k AND ref = :r AND GeometryType(geom) = 'POINT') s",
              k=kind, r=ref)
    return row[0], row[1]


def unit_id(engine, code: str) -> int:
    return scalar(engine, "SELECT id FROM unit WHERE code = :c", c=code)


def inside(engine, settlement: str) -> tuple[float, float]:
    """A point inside a demo village, away from its lamps and street (its polygon's far corner side)."""
    row = one(engine, """SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Difference(boundary,
                          ST_Buffer(centre::geography, 300)::geometry)) AS p FROM settlement WHERE name_uk = :n) s""",
              n=settlement)
    return row[0], row[1]


class InEveryHromada(dict):
    """Grants for framework-free tests (layers.reports.Actor, layers.plans.Editor): the same roles
    in whatever hromada is asked about. The per-hromada checks have tests of their own."""

    def __init__(self, *roles: str):
        super().__init__()
        self.roles = frozenset(roles)

    def get(self, key, default=None):
        return self.roles


def demo_hromada_id(engine) -> int:
    from gis.config import DEMO_KATOTTG

    return scalar(engine, "SELECT id FROM hromada WHERE katottg = :k", k=DEMO_KATOTTG)


def confirm_addresses(engine, *emails: str) -> None:
    """Mark addresses as confirmed (double opt-in done), for tests about what confirmed followers get;
    the confirmation link itself is tested in tests/webmap/test_followers.py."""
    with engine.begin() as conn:
        for email in emails:
            conn.execute(sa.text("""INSERT INTO mail_address (email, confirmed_at) VALUES (lower(:e), now())
                                    ON CONFLICT (email) DO UPDATE SET confirmed_at = now()"""), {"e": email})
