"""The communal property register: filters, totals, parcels by place, and tenants' privacy."""
import json

import mapbox_vector_tile
import mercantile
import pytest

from gis.errors import InvalidInput
from layers import property as prop
from tests.helpers import scalar

CODE = "UA05020310000080026"


def hromada(engine) -> int:
    return scalar(engine, "SELECT id FROM hromada WHERE katottg = :k", k=CODE)


def test_filters_and_totals(demo_db):
    with demo_db.connect() as conn:
        everything = prop.register(conn, hromada(demo_db))
        networks = prop.register(conn, hromada(demo_db), filters={"type": "network"})
        leased = [r for r in everything if r["tenant_kind"] != "none"]
        with pytest.raises(InvalidInput, match="use one of"):
            prop.register(conn, hromada(demo_db), filters={"type": "castle"})
        with pytest.raises(InvalidInput, match="Unknown filters"):
            prop.register(conn, hromada(demo_db), filters={"owner": "x"})
    assert len(networks) == 14 and {r["type"] for r in networks} == {"network"}
    totals = prop.totals(everything)
    assert totals["objects"] == len(everything) == 70 and totals["by_type"]["network"] == 14
    assert totals["leased"] == len(leased) > 0
    assert totals["rent_uah_year"] == pytest.approx(sum(r["rent_uah_month"] * 12 for r in leased))


def test_an_individual_tenant_stays_on_the_staff_side(demo_db, client):
    with demo_db.connect() as conn:
        public = prop.register(conn, hromada(demo_db), filters={"tenant_kind": "individual"})
        staff = prop.register(conn, hromada(demo_db), filters={"tenant_kind": "individual"}, staff=True)
    assert public and all("tenant_person" not in r for r in public)
    name = staff[0]["tenant_person"]
    assert name.startswith("ФОП ")
    outputs = [
        client.get(f"/map/{CODE}/property").get_data(as_text=True),
        client.get(f"/map/{CODE}/property.csv").get_data(as_text=True),
        client.get(f"/api/hromadas/{CODE}/property").get_data(as_text=True),
        client.get("/api/layers/communal_property/items?limit=1000").get_data(as_text=True),
        client.get("/api/layers/communal_property/export.geojson").get_data(as_text=True),
        client.get("/api/layers/communal_property/export.csv").get_data(as_text=True),
        client.get("/ogc/collections/communal_property/items?limit=1000").get_data(as_text=True),
    ]
    surname = name.split()[1]
    for text in outputs:
        assert surname not in text and "tenant_person" not in text
    # Vector tiles too: every tile over the hromada at z12.
    bounds = scalar(demo_db, "SELECT ST_AsText(ST_Envelope(boundary)) FROM hromada WHERE katottg = :k", k=CODE)
    lons = [float(p.split()[0]) for p in bounds[9:-2].split(",")]
    lats = [float(p.split()[1]) for p in bounds[9:-2].split(",")]
    for tile in mercantile.tiles(min(lons), min(lats), max(lons), max(lats), 12):
        body = client.get(f"/tiles/communal_property/{tile.z}/{tile.x}/{tile.y}.mvt")
        if body.status_code == 200:
            decoded = json.dumps(mapbox_vector_tile.decode(body.get_data()), ensure_ascii=False, default=str)
            assert surname not in decoded and "tenant_person" not in decoded
    assert "ТОВ «Аптека-Поділля» (демо)" in outputs[0]  # a legal entity is public
