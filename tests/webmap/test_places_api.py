"""Find a place by address over HTTP (#17): GET /api/places, the venue search page that keeps its form
and offers the places meant when one is not found, and language links that keep the search."""
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

DEMO = "UA05020310000080026"


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, and the text of the whole page."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())]


def page(client, url: str, status: int = 200) -> Tags:
    answer = client.get(url)
    assert answer.status_code == status, answer.get_data(as_text=True)[:2000]
    return Tags(answer.get_data(as_text=True))


def places(client, **query):
    return client.get("/api/places?" + urlencode(query))


def test_the_api_finds_an_address_with_typos_and_is_cacheable(client, demo_db):
    answer = places(client, q="вулиця Центральна, буд. 5, Якушинцi", hromada=DEMO)
    assert answer.status_code == 200
    body = answer.get_json()
    best = body["places"][0]
    assert (best["kind"], best["label"], best["hromada"], best["score"]) == \
        ("address", "вул. Центральна, 5, Якушинці", DEMO, 1.0)
    assert body["suggestions"] == [] and body["query"] == "вулиця Центральна, буд. 5, Якушинцi"
    assert set(best) == {"kind", "label", "lon", "lat", "score", "settlement", "settlement_en", "hromada", "street",
                         "housenumber", "note"}
    assert "public" in answer.headers["Cache-Control"] and "no-cache" in answer.headers["Cache-Control"]
    unchanged = client.get(f"/api/places?{urlencode({'q': 'вулиця Центральна, буд. 5, Якушинцi', 'hromada': DEMO})}",
                           headers={"If-None-Match": answer.headers["ETag"]})
    assert unchanged.status_code == 304

    street = places(client, q="Центральна 99, Якушинці", limit=1).get_json()["places"]
    assert [(p["kind"], p["label"]) for p in street] == [("street", "вул. Центральна, Якушинці")]
    assert street[0]["note"]["en"] == "House 99 was not found on this street — showing the street"


def test_nothing_near_enough_is_an_empty_list_with_suggestions(client, demo_db):
    near = places(client, q="Якушинкі")
    assert near.status_code == 200
    assert near.get_json()["places"] == [] and [s["label"] for s in near.get_json()["suggestions"]] == ["Якушинці"]
    assert places(client, q="Атлантида").get_json() == {"query": "Атлантида", "places": [], "suggestions": []}


def test_the_api_refuses_what_it_cannot_search_in_both_languages(client, demo_db):
    for query in ({}, {"q": ""}, {"q": "   "}):
        answer = places(client, **query)
        assert answer.status_code == 400
        assert answer.get_json()["message"] == {"uk": "Вкажіть адресу або населений пункт",
                                                "en": "Give an address or a village"}
    assert places(client, q="Якушинці", limit="x").status_code == 400
    assert places(client, q="Якушинці", limit=21).status_code == 400
    assert places(client, q="Якушинці", hromada="UA1").status_code == 400
    assert places(client, q="Якушинці", hromada="UA00000000000000000").status_code == 404
    assert places(client, q="Якушинці\x00").status_code == 200  # a NUL never reaches PostgreSQL


def test_the_api_is_in_the_openapi_document(client):
    operation = client.get("/api/openapi.json").get_json()["paths"]["/api/places"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"q", "hromada", "limit"}
    assert {"200", "400", "404"} <= set(operation["responses"])


def test_the_venue_search_forgives_a_mistyped_village(client, demo_db):
    for typed in ("Якушинцi", "Якушинц", "с. якушинці"):
        html = page(client, "/venues?" + urlencode({"profile": "wheelchair", "place": typed}))
        assert any("Якушинці" in t for t in html.text if "·" in t), typed  # "Знайдено: N · Якушинці"
    found = client.get("/api/venues/search?" + urlencode({"profile": "wheelchair", "place": "вул. Центральна 5, "
                                                                                              "Якушинці"}))
    assert found.status_code == 200


def test_a_place_not_found_keeps_the_form_and_offers_the_places_meant(client, demo_db):
    query = {"profile": "blind", "place": "Якушинкі", "category": "pharmacy", "partial": "y"}
    html = page(client, "/venues?" + urlencode(query), status=404)
    text = "".join(html.text)
    assert "Місце «Якушинкі» не знайдено" in text and "Можливо, ви мали на увазі" in text
    # The form as it was filled in.
    assert html.find("input", id="place")[0]["value"] == "Якушинкі"
    assert html.find("input", id="place")[0]["aria-invalid"] == "true"
    assert "checked" in html.find("input", name="profile", value="blind")[0]
    assert "checked" not in html.find("input", name="profile", value="wheelchair")[0]
    assert "selected" in html.find("option", value="pharmacy")[0]
    assert "checked" in html.find("input", name="partial")[0]
    # The place meant, as a link that runs the same search there.
    (link,) = [a for a in html.find("a") if urlsplit(a["href"]).path == "/venues" and "place=" in a["href"]]
    assert dict(parse_qsl(urlsplit(link["href"]).query)) == {**query, "place": "Якушинці"}
    followed = page(client, link["href"])
    assert any("Якушинці" in t for t in followed.text if "·" in t)

    english = page(client, "/venues?" + urlencode({**query, "lang": "en"}), status=404)
    assert "Place 'Якушинкі' not found" in "".join(english.text) and "Did you mean" in "".join(english.text)
    # The JSON API answers as it did: 404, now with the suggestions.
    api = client.get("/api/venues/search?" + urlencode(query))
    assert api.status_code == 404
    assert [s["label"] for s in api.get_json()["details"]["suggestions"]] == ["Якушинці"]


def test_an_empty_place_keeps_the_form_with_a_400(client, demo_db):
    html = page(client, "/venues?profile=deaf&place=", status=400)
    assert "Вкажіть адресу або населений пункт" in "".join(html.text)
    assert "checked" in html.find("input", name="profile", value="deaf")[0]
    assert html.find("input", id="place")[0]["aria-invalid"] == "true"


def test_the_language_links_keep_the_search(client, demo_db):
    query = {"profile": "blind", "place": "Якушинці", "category": "pharmacy"}
    html = page(client, "/venues?" + urlencode({**query, "lang": "uk"}))
    links = {a["hreflang"]: a["href"] for a in html.find("a") if a.get("hreflang")}
    assert set(links) == {"uk", "en"}
    for code, href in links.items():
        assert href.startswith("?")
        assert parse_qsl(href[1:]) == [*query.items(), ("lang", code)]  # the same search, one lang
    english = page(client, "/venues" + links["en"])
    assert any("Якушинці" in t for t in english.text if "·" in t)
    assert 'lang="en"' in client.get("/venues" + links["en"]).get_data(as_text=True)
    # A page without a query string: only the language.
    assert {a["href"] for a in page(client, "/hromadas").find("a") if a.get("hreflang")} == {"?lang=uk", "?lang=en"}


def test_the_page_of_a_place_not_found_passes_axe_and_its_suggestion_runs_the_search(live_server, page, demo_db):
    from tests.webmap.test_accessibility import audit

    for lang in ("uk", "en"):
        assert audit(page, f"{live_server}/venues?profile=blind&place=Якушинкі&lang={lang}") == [], lang
    page.goto(f"{live_server}/venues?profile=blind&place=Якушинкі&lang=uk")
    assert page.get_attribute("#place", "aria-describedby").split() == ["search-problem", "place-hint"]
    page.click("nav.suggestions a")
    page.wait_for_selector("#results-title")
    assert "Якушинці" in page.inner_text("#results-title") and page.input_value("#place") == "Якушинці"
    assert page.is_checked("input[name=profile][value=blind]")
