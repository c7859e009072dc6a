"""Residents submit their own speed measurements; bad input is a clear 4xx and stores nothing."""
from tests.helpers import inside, one, scalar
from tests.webmap.test_reports_http import csrf


def post(client, **fields):
    return client.post("/api/speed-tests", data=fields, headers={"X-CSRFToken": csrf(client)})


def test_a_measurement_is_stored_in_kbps_at_its_place(client, demo_db):
    lon, lat = inside(demo_db, "Лисянка")
    answer = post(client, lat=lat, lon=lon, down_mbps="7.5", up_mbps="0.9", latency_ms="48", network="mobile",
                  provider="Київстар")
    assert answer.status_code == 201, answer.get_json()
    row = one(demo_db, "SELECT down_kbps, up_kbps, latency_ms, network, provider, source, ST_X(geom), ST_Y(geom) "
                       "FROM speed_test WHERE source = 'resident'")
    assert row[:6] == (7500, 900, 48, "mobile", "Київстар", "resident")
    assert abs(row[6] - lon) < 1e-9 and abs(row[7] - lat) < 1e-9


def test_bad_measurements_are_refused_with_the_reason(client, demo_db):
    lon, lat = inside(demo_db, "Лисянка")
    bad = post(client, lat=lat, lon=lon, down_mbps="-1", up_mbps="abc", network="satellite")
    assert bad.status_code == 400
    body = bad.get_json()["message"]
    assert "від 0 до 10000 Мбіт/с" in body["uk"] and "down_mbps" in body["en"] and "network" in body["en"]
    outside = post(client, lat=50.45, lon=30.52, down_mbps="10", up_mbps="1", network="fixed")  # Kyiv
    assert outside.status_code == 422 and "outside every hromada" in outside.get_json()["message"]["en"]
    no_token = client.post("/api/speed-tests", data={"lat": lat, "lon": lon, "down_mbps": 1, "up_mbps": 1,
                                                     "network": "fixed"})
    assert no_token.status_code == 400
    assert scalar(demo_db, "SELECT count(*) FROM speed_test WHERE source = 'resident'") == 0
