"""The public map page and the list of hromadas (server-rendered HTML)."""
import re

import sqlalchemy as sa


def test_map_page_shows_the_demo_hromada_in_ukrainian(client, demo_db):
    page = client.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="uk">' in html
    assert "<h1>Якушинецька сільська громада</h1>" in html
    assert "© OpenStreetMap contributors (ODbL)" in html
    assert "Демонстраційні дані" in html
    # The page carries no feature: the map fetches them for its view, the list is a page per layer.
    assert "Зарванці" not in html
    assert 'href="/map/UA05020310000080026/layers/settlements"' in html
    assert "Зарванці" in client.get("/map/UA05020310000080026/layers/settlements").get_data(as_text=True)
    assert "Пултовецький старостинський округ" in client.get("/map/UA05020310000080026/layers/units").get_data(
        as_text=True)
    # Leaflet is served by us, not from a CDN.
    assert "/static/vendor/leaflet-1.9.4/leaflet.js" in html
    assert not re.search(r'(src|href)="https?://', html)
    with client.get("/static/vendor/leaflet-1.9.4/leaflet.js") as asset:
        assert asset.status_code == 200


def test_english_switch_is_remembered(client, demo_db):
    page = client.get("/?lang=en")
    html = page.get_data(as_text=True)
    assert '<html lang="en">' in html and "<h1>Yakushyntsi Rural Hromada</h1>" in html
    assert "lang=en" in page.headers["Set-Cookie"]
    assert '<html lang="en">' in client.get("/hromadas").get_data(as_text=True)


def test_staff_only_data_is_not_in_the_page(client, demo_db):
    for url in ("/", "/map/UA05020310000080026/layers/units",
                "/api/map/UA05020310000080026/layers/units?bbox=27,48,30,50&zoom=12"):
        assert "yakushynetska-demo.example.org" not in client.get(url).get_data(as_text=True)


def test_text_from_data_is_escaped(client, demo_db):
    evil = '</script><script>alert(1)</script><img src=x onerror=alert(2)>'
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE settlement SET name_uk = :n WHERE name_uk = 'Майдан'"), {"n": evil})
    html = client.get("/map/UA05020310000080026/layers/settlements").get_data(as_text=True)
    assert evil not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in html  # the list of the layer
    # The map's data is JSON, never HTML (the browser test sees it shown as text in a popup).
    answer = client.get("/api/map/UA05020310000080026/layers/settlements?bbox=27,48,30,50")
    assert answer.content_type == "application/geo+json"
    assert any(evil in row[1] for f in answer.json["features"] for row in f["properties"]["_popup"])


def test_hromada_list_and_unknown_hromada(client, demo_db):
    html = client.get("/hromadas").get_data(as_text=True)
    assert 'href="/map/UA05020310000080026"' in html
    missing = client.get("/map/UA99999999999999999")
    assert missing.status_code == 404 and "UA99999999999999999" in missing.get_data(as_text=True)
    assert client.get("/map/nonsense").status_code == 400


def test_empty_database_sends_visitors_to_the_list(client, clean_db):
    answer = client.get("/")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/hromadas")
    assert "hromada demo load" in client.get("/hromadas").get_data(as_text=True)
