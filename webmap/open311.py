"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) over the open city's reports.

Every resource answers in ``.json`` and ``.xml`` (text/xml; charset=utf-8, built with ElementTree):

GET  /open311/discovery.{fmt}, /open311/v2/discovery.{fmt}   service discovery
GET  /open311/v2/services.{fmt}                  the categories someone handles in the jurisdiction
GET  /open311/v2/services/{service_code}.{fmt}   a service definition (its attributes)
POST /open311/v2/requests.{fmt}                  a new request: form-encoded, or multipart/form-data
                                                 with up to 3 photos as ``media`` files; api_key
                                                 required; lat/long, or an address_string placed by
                                                 the local address search; Idempotency-Key honoured;
                                                 through create_report
GET  /open311/v2/requests.{fmt}                  requests: service_request_id, service_code,
                                                 start_date, end_date, status; page/page_size and
                                                 extensions=true (the update history, as "notes")
GET  /open311/v2/requests/{id}.{fmt}             one request
GET  /open311/v2/tokens/{token}.{fmt}            the request id for a token (the tracking code)
GET  /open311/v2/servicerequestupdates.{fmt}     status updates and public notes in a time window
                                                 (mySociety's extension)

``jurisdiction_id`` is a hromada's KATOTTG code, optional while only one hromada is loaded.
``service_request_id`` is the tracking code (ЯК-2026-000001). Nothing personal (reporter's name,
e-mail, phone) is ever part of an answer. Errors are the spec's list of {code, description} with
HTTP 403 (api_key), 404 (no such resource) and 400 for everything else the client must fix (422,
409 and 413 included, as the spec asks); 429 is kept for the rate limit. Descriptions are "uk / en".

Photos and addresses (issue #18). Photos come as SeeClickFix's GeoReport v2 takes them: ``media``
files of a multipart POST, the field repeated for several, as many as the web form takes
(gis.photos.MAX_PHOTOS), each through the web form's checks (gis.photos.process_photo: JPEG, PNG or
WebP by content, size, pixels; turned upright, EXIF with its GPS dropped, resized). A bad one
refuses the whole request and nothing is stored. A ``media_url`` field is ignored: the server fetches
no URLs. The ``media_url`` of GET answers is the absolute address of the first photo a moderator has
not hidden (the spec's POST answer has no such field). ``address_string`` without lat/long is placed
by layers.places.place_for within the jurisdiction, and the service_notice says where; an address not
found, or found in several villages, is a 400 with the closest places' labels. Given lat/long win.
Neither address_string nor address_id is stored, and address_id alone is refused. The discovery
document and the service definitions have no field to say any of this: the README does.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request
from flask_limiter.util import get_remote_address
from pydantic import ValidationError
from sqlalchemy.exc import DataError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from gis import hromadas
from gis.api_keys import check_key
from gis.errors import HromadaError, InvalidInput, NotFound
from gis.photos import MAX_PHOTOS, Photo, process_photo
from gis.routing import ASSET_KINDS, categories_in, hromada_at, require_enabled_hromada
from layers import places, public_requests, reports
from webmap import api_models as m
from webmap.api_models import ReportIn
from webmap.database import connection
from webmap.extensions import limiter
from webmap.idempotency import idempotency_key, public_url, request_fingerprint, run_once
from webmap.openapi import documented
from webmap.openapi import problems as field_problems

log = logging.getLogger(__name__)
bp = Blueprint("open311", __name__, url_prefix="/open311")

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-27T00:00:00Z"  # when the discovery document or the definitions' format last changed
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
FMT = "<any(json, xml):fmt>"
WINDOW = dt.timedelta(days=90)  # the spec's default and widest range of GET requests
MAX_RESULTS = 1000  # the spec's default limit; also the largest page_size
DEFAULT_RATE_LIMIT = "60 per minute;1000 per hour"  # per api_key: a client app speaks for many residents

# --- rendering ---------------------------------------------------------------------------------------

# The element name of each list's items in XML (JSON is the spec's "Spark" mapping of the same tree).
ITEM_TAGS = {
    "services": "service", "attributes": "attribute", "values": "value", "service_requests": "request",
    "service_request_updates": "request_update", "errors": "error", "endpoints": "endpoint",
    "formats": "format", "notes": "note", "photos": "photo",
}
# Characters XML 1.0 cannot carry at all, not even escaped: dropped from text.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def to_xml(root: str, data) -> str:
    element = ET.Element(root)
    _fill(element, root, data)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="unicode")


def _fill(element: ET.Element, tag: str, value) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), key, item)
    elif isinstance(value, (list, tuple)):
        child = ITEM_TAGS[tag]
        for item in value:
            _fill(ET.SubElement(element, child), child, item)
    elif value is None:
        return
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = _NOT_XML.sub("", str(value))


def render(fmt: str, root: str, data, status: int = 200, headers: dict | None = None) -> Response:
    """``data`` as the answer in ``fmt``; ``root`` names the XML document element."""
    body = to_xml(root, data) if fmt == "xml" else json.dumps(data, ensure_ascii=False)
    return Response(body, status=status, content_type=CONTENT_TYPES[fmt], headers=headers)


def w3c(value: dt.datetime | str | None) -> str | None:
    """A moment in the spec's W3C/ISO 8601 form, in UTC to the second: 2026-11-27T08:15:30Z."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def both(uk: str, en: str) -> str:
    return f"{uk} / {en}"


# --- errors --------------------------------------------------------------------------------------------


class Problems(InvalidInput):
    """Several things wrong with one request: each is its own entry in the error list."""

    def __init__(self, problems: list[HromadaError]):
        self.problems = problems
        super().__init__("; ".join(p.uk for p in problems), "; ".join(p.en for p in problems))


def spec_status(status: int) -> int:
    """The spec's HTTP codes: 403 and 404 as they are, 400 for any other request to fix."""
    if status in (403, 404, 429) or status >= 500:
        return status
    return 400


def _error_format() -> str:
    fmt = (request.view_args or {}).get("fmt")
    if fmt in CONTENT_TYPES:
        return fmt
    return "xml" if request.path.lower().endswith(".xml") else "json"


def errors_response(status: int, problems: list[HromadaError], headers: dict | None = None) -> Response:
    status = spec_status(status)
    body = [{"code": status, "description": both(p.uk, p.en)} for p in problems]
    return render(_error_format(), "errors", body, status, headers)


@bp.errorhandler(HromadaError)
def _hromada_error(exc: HromadaError):
    return errors_response(exc.http_status, getattr(exc, "problems", None) or [exc])


@bp.errorhandler(DataError)
def _data_error(exc: DataError):
    log.info("refused by the database: %s", exc.orig)
    return errors_response(400, [InvalidInput("Запит містить неприпустимі символи або значення",
                                              "The request contains characters or values that cannot be accepted")])


HTTP_MESSAGES = {
    404: ("Такого ресурсу немає", "No such resource"),
    405: ("Цей метод тут не підтримується", "This method is not allowed here"),
    413: ("Запит завеликий", "The request is too large"),
    429: ("Забагато запитів; спробуйте трохи пізніше", "Too many requests; please try again a little later"),
    500: ("Внутрішня помилка сервера", "Internal server error"),
}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    uk, en = HTTP_MESSAGES.get(exc.code, (exc.description or exc.name, exc.description or exc.name))
    headers = {k: v for k, v in exc.get_headers() if k.lower() in ("retry-after", "allow")}
    return errors_response(exc.code or 500, [HromadaError(uk, en)], headers)


# --- parameters ----------------------------------------------------------------------------------------


def param(name: str) -> str:
    return (request.values.get(name) or "").strip()


def listed(name: str) -> list[str]:
    """A parameter that may be repeated and comma-separated: service_code=a,b&service_code=c."""
    return [part.strip() for value in request.values.getlist(name) for part in value.split(",") if part.strip()]


def jurisdiction(conn: sa.Connection) -> sa.Row:
    """The hromada named by jurisdiction_id (its KATOTTG code); optional while only one is loaded."""
    code = param("jurisdiction_id")
    if not code:
        rows = hromadas.first_hromadas(conn, 2)
        if len(rows) == 1:
            return rows[0]
        if not rows:
            raise NotFound("Тут ще не обслуговується жодна громада", "No jurisdiction is served here yet")
        raise InvalidInput("Не передано jurisdiction_id: тут кілька громад, вкажіть код КАТОТТГ, "
                           "наприклад UA05020310000080026",
                           "jurisdiction_id was not provided: several hromadas are served here; give a KATOTTG "
                           "code, e.g. UA05020310000080026")
    row = hromadas.find_hromada(conn, code.upper())
    if row is None:
        raise NotFound(f"Юрисдикцію {code} не знайдено (очікується код КАТОТТГ громади)",
                       f"jurisdiction_id {code} was not found (a hromada's KATOTTG code is expected)")
    return row


def parse_datetime(text: str, name: str) -> dt.datetime:
    """A W3C/ISO 8601 date or date-time; without a time zone it is taken as UTC."""
    value = re.sub(r" (\d\d:?\d\d)$", r"+\1", text.strip())  # an unescaped "+" arrives as a space
    try:
        if re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            parsed = dt.datetime.combine(dt.date.fromisoformat(value), dt.time())
        else:
            parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name}: {text!r} — не дата й час у форматі ISO 8601 (напр. 2026-01-01T00:00:00Z)",
                           f"{name}: {text!r} is not an ISO 8601 date-time (e.g. 2026-01-01T00:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def date_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """start_date and end_date: by default the most recent 90 days, and never more than 90 days."""
    start = parse_datetime(param("start_date"), "start_date") if param("start_date") else None
    end = parse_datetime(param("end_date"), "end_date") if param("end_date") else None
    if start and end:
        if end < start:
            raise InvalidInput("end_date раніше за start_date", "end_date is before start_date")
        if end - start > WINDOW:
            raise InvalidInput("Проміжок між start_date і end_date — не більше 90 днів",
                               "start_date and end_date may not span more than 90 days")
        return start, end
    try:
        if start:
            return start, start + WINDOW
        if end:
            return end - WINDOW, end
    except OverflowError:
        raise InvalidInput("Дата поза можливим проміжком", "The date is out of the possible range") from None
    return now - WINDOW, now


def paging() -> tuple[int, int]:
    """The page/page_size extension: pages of up to 1000 (the default), numbered from 1."""
    values = {}
    for name, default in (("page", 1), ("page_size", MAX_RESULTS)):
        text = param(name)
        if not text:
            values[name] = default
            continue
        if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < 1:
            raise InvalidInput(f"{name} має бути цілим числом від 1", f"{name} must be a whole number, 1 or more")
        values[name] = int(text)
    if values["page_size"] > MAX_RESULTS:
        raise InvalidInput(f"page_size — не більше {MAX_RESULTS}", f"page_size may be {MAX_RESULTS} at most")
    return values["page_size"], (values["page"] - 1) * values["page_size"]


def extensions_wanted() -> bool:
    return param("extensions").lower() in ("true", "1", "yes")


# --- services --------------------------------------------------------------------------------------

# Groups for the service list (the spec's "group", e.g. "sanitation"); a new category falls in "Інше".
GROUPS = {
    "pothole": "Дороги",
    "street_light_out": "Вуличне освітлення",
    "overflowing_bin": "Благоустрій і сміття",
    "illegal_dump": "Благоустрій і сміття",
    "fallen_tree": "Зелені насадження",
    "water_leak": "Водопостачання",
    "no_signal": "Зв'язок",
    "accessibility_barrier": "Доступність",
    "damaged_heritage": "Культурна спадщина",
    "transit_stop_problem": "Громадський транспорт",
}
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
LIST_TYPES = ("singlevaluelist", "multivaluelist")


@dataclass(frozen=True)
class Attribute:
    """One field of a service definition (the spec's attribute)."""

    code: str
    datatype: str
    description: str
    required: bool = False
    variable: bool = True
    datatype_description: str | None = None
    order: int = 1
    values: tuple[tuple[str, str], ...] = ()  # (key, name) of a list's options

    def __post_init__(self):
        if self.datatype not in DATATYPES:
            raise ValueError(f"unknown datatype {self.datatype!r}")
        if (self.datatype in LIST_TYPES) != bool(self.values):
            raise ValueError(f"{self.code}: only the list datatypes have values, and they must have some")

    def definition(self) -> dict:
        out = {"variable": self.variable, "code": self.code, "datatype": self.datatype, "required": self.required,
               "datatype_description": self.datatype_description, "order": self.order,
               "description": self.description}
        if self.datatype in LIST_TYPES:
            out["values"] = [{"key": key, "name": name} for key, name in self.values]
        return out


ASSET_NUMBER = {
    "street_lamp": ("Номер ліхтаря (на опорі), якщо його видно", "The lamp's number (on its pole), if visible"),
    "road_segment": ("Номер ділянки дороги, якщо відомий", "The road segment's number, if known"),
}


def service_attributes(asset_kind: str | None) -> tuple[Attribute, ...]:
    """A category about assets (lamps, roads) may name the asset; the others need nothing more."""
    if asset_kind is None:
        return ()
    uk, en = ASSET_NUMBER.get(asset_kind, ("Номер об'єкта, якщо відомий", "The asset's number, if known"))
    return (Attribute("asset_ref", "string", both(uk, en), datatype_description=both(
        "Як написано на об'єкті, напр. 301", "As written on the asset, e.g. 301")),)


def services(conn: sa.Connection, hromada_id: int, code: str | None = None) -> list[sa.Row]:
    """The hromada's services: the categories a report there may have (gis.routing decides)."""
    return categories_in(conn, hromada_id, code)


def service(conn: sa.Connection, hromada_id: int, code: str) -> sa.Row:
    found = services(conn, hromada_id, code)
    if not found:
        raise NotFound(f"Послуги (категорії) {code!r} у цій громаді немає",
                       f"service_code {code!r} was not found in this jurisdiction")
    return found[0]


def service_entry(row: sa.Row) -> dict:
    group = GROUPS.get(row.code, "Інше")
    return {
        "service_code": row.code,
        "service_name": row.name_uk,
        "description": both(f"{row.name_uk}. Орієнтовний строк виконання — {row.target_days} дн.",
                            f"{row.name_en}. Target time: {row.target_days} days."),
        "metadata": bool(service_attributes(row.asset_kind)),
        "type": "realtime",
        "keywords": ", ".join([row.name_en, row.code.replace("_", " "), group]),
        "group": group,
    }


# --- discovery and services ------------------------------------------------------------------------


@bp.get("/")
@bp.get("/v2/")
@documented(summary="Service discovery (the same as discovery.json)", tags=("open311",), open311=True, ok=m.Discovery)
def root():
    return render("json", "discovery", discovery_document())


@bp.get(f"/discovery.{FMT}")
@bp.get(f"/v2/discovery.{FMT}")
@documented(summary="Service discovery: the endpoint, its formats and how to get an API key", tags=("open311",),
            open311=True, ok=m.Discovery)
def discovery(fmt: str):
    return render(fmt, "discovery", discovery_document())


def discovery_document() -> dict:
    contact = (current_app.config.get("OPEN311_CONTACT") or os.environ.get("HROMADA_OPEN311_CONTACT")
               or both("Адміністратор громади (див. сторінку громади)", "The hromada's administrator (see its page)"))
    return {
        "changeset": CHANGESET,
        "contact": contact,
        "key_service": both("Ключ API для застосунку видає адміністратор: hromada api-keys create НАЗВА",
                            "An administrator issues an application's API key: hromada api-keys create NAME"),
        "endpoints": [{"specification": SPECIFICATION, "url": f"{public_url()}/open311/v2", "changeset": CHANGESET,
                       "type": "production", "formats": ["text/xml", "application/json"]}],
    }


@bp.get(f"/v2/services.{FMT}")
@documented(summary="The services (categories someone handles) in the jurisdiction", tags=("open311",), open311=True,
            query=m.JurisdictionQuery, ok=list[m.Service])
def service_list(fmt: str):
    conn = connection()
    hromada = jurisdiction(conn)
    return render(fmt, "services", [service_entry(row) for row in services(conn, hromada.id)])


@bp.get(f"/v2/services/<service_code>.{FMT}")
@documented(summary="A service definition: its attributes (lamp and road services take asset_ref)", tags=("open311",),
            open311=True,
            query=m.JurisdictionQuery, ok=m.ServiceDefinition,
            path={"service_code": {"examples": ["street_light_out"]}})
def service_definition(service_code: str, fmt: str):
    conn = connection()
    hromada = jurisdiction(conn)
    row = service(conn, hromada.id, service_code)
    return render(fmt, "service_definition", {
        "service_code": row.code,
        "attributes": [a.definition() for a in sorted(service_attributes(row.asset_kind), key=lambda a: a.order)],
    })


# --- POST a service request ------------------------------------------------------------------------

ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


def read_attributes(values: MultiDict, attributes: tuple[Attribute, ...]) -> tuple[dict, list[HromadaError]]:
    """The submitted attribute[code] (and attribute[code][] for lists), checked against the definition."""
    submitted: dict[str, list[str]] = {}
    problems: list[HromadaError] = []
    for key in values.keys():
        match = ATTRIBUTE_KEY.match(key)
        if match is None:
            if key.startswith("attribute"):
                problems.append(InvalidInput(f"Неправильний параметр {key!r}: має бути attribute[код]",
                                             f"Malformed parameter {key!r}: expected attribute[code]"))
            continue
        submitted.setdefault(match.group(1), []).extend(v.strip() for v in values.getlist(key) if v.strip())
    by_code = {a.code: a for a in attributes}
    for code in submitted:
        if code not in by_code or not by_code[code].variable:
            problems.append(InvalidInput(f"Невідомий атрибут {code!r} для цієї послуги",
                                         f"Unknown attribute {code!r} for this service"))
    out = {}
    for attr in sorted(attributes, key=lambda a: a.order):
        given = submitted.get(attr.code, [])
        if not attr.variable:
            continue
        if not given:
            if attr.required:
                problems.append(InvalidInput(f"attribute[{attr.code}]: обов'язковий",
                                             f"attribute[{attr.code}] is required"))
            continue
        try:
            out[attr.code] = _attribute_value(attr, given)
        except InvalidInput as exc:
            problems.append(exc)
    return out, problems


def _attribute_value(attr: Attribute, given: list[str]):
    name = f"attribute[{attr.code}]"
    if attr.datatype != "multivaluelist" and len(given) > 1:
        raise InvalidInput(f"{name}: очікується одне значення", f"{name}: a single value is expected")
    value = given[0]
    keys = [key for key, _ in attr.values]
    if attr.datatype == "string":
        if "\n" in value or "\r" in value or len(value) > 500:
            raise InvalidInput(f"{name}: один рядок до 500 знаків", f"{name}: one line of 500 characters at most")
        return value
    if attr.datatype == "text":
        if len(value) > reports.MAX_DESCRIPTION:
            raise InvalidInput(f"{name}: до {reports.MAX_DESCRIPTION} знаків",
                               f"{name}: {reports.MAX_DESCRIPTION} characters at most")
        return value
    if attr.datatype == "number":
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise InvalidInput(f"{name}: {value!r} — не число", f"{name}: {value!r} is not a number")
        return number
    if attr.datatype == "datetime":
        return parse_datetime(value, name)
    if attr.datatype == "singlevaluelist":
        if value not in keys:
            raise InvalidInput(f"{name}: {value!r} немає серед можливих значень ({', '.join(keys)})",
                               f"{name}: {value!r} is not one of the allowed values ({', '.join(keys)})")
        return value
    chosen = list(dict.fromkeys(given))  # multivaluelist
    unknown = [v for v in chosen if v not in keys]
    if unknown:
        raise InvalidInput(f"{name}: {', '.join(unknown)} немає серед можливих значень ({', '.join(keys)})",
                           f"{name}: {', '.join(unknown)} not among the allowed values ({', '.join(keys)})")
    return chosen


# Our form's field -> the Open311 parameter it came from (for error messages in the client's terms).
FORM_FIELDS = {"lat": "lat", "lon": "long", "category": "service_code", "description": "description",
               "name": "first_name/last_name", "email": "email", "phone": "phone"}


def _rate_limit() -> str:
    return (current_app.config.get("OPEN311_RATE_LIMIT") or os.environ.get("HROMADA_OPEN311_RATE_LIMIT")
            or DEFAULT_RATE_LIMIT)


def _rate_key() -> str:
    """Each client application (its api_key) has its own allowance; without a key, its address."""
    key = (request.values.get("api_key") or "").strip()
    return "open311:" + (hashlib.sha256(key.encode()).hexdigest() if key else get_remote_address())


@bp.post(f"/v2/requests.{FMT}")
@limiter.limit(_rate_limit, key_func=_rate_key)
@documented(summary="A new service request (form-encoded, or multipart with photos; api_key required)",
            tags=("open311",), open311=True, form=m.Open311RequestIn,
            form_media=("application/x-www-form-urlencoded", "multipart/form-data"), headers=m.IdempotencyHeaders,
            ok=list[m.ServiceRequestCreated], status=201, errors=(403, 429), validate=False, description=(
                "Goes through the web form's validation, photo checks, routing, Idempotency-Key, notifications "
                "and public page; rate-limited per application. Photos: up to 3 `media` files (multipart/form-data; "
                "JPEG, PNG or WebP, 10 MB each; EXIF removed). Without lat/long, `address_string` is placed by "
                "the local address search. Every problem is its own entry of the error list (400); a bad or "
                "revoked api_key is a 403."))
def post_request(fmt: str):
    if request.is_json:
        raise InvalidInput("Надсилайте поля як application/x-www-form-urlencoded або multipart/form-data",
                           "Send the fields as application/x-www-form-urlencoded or multipart/form-data")
    conn = connection()
    key_id = check_key(conn, request.values.get("api_key"))
    hromada = jurisdiction(conn)
    values = request.values
    problems: list[HromadaError] = []
    reported = set()  # form fields whose problem is already told in Open311 terms

    code = param("service_code")
    row = None
    if not code:
        problems.append(InvalidInput("Не передано service_code", "service_code was not provided"))
        reported.add("category")
    else:
        require_enabled_hromada(conn, hromada)  # "does not take reports yet" rather than "no such service"
        row = service(conn, hromada.id, code)  # 404 when it is not offered here

    lat, lon = param("lat"), param("long")
    place = None
    if not lat and not lon:
        if param("address_string"):
            place = _place(conn, hromada.id, param("address_string"), problems)
            if place is not None:
                lat, lon = str(place["lat"]), str(place["lon"])
        elif param("address_id"):
            problems.append(InvalidInput(
                "address_id тут не розпізнають: передайте координати lat і long або адресу address_string",
                "address_id cannot be resolved here: give lat and long, or an address_string"))
        else:
            problems.append(InvalidInput("Потрібні координати lat і long (або адреса address_string)",
                                         "lat and long are required (or an address_string)"))
        reported |= {"lat", "lon"}
    elif not lat or not lon:
        problems.append(InvalidInput("Потрібні обидві координати: lat і long", "Both lat and long are required"))
        reported |= {"lat", "lon"}

    name = " ".join(part for part in (param("first_name"), param("last_name")) if part)
    given = {"lat": lat, "lon": lon, "category": code, "description": values.get("description", ""),
             "name": name, "email": param("email"), "phone": param("phone")}
    try:  # the web form's rules (webmap.api_models.ReportIn); an empty value is a missing one
        form = ReportIn.model_validate({k: v for k, v in given.items() if v.strip()})
    except ValidationError as exc:
        form = None
        for field, _, uk, en in field_problems(exc, ReportIn):
            if field not in reported:
                label = FORM_FIELDS.get(field, field)
                problems.append(InvalidInput(f"{label}: {uk}", f"{label}: {en}"))

    asset_id = None
    if row is not None:
        attributes, wrong = read_attributes(values, service_attributes(row.asset_kind))
        problems += wrong
        if attributes.get("asset_ref"):
            asset_id = _asset_id(conn, hromada.id, row.asset_kind, attributes["asset_ref"], problems)
    photos, digests = read_media(problems)
    if problems:
        raise Problems(problems)

    new = reports.NewReport(lon=form.lon, lat=form.lat, category=row.code, description=form.description,
                            name=name or None, email=form.email, phone=form.phone, show_name=False, asset_id=asset_id,
                            photos=photos)

    def create(write: sa.Connection) -> dict:
        here = hromada_at(write, new.lon, new.lat)
        if here is not None and here.id != hromada.id:
            raise InvalidInput(f"Точка в іншій громаді ({here.name_uk}), ніж jurisdiction_id",
                               f"The point is in another hromada ({here.name_en or here.name_uk}) "
                               "than jurisdiction_id")
        created = reports.create_report(write, new, public_url=public_url())
        return {"service_request_id": created["code"], "service_notice": _notice(created, place),
                "account_id": None}

    key = idempotency_key()
    fields = {k: v for k, v in values.to_dict(flat=False).items() if k != "api_key"}
    if digests:  # the photos' bytes: the same key with other photos is another request
        fields["media files"] = digests
    fingerprint = request_fingerprint(fields) if key else None
    answer, status = run_once(f"open311:{key_id}", key, fingerprint, 201, create)
    location = f"{public_url()}/open311/v2/requests/{quote(answer['service_request_id'])}.{fmt}"
    return render(fmt, "service_requests", [answer], status, {"Location": location})


def _asset_id(conn: sa.Connection, hromada_id: int, kind: str, ref: str, problems: list) -> int | None:
    found = public_requests.asset_id(conn, hromada_id, kind, ref)
    if found is None:
        what = ASSET_KINDS.get(kind, {"uk": "об'єкт", "en": "asset"})
        problems.append(InvalidInput(f"attribute[asset_ref]: {what['uk']} №{ref} у цій громаді не знайдено",
                                     f"attribute[asset_ref]: no {what['en']} No. {ref} in this jurisdiction"))
    return found


def read_media(problems: list[HromadaError]) -> tuple[list[Photo], list[str]]:
    """The request's photos: its ``media`` files (multipart/form-data, the field repeated for several),
    as many as the web form takes, each checked and cleaned as the web form's are
    (gis.photos.process_photo). Each problem is added to ``problems``. Also the SHA-256 of each
    file's bytes, for the Idempotency-Key's fingerprint."""
    for field in request.files:
        if field != "media":
            problems.append(InvalidInput(f"{field}: файли приймаються лише в полі media",
                                         f"{field}: files are accepted in the media field only"))
    if request.form.getlist("media"):
        problems.append(InvalidInput("media: надсилайте фото файлом (multipart/form-data); посилань сервер не "
                                     "завантажує", "media: send the photo as a file (multipart/form-data); the "
                                     "server does not fetch URLs"))
    uploads = [u for u in request.files.getlist("media") if u and u.filename]
    if len(uploads) > MAX_PHOTOS:
        problems.append(InvalidInput(f"media: забагато фото ({len(uploads)}), можна до {MAX_PHOTOS}",
                                     f"media: too many photos ({len(uploads)}), at most {MAX_PHOTOS}"))
        return [], []
    photos, digests = [], []
    for upload in uploads:
        data = upload.read()
        digests.append(hashlib.sha256(data).hexdigest())
        try:
            photos.append(process_photo(data, upload.filename))
        except InvalidInput as exc:
            problems.append(InvalidInput(f"media: {exc.uk}", f"media: {exc.en}"))
    return photos, digests


def _place(conn: sa.Connection, hromada_id: int, text: str, problems: list[HromadaError]) -> dict | None:
    """Where ``address_string`` is, by the local address search within the jurisdiction
    (layers.places.place_for); None when it cannot be placed, the reason and the closest places'
    labels added to ``problems``."""
    try:
        return places.place_for(conn, text, hromada_id=hromada_id)
    except places.PlaceNotFound as exc:
        labels = "; ".join(s["label"] for s in exc.suggestions)
        uk, en = (f"{exc.uk}. Можливо: {labels}", f"{exc.en}. Perhaps: {labels}") if labels else (exc.uk, exc.en)
    except InvalidInput as exc:  # too long
        uk, en = exc.uk, exc.en
    problems.append(InvalidInput(f"address_string: {uk}", f"address_string: {en}"))
    return None


def _notice(created: dict, place: dict | None = None) -> str:
    due = created["due_at"][:10]
    uk = en = ""
    if place is not None:  # said first: the client may not have meant the place found
        note = place["note"] or {"uk": "", "en": ""}
        uk = f"Місце за address_string: {place['label']}{' (' + note['uk'] + ')' if note['uk'] else ''}. "
        en = f"Placed by address_string at {place['label']}{' (' + note['en'] + ')' if note['en'] else ''}. "
    return both(f"{uk}Звернення {created['code']} передано: {created['unit']['uk']}. "
                f"{created['routing']['reason']['uk']}. Очікуваний строк — до {due}. Стежити: {created['public_url']}",
                f"{en}Request {created['code']} was sent to {created['unit']['en']}. "
                f"{created['routing']['reason']['en']}. Expected by {due}. Follow it at {created['public_url']}")


# --- GET service requests ------------------------------------------------------------------------

def photo_url(code: str, position: int) -> str:
    return f"{reports.report_url(public_url(), code)}/photos/{position}.jpg"


def request_entry(conn: sa.Connection, row, extensions: bool) -> dict:
    """One service request as the spec has it — public fields only, never the reporter's details."""
    is_open = reports.STATUSES[row["status"]].is_open
    updated = row["updated_at"] if is_open or row["closed_at"] is None else row["closed_at"]
    entry = {
        "service_request_id": row["code"],
        "status": "open" if is_open else "closed",
        "status_notes": row["status_notes"],
        "service_name": row["service_name"],
        "service_code": row["service_code"],
        "description": row["description"],
        "agency_responsible": row["agency"],
        "service_notice": None,
        "requested_datetime": w3c(row["created_at"]),
        "updated_datetime": w3c(updated),
        "expected_datetime": w3c(row["due_at"]),
        "address": ", ".join(p for p in (row["village"], row["hromada_name"]) if p),
        "address_id": None,
        "zipcode": None,
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": photo_url(row["code"], row["photos"][0]) if row["photos"] else None,
    }
    if extensions:
        entry["extended_attributes"] = {
            "detailed_status": row["status"],
            "photos": [{"media_url": photo_url(row["code"], p)} for p in row["photos"] or ()],
        }
        entry["notes"] = notes(conn, row["id"])
    return entry


def notes(conn: sa.Connection, report_id: int) -> list[dict]:
    """The update history (the "notes" extension), from the report's public history only."""
    out = []
    for event in reports.history(conn, report_id, staff=False):
        kind = event["kind"]
        if kind == "created":
            text, kind = both("Звернення подано", "Request submitted"), "submitted"
        elif kind == "status":
            label = reports.STATUSES[event["to_status"]]
            text, kind = both(f"Стан: {label.uk}", f"Status: {label.en}"), event["to_status"]
            if event["public_note"]:
                text = f"{text}. {event['public_note']}"
        elif kind == "transfer" and event["to_unit"]:
            unit = event["to_unit"]
            text, kind = both(f"Передано: {unit['uk']}", f"Transferred to: {unit['en'] or unit['uk']}"), "transferred"
        elif kind == "note" and event["public_note"]:
            text = event["public_note"]
        else:
            continue  # "me too" support and anything else without a public text
        out.append({"datetime": w3c(event["at"]), "description": text, "type": kind})
    return out


@bp.get(f"/v2/requests.{FMT}")
@documented(summary="Service requests: by id, or by service, status and time (the last 90 days by default)",
            tags=("open311",), open311=True, query=m.RequestsQuery, ok=list[m.ServiceRequest])
def request_list(fmt: str):
    conn = connection()
    hromada = jurisdiction(conn)
    extensions = extensions_wanted()
    ids = listed("service_request_id")
    if ids:  # "This overrides all other arguments."
        if len(ids) > MAX_RESULTS:
            raise InvalidInput(f"Не більше {MAX_RESULTS} service_request_id за раз",
                               f"At most {MAX_RESULTS} service_request_id at once")
        rows = public_requests.find_requests(conn, hromada.id, codes=ids)
        return render(fmt, "service_requests", [request_entry(conn, r, extensions) for r in rows])

    start, end = date_window(public_requests.database_now(conn))
    limit, offset = paging()
    statuses = None
    wanted = listed("status")
    if wanted:
        unknown = sorted(set(wanted) - {"open", "closed"})
        if unknown:
            raise InvalidInput(f"status: {', '.join(unknown)} — можливі значення open, closed",
                               f"status: {', '.join(unknown)} is not one of open, closed")
        statuses = [code for code, s in reports.STATUSES.items() if ("open" if s.is_open else "closed") in wanted]
    rows = public_requests.find_requests(conn, hromada.id, service_codes=listed("service_code"), statuses=statuses,
                                         start=start, end=end, limit=limit, offset=offset)
    return render(fmt, "service_requests", [request_entry(conn, r, extensions) for r in rows])


@bp.get(f"/v2/requests/<service_request_id>.{FMT}")
@documented(summary="One service request", tags=("open311",), open311=True, query=m.ExtensionsQuery,
            ok=list[m.ServiceRequest],
            path={"service_request_id": {"examples": ["ЯК-2026-000001"]}})
def request_one(service_request_id: str, fmt: str):
    conn = connection()
    hromada = jurisdiction(conn)
    rows = public_requests.find_requests(conn, hromada.id, codes=[service_request_id.strip()])
    if not rows:
        raise NotFound(f"Звернення {service_request_id} не знайдено",
                       f"service_request_id {service_request_id} was not found")
    return render(fmt, "service_requests", [request_entry(conn, rows[0], extensions_wanted())])


@bp.get(f"/v2/tokens/<token>.{FMT}")
@documented(summary="The service request id of a token (requests are realtime: the token is the code)",
            tags=("open311",), open311=True,
            query=m.JurisdictionQuery, ok=list[m.RequestToken])
def token(token: str, fmt: str):
    """Requests are realtime: the token is the tracking code itself."""
    conn = connection()
    hromada = jurisdiction(conn)
    code = public_requests.request_code(conn, hromada.id, token)
    if code is None:
        raise NotFound(f"Токен {token} не знайдено", f"token {token} was not found")
    return render(fmt, "service_requests", [{"service_request_id": code, "token": token}])


# --- GET service request updates (mySociety's extension) -------------------------------------------


@bp.get(f"/v2/servicerequestupdates.{FMT}")
@documented(summary="Status changes and public notes in a time window, oldest first (mySociety's extension)",
            tags=("open311",), open311=True, query=m.UpdatesQuery, ok=list[m.RequestUpdate])
def request_updates(fmt: str):
    """Status changes and public notes, oldest first, between start_date and end_date (90 days at most)."""
    conn = connection()
    hromada = jurisdiction(conn)
    start, end = date_window(public_requests.database_now(conn))
    limit, offset = paging()
    rows = public_requests.public_updates(conn, hromada.id, start, end, limit=limit, offset=offset)
    updates = []
    for row in rows:
        status = reports.STATUSES[row["status_after"]]
        text = row["public_note"] or ""
        if row["kind"] == "status":
            label = reports.STATUSES[row["to_status"]]
            text = both(f"Стан: {label.uk}", f"Status: {label.en}") + (f". {text}" if text else "")
        updates.append({"update_id": str(row["id"]), "service_request_id": row["code"],
                        "status": "open" if status.is_open else "closed", "updated_datetime": w3c(row["created_at"]),
                        "description": text, "media_url": None})
    return render(fmt, "service_request_updates", updates)


# --- anything else under /open311 ------------------------------------------------------------------


@bp.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(anything: str):
    """No such resource (404), or a known one asked with the wrong method (400, as the spec has it)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in ("GET", "POST"):
        if method == request.method:
            continue
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != request.endpoint:
            raise InvalidInput(f"Метод {request.method} тут не підтримується; використовуйте {method}",
                               f"Method {request.method} is not supported here; use {method}")
    raise NotFound(f"Ресурсу {request.path} немає (формати: .json, .xml)",
                   f"There is no resource {request.path} (formats: .json, .xml)")
