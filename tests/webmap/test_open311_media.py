"""Open311 with photos and addresses (issue #18): POST /open311/v2/requests takes photos as multipart
``media`` files through the web form's photo checks (EXIF and its GPS gone), GET answers point
``media_url`` at the first public photo, and an ``address_string`` without lat/long is placed by the
local address search (layers.places) — each in JSON and XML, a refusal storing nothing."""
import io
from urllib.parse import quote

import pytest
from PIL import ExifTags, Image

from layers.moderation import set_photo_hidden
from tests.gis.test_photos import exif_with_gps_and_rotation, image_bytes
from tests.helpers import inside, scalar
from tests.webmap.test_open311 import (  # noqa: F401  (key: a fixture)
    ADMIN,
    BASE,
    SECRETS,
    as_json,
    created_code,
    errors,
    key,
    lamp_fields,
    post,
    xml,
)

FORMATS = ("json", "xml")
ADDRESS = "вул. Центральна 5, Якушинці"  # a demo house (importers.demo_addresses)
# The demo house's point, as the address layer holds it.
HOUSE = """SELECT a.geom FROM address_point a JOIN settlement s ON s.id = a.settlement_id
           WHERE s.name_uk = 'Якушинці' AND a.street = 'вул. Центральна' AND a.housenumber = '5'"""


def gps_jpeg() -> bytes:
    """A phone's photo: GPS position, camera make ("SecretCam") and orientation in its EXIF."""
    raw = image_bytes("JPEG", size=(640, 480), exif=exif_with_gps_and_rotation())
    assert b"SecretCam" in raw and Image.open(io.BytesIO(raw)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return raw


def media(*files: bytes, name: str = "photo.jpg") -> list:
    """``media`` files for a multipart POST (the test client sends a list as the field repeated)."""
    return [(io.BytesIO(data), f"{i}-{name}") for i, data in enumerate(files)]


def created(answer, fmt: str) -> str:
    """The service_request_id of a 201 in either format."""
    if fmt == "xml":
        assert answer.status_code == 201, answer.get_data(as_text=True)
        return xml(answer).findtext("request/service_request_id")
    return created_code(answer)


def one_request(client, code: str, fmt: str) -> dict:
    """GET requests/{id}.{fmt} as a dict of its fields."""
    answer = client.get(f"{BASE}/requests/{quote(code)}.{fmt}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    if fmt == "xml":
        return {child.tag: child.text for child in xml(answer).find("request")}
    [got] = as_json(answer)
    return got


def nothing_stored(engine) -> None:
    assert scalar(engine, "SELECT count(*) FROM report") == 0
    assert scalar(engine, "SELECT count(*) FROM report_photo") == 0
    assert scalar(engine, "SELECT count(*) FROM outbox") == 0


# --- photos ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_photos_are_stored_without_exif_and_served_as_media_url(client, demo_db, key, fmt):
    raw = gps_jpeg()
    answer = post(client, key, fmt, **lamp_fields(demo_db), media=media(raw))
    code = created(answer, fmt)
    stored = scalar(demo_db, "SELECT p.data FROM report_photo p JOIN report r ON r.id = p.report_id "
                             "WHERE r.code = :c AND p.position = 1", c=code)
    picture = Image.open(io.BytesIO(bytes(stored)))
    assert picture.format == "JPEG" and picture.size == (480, 640)  # turned upright by its orientation
    assert dict(picture.getexif()) == {} and picture.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert b"Exif" not in stored and b"SecretCam" not in stored

    got = one_request(client, code, fmt)
    url = f"http://localhost/reports/{quote(code)}/photos/1.jpg"
    assert got["media_url"] == url  # absolute
    fetched = client.get(url.replace("http://localhost", ""))
    assert fetched.status_code == 200 and fetched.mimetype == "image/jpeg" and fetched.data == bytes(stored)
    for text in (answer.get_data(as_text=True), client.get(f"{BASE}/requests/{quote(code)}.{fmt}?extensions=true")
                 .get_data(as_text=True)):
        for secret in SECRETS:
            assert secret not in text


def test_up_to_three_photos_and_media_url_is_the_first_not_hidden(client, demo_db, key):
    png = image_bytes("PNG", mode="RGBA")
    code = created_code(post(client, key, **lamp_fields(demo_db), media=media(gps_jpeg(), png, gps_jpeg())))
    assert scalar(demo_db, "SELECT count(*) FROM report_photo") == 3
    photos = f"http://localhost/reports/{quote(code)}/photos"
    assert one_request(client, code, "json")["media_url"] == f"{photos}/1.jpg"
    with demo_db.begin() as conn:
        set_photo_hidden(conn, code, 1, True, ADMIN)
    assert one_request(client, code, "json")["media_url"] == f"{photos}/2.jpg"
    assert one_request(client, code, "xml")["media_url"] == f"{photos}/2.jpg"
    with demo_db.begin() as conn:
        for position in (2, 3):
            set_photo_hidden(conn, code, position, True, ADMIN)
    assert one_request(client, code, "json")["media_url"] is None
    assert one_request(client, code, "xml")["media_url"] is None  # an empty element
    # Without photos: none, as before.
    other = created_code(post(client, key, **lamp_fields(demo_db, lamp="302")))
    assert one_request(client, other, "json")["media_url"] is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_bad_photo_refuses_the_whole_request(client, demo_db, key, fmt):
    fields = lamp_fields(demo_db)

    def fails(words, **change):
        text = " | ".join(errors(post(client, key, fmt, **{**fields, **change}), 400, fmt))
        for word in [words] if isinstance(words, str) else words:
            assert word in text, text
        nothing_stored(demo_db)
        return text

    fails(["media:", "не є фото JPEG, PNG чи WebP", "is not a JPEG, PNG or WebP photo"],
          media=media(b"%PDF-1.4 not a picture", name="lamp.jpg"))
    # One good photo and one bad one: nothing at all is stored.
    fails("0-lamp.pdf” is not a JPEG", media=media(b"%PDF-1.4", gps_jpeg(), name="lamp.pdf"))
    fails("is empty", media=media(b""))
    fails(["too many photos (4), at most 3"], media=media(*[gps_jpeg()] * 4))
    fails("server does not fetch URLs", media="http://example.org/lamp.jpg")
    fails("files are accepted in the media field only", photos=media(gps_jpeg()))
    # Every problem at once, the photo's among them.
    many = fails(["email:", "media:"], email="x", media=media(b"nope"))
    assert many.count(" | ") == 1


def test_idempotency_key_covers_the_photos(client, demo_db, key):
    fields = lamp_fields(demo_db)
    first, photo = {"Idempotency-Key": "m-1"}, gps_jpeg()
    code = created_code(post(client, key, headers=first, **fields, media=media(photo)))
    again = post(client, key, "xml", headers=first, **fields, media=media(photo))
    assert created(again, "xml") == code
    assert scalar(demo_db, "SELECT count(*) FROM report") == 1
    assert scalar(demo_db, "SELECT count(*) FROM report_photo") == 1
    other_photo = post(client, key, headers=first, **fields, media=media(image_bytes("PNG")))
    assert "already used for a different request" in errors(other_photo, 400)[0]
    no_photo = post(client, key, headers=first, **fields)
    assert "already used for a different request" in errors(no_photo, 400)[0]
    assert scalar(demo_db, "SELECT count(*) FROM report_photo") == 1


# --- address_string --------------------------------------------------------------------------------------


def address_fields(**extra) -> dict:
    fields = {"service_code": "illegal_dump", "description": "Сміття біля хати", "address_string": ADDRESS,
              "email": "taras@example.org"}
    fields.update(extra)
    return {k: v for k, v in fields.items() if v is not None}


def metres_from_house(engine, code: str) -> float:
    return scalar(engine, f"SELECT ST_Distance(r.location::geography, ({HOUSE})::geography) FROM report r "
                          "WHERE r.code = :c", c=code)


@pytest.mark.parametrize("fmt", FORMATS)
def test_address_string_alone_places_the_request_at_the_address(client, demo_db, key, fmt):
    answer = post(client, key, fmt, **address_fields(), media=media(gps_jpeg()))
    code = created(answer, fmt)
    assert metres_from_house(demo_db, code) < 30
    # The place found is said (the client may not have meant it); the photo's GPS is not the place.
    notice = (xml(answer).findtext("request/service_notice") if fmt == "xml"
              else as_json(answer)[0]["service_notice"])
    assert "Місце за address_string: вул. Центральна, 5, Якушинці" in notice
    assert "Placed by address_string at вул. Центральна, 5, Якушинці" in notice
    got = one_request(client, code, fmt)
    assert got["media_url"] == f"http://localhost/reports/{quote(code)}/photos/1.jpg"
    assert "Якушинці" in got["address"] and "taras@example.org" not in str(got)

    # A house not found gives its street, and the notice says so.
    street = post(client, key, fmt, **address_fields(address_string="вул. Центральна 99, Якушинці"))
    notice = street.get_data(as_text=True)
    assert street.status_code == 201 and "House 99 was not found on this street" in notice


def test_lat_and_long_win_over_address_string(client, demo_db, key):
    lon, lat = inside(demo_db, "Якушинці")
    answer = post(client, key, **address_fields(lat=lat, long=lon))
    code = created_code(answer)
    assert metres_from_house(demo_db, code) > 100
    assert scalar(demo_db, "SELECT ST_Distance(location::geography, ST_MakePoint(:x, :y)::geography) FROM report "
                           "WHERE code = :c", c=code, x=lon, y=lat) < 0.01
    assert "address_string" not in as_json(answer)[0]["service_notice"]  # not looked up at all


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_address_that_cannot_be_placed_is_a_400_naming_why(client, demo_db, key, fmt):
    def fails(address, words):
        text = " | ".join(errors(post(client, key, fmt, **address_fields(address_string=address)), 400, fmt))
        for word in words:
            assert word in text, text
        nothing_stored(demo_db)
        return text

    # Nothing matches well enough: the reason in both languages, the closest places' labels offered.
    fails("Якушинкі", ["address_string: Місце «Якушинкі» не знайдено", "Place 'Якушинкі' not found",
                       "Можливо: Якушинці", "Perhaps: Якушинці"])
    # No village named, and the street is in several: say which one, naming them.
    several = fails("вул. Садова 3", ["є в кількох населених пунктах", "is in several villages",
                                      "вул. Садова, 3, Березина"])
    assert several.count("вул. Садова, 3,") == 10  # five villages (place_for offers five), in each language
    fails("Qwxzv", ["not found: give a village, a street and a house number"])
    fails("В" * 201, ["address_string:", "at most 200 characters"])
    # address_id is not resolved here; nothing at all is the old message.
    text = " | ".join(errors(post(client, key, fmt, **address_fields(address_string=None, address_id="17")),
                             400, fmt))
    assert "address_id cannot be resolved here" in text
    text = " | ".join(errors(post(client, key, fmt, **address_fields(address_string=None)), 400, fmt))
    assert "lat and long are required (or an address_string)" in text
    nothing_stored(demo_db)


# --- limits and the description -----------------------------------------------------------------------


def test_a_request_over_the_size_limit_is_a_400_in_the_spec_format(app, client, demo_db, key):
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # 32 MB in production: three photos of 10 MB and the form
    big = post(client, key, "xml", **lamp_fields(demo_db), media=media(b"\xff" * 100 * 1024))
    assert "The request is too large" in errors(big, 400, "xml")[0]
    nothing_stored(demo_db)


def test_the_api_description_names_media_and_address_string(client, demo_db):
    doc = client.get("/api/openapi.json").get_json()
    body = doc["paths"]["/open311/v2/requests.json"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/x-www-form-urlencoded", "multipart/form-data"}
    schema = body["multipart/form-data"]["schema"]
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    fields = schema["properties"]
    assert fields["media"]["maxItems"] == 3 and fields["media"]["items"]["format"] == "binary"
    assert "address_string" in fields and "lat" not in schema.get("required", [])
