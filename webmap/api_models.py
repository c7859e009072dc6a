"""Pydantic (v2) models of the service's own JSON APIs (issue #15).

Request bodies (``*In``) are what the views accept: webmap.openapi validates each request body with
its model before the view runs and refuses a bad one with the service's error (400, both languages,
every field's problem in ``details.fields``). Query models (``*Query``) and answers (the rest)
describe; the views still read their query strings themselves. All of them make the one OpenAPI
document served at ``/api/openapi.json`` (webmap.openapi).

A body model's fields may carry :class:`Says` — the message, in Ukrainian and English, for a problem
with that field — and an ``x-label-uk`` (the field's name on the Ukrainian form, used in messages).
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from layers import reconstruction as rc
from layers.accessibility import PROFILES
from layers.reports import MAX_DESCRIPTION


class Says:
    """The message for a field's problem; ``on``: the pydantic error types it answers (default: all
    but a missing value)."""

    def __init__(self, uk: str, en: str, *, on: tuple[str, ...] | None = None):
        self.uk, self.en, self.on = uk, en, on

    def answers(self, error_type: str) -> bool:
        return error_type != "missing" if self.on is None else error_type in self.on


def _label(uk: str, description: str, **schema) -> dict:
    """A field's description, its Ukrainian label (x-label-uk) and more of its JSON schema (an enum, a format)."""
    return {"description": description, "json_schema_extra": {"x-label-uk": uk, **schema}}


# --- what every answer may share ------------------------------------------------------------------

class Open(BaseModel):
    """An answer's object: the members listed are described; others may be added later."""

    model_config = ConfigDict(extra="allow")


class Names(Open):
    """A name in Ukrainian and English (English may be missing)."""

    uk: str | None = None
    en: str | None = None


class Message(BaseModel):
    uk: str = Field(description="Ukrainian")
    en: str = Field(description="English")


class Error(Open):
    """The service's error: a code, the message in both languages, and sometimes details (a form's
    problems per field in ``details.fields``; a plan zone's current version in ``current``)."""

    error: str = Field(description="machine-readable code, e.g. invalid_input, not_found, not_signed_in")
    message: Message
    details: dict[str, Any] | None = None


class Open311Error(BaseModel):
    code: int = Field(description="the HTTP status")
    description: str = Field(description="“українською / in English”")


class Link(Open):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
                  "GeometryCollection")


class Geometry(Open):
    """A GeoJSON geometry (RFC 7946), longitude first."""

    type: Literal[GEOMETRY_TYPES]  # type: ignore[valid-type]
    coordinates: list[Any] | None = None
    geometries: list[Any] | None = None


class Feature(Open):
    """A GeoJSON Feature (RFC 7946); ``properties`` are the layer's fields this client may see."""

    type: Literal["Feature"]
    id: int | str | None = None
    geometry: Geometry | None
    properties: dict[str, Any] | None


class FeatureCollection(Open):
    """A GeoJSON FeatureCollection (RFC 7946)."""

    type: Literal["FeatureCollection"]
    features: list[Feature]
    numberMatched: int | None = None
    numberReturned: int | None = None
    links: list[Link] | None = None
    attribution: str | None = None


# --- the layer API ----------------------------------------------------------------------------------

class LayerField(Open):
    name: str
    type: str
    label: str | None
    labels: dict[str, str | None]
    required: bool
    choices: dict[str, str | None] | None = Field(None, description="code → label, for a field with choices")


class LayerLinks(Open):
    self: str
    items: str


class LayerDescription(Open):
    """One layer's declaration: fields (with labels and choices), popup, categories."""

    name: str
    title: str | None
    titles: dict[str, str | None]
    geometry: str
    fields: list[LayerField]
    popup: list[str]
    categories: list[str]
    attribution: str | None
    demo: bool
    links: LayerLinks | None = None


class LayerList(Open):
    layers: list[LayerDescription]


class HromadaQuery(BaseModel):
    hromada: str | None = Field(None, description="a hromada's KATOTTG code: the read is confined to it")


class ItemsQuery(HromadaQuery):
    bbox: str | None = Field(None, description="minLon,minLat,maxLon,maxLat (WGS 84)",
                             examples=["28.0,49.1,28.5,49.4"])
    limit: int | None = Field(None, ge=1, le=1000, description="page size (default 100)")
    offset: int | None = Field(None, ge=0)


class MapViewQuery(BaseModel):
    bbox: str = Field(description="the view: minLon,minLat,maxLon,maxLat (WGS 84)", examples=["28.0,49.1,28.5,49.4"])
    zoom: int | None = Field(None, ge=0, le=22, description="the map's zoom: geometries simplified to its pixel")
    lang: Literal["uk", "en"] | None = Field(None, description="the language of the popup rows")


class MapClickQuery(BaseModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    zoom: int | None = Field(None, ge=0, le=22, description="the map's zoom: the click's tolerance is 8 px of it")
    lang: Literal["uk", "en"] | None = None


class MapPopup(Open):
    popup: list[list[str]] = Field(description="[label, value] rows in the page's language")
    label: str = Field(description="the feature's name, for a tooltip")


class Dashboard(Open):
    """A hromada's figures on residents' reports (layers.dashboard)."""

    by_category: list[dict[str, Any]]
    by_unit: list[dict[str, Any]]
    by_village: list[dict[str, Any]]
    by_month: list[dict[str, Any]]
    times: dict[str, Any]
    fixed_answers: dict[str, int]
    hexbins: dict[str, Any]
    overdue: list[dict[str, Any]] | None = None


class HeadingsQuery(BaseModel):
    headings: Literal["uk", "en"] | None = Field(None, description="CSV: name the columns by their labels")


class Distributions(Open):
    geojson: str | None = None
    gpkg: str | None = None
    csv: str | None = None


class MetadataField(Open):
    name: str
    type: str
    title: Names


class LayerMetadata(Open):
    """The data set's description for open-data portals."""

    identifier: str
    title: Names
    description: Names
    license: str | None
    source: str | None
    attribution: str | None
    modified: str | None
    crs: str
    geometry_type: str | None
    feature_count: int
    demo_data: bool
    fields: list[MetadataField]
    distributions: Distributions


# --- residents' reports -------------------------------------------------------------------------------

class CsrfToken(BaseModel):
    csrf_token: str


class PointQuery(BaseModel):
    lat: float = Field(ge=-90, le=90, description="latitude, WGS 84")
    lon: float = Field(ge=-180, le=180, description="longitude, WGS 84")


class NearbyQuery(PointQuery):
    category: str | None = Field(None, description="a category code")


class AssetsQuery(PointQuery):
    category: str = Field(description="a category about assets, e.g. street_light_out or pothole")


class CodedName(Open):
    code: str
    uk: str | None = None
    en: str | None = None


class HromadaRef(Open):
    katottg: str
    uk: str | None = None
    en: str | None = None


class ReportCategories(Open):
    hromada: HromadaRef
    categories: list[CodedName]


class NearbyReport(Open):
    code: str
    status: str
    description: str | None
    category: CodedName
    created_at: str
    distance_m: int | float


class NearbyReports(Open):
    reports: list[NearbyReport]


class Asset(Open):
    id: int
    ref: str | None
    name: str | None
    distance_m: int | float


class NearbyAssets(Open):
    kind: Names | None = Field(description="what the assets are (lamps, road segments); null for other categories")
    assets: list[Asset]


class Location(BaseModel):
    lat: float
    lon: float


class HistoryEntry(Open):
    at: str
    kind: str
    from_status: str | None = None
    to_status: str | None = None
    to_unit: Names | None = None
    public_note: str | None = None


class PublicReport(Open):
    """What anyone may see of a report: never the reporter's e-mail or phone, nor a hidden name."""

    code: str
    status: str
    is_open: bool
    category: CodedName
    description: str | None
    created_at: str
    updated_at: str | None
    closed_at: str | None
    due_at: str | None
    duplicate_of: str | None
    hromada: HromadaRef
    unit: Names | None
    village: str | None
    location: Location
    reporter_name: str | None
    supporters: int
    photos: list[Any]
    history: list[HistoryEntry]


def _blank_is_absent(value):
    return None if isinstance(value, str) and not value.strip() else value


def _checkbox(value) -> bool:
    """A checkbox: only a clear yes — "0", "no", "off", "ні", "n", "" stay unchecked."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    return str(value).strip().lower() not in ("false", "0", "no", "off", "ні", "n", "")


def _email(value: str | None) -> str | None:
    if value is None:
        return None
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return value


def _iso_date(value):
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    if isinstance(value, dt.date):
        return value
    raise ValueError("not a date")


BAD_EMAIL = Says("неправильна адреса ел. пошти", "not a valid e-mail address")
Email = Annotated[str | None, AfterValidator(_email), BAD_EMAIL, WithJsonSchema(
    {"anyOf": [{"type": "string", "format": "email"}, {"type": "null"}]})]
Phone = Annotated[str | None, Field(pattern=r"^\+?[0-9 ()\-]{7,20}$"),
                  Says("неправильний номер телефону", "not a valid phone number")]
Checkbox = Annotated[bool, BeforeValidator(_checkbox), WithJsonSchema(
    {"anyOf": [{"type": "boolean"}, {"type": "string"}], "default": False,
     "description": "a checkbox: true, or any text but false/0/no/off/n/ні/empty"})]
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date),
                    Says("дата у вигляді РРРР-ММ-ДД", "a date, YYYY-MM-DD"),
                    WithJsonSchema({"type": "string", "format": "date"})]


def _range(uk: str, en: str) -> Says:
    return Says(uk, en, on=("greater_than_equal", "less_than_equal", "greater_than", "less_than"))


class FlatBody(BaseModel):
    """A body of single values, sent as a form or as a JSON object: where a number is documented, a
    number or its text; true/false for a checkbox; null or an empty text leaves a field out."""

    model_config = ConfigDict(coerce_numbers_to_str=True, allow_inf_nan=False, extra="ignore")


Latitude = Annotated[float, Field(ge=-90, le=90, **_label("Широта", "latitude, WGS 84")),
                     _range("широта має бути між −90 і 90", "latitude must be between −90 and 90")]
Longitude = Annotated[float, Field(ge=-180, le=180, **_label("Довгота", "longitude, WGS 84")),
                      _range("довгота має бути між −180 і 180", "longitude must be between −180 and 180")]


class ReportIn(FlatBody):
    """A resident's report."""

    lat: Latitude
    lon: Longitude
    category: str = Field(min_length=1, **_label("Категорія", "a category code handled at the point "
                                                              "(GET /api/reports/categories)"))
    description: Annotated[str, Field(min_length=1, max_length=MAX_DESCRIPTION,
                                      **_label("Опис", "what is wrong")),
                           Says("опишіть проблему", "describe the problem", on=("missing", "string_too_short")),
                           Says(f"до {MAX_DESCRIPTION} знаків", f"at most {MAX_DESCRIPTION} characters",
                                on=("string_too_long",))]
    name: Annotated[str | None, Field(max_length=200, **_label("Ім'я", "the reporter's name (never public "
                                                                       "unless show_name)")),
                    Says("до 200 знаків", "at most 200 characters")] = None
    email: Annotated[Email, Field(**_label("Ел. пошта", "to follow the report; never public"))] = None
    phone: Annotated[Phone, Field(**_label("Телефон", "never public"))] = None
    show_name: Annotated[Checkbox, Field(**_label("Показувати моє ім'я", "publish the name"))] = False
    asset_id: int | None = Field(None, **_label("Об'єкт", "the lamp or road segment (GET /api/reports/assets)"))


Binary = Annotated[Any, WithJsonSchema({"type": "string", "format": "binary"})]


class ReportMultipartIn(ReportIn):
    """A resident's report as the map's form sends it, with up to three photos."""

    photos: list[Binary] = Field([], max_length=3, description="JPEG, PNG or WebP; at most 3")


class ReportCreated(Open):
    """The resident's answer: tracking code, links, the unit and why it got the report."""

    id: int | None = None
    code: str
    status: str | None = None
    public_url: str
    private_url: str | None = Field(None, description="the reporter's private link (not when joining a report)")
    due_at: str | None = None
    unit: Names
    routing: dict[str, Any]
    joined_existing: bool
    supporters: int | None = None
    subscribed: bool | None = None


def _speed(uk: str) -> Any:
    return Annotated[float, Field(ge=0, le=10_000, **_label(uk, "Mbit/s, 0…10000")),
                     _range("від 0 до 10000 Мбіт/с", "from 0 to 10000 Mbit/s")]


class SpeedTestIn(FlatBody):
    """A resident's own speed measurement (Mbit/s as speed-test apps show it)."""

    lat: Latitude
    lon: Longitude
    down_mbps: _speed("Завантаження, Мбіт/с")
    up_mbps: _speed("Віддача, Мбіт/с")
    latency_ms: Annotated[int | None, Field(ge=0, le=10_000, **_label("Затримка, мс", "milliseconds")),
                          _range("від 0 до 10000 мс", "from 0 to 10000 ms")] = None
    network: Annotated[Literal["fixed", "mobile"], Field(**_label("Мережа", "fixed or mobile")),
                       Says("fixed (фіксований) або mobile (мобільний)", "fixed or mobile")]
    provider: Annotated[str | None, Field(max_length=100, **_label("Провайдер", "the provider's name")),
                        Says("до 100 знаків", "at most 100 characters")] = None


class SpeedTestStored(Open):
    id: int
    hromada: str
    down_kbps: int
    up_kbps: int


class MeTooIn(FlatBody):
    """Support an open report; with an e-mail, follow its updates."""

    email: Annotated[Email, Field(**_label("Ел. пошта", "to be told of its updates"))] = None


FollowState = Literal["following", "confirm", "stopped"]


class MeToo(Open):
    code: str
    supporters: int
    subscribed: bool
    follow: FollowState | None = Field(None, description="with an e-mail: what happens next (see /follow)")


class FollowIn(FlatBody):
    """Follow a report's updates by e-mail."""

    email: Annotated[Email, Field(**_label("Ел. пошта", "to be told of its updates"))]


class Following(Open):
    code: str
    follow: FollowState


class WriteHeaders(BaseModel):
    """Headers of a resident's write."""

    model_config = ConfigDict(populate_by_name=True)

    idempotency_key: str | None = Field(None, alias="Idempotency-Key", max_length=200,
                                        description="a retry with the same key gets the first answer")
    csrf: str | None = Field(None, alias="X-CSRFToken",
                             description="the CSRF token (from the page or GET /api/csrf-token); "
                                         "a form may send it as csrf_token instead")


class IdempotencyHeaders(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    idempotency_key: str | None = Field(None, alias="Idempotency-Key", max_length=200,
                                        description="a retry with the same key gets the first answer")


class AlertIn(BaseModel):
    """A subscription to the reports of an area (as the form at /alerts makes it)."""

    model_config = ConfigDict(extra="allow")

    hromada: str | None = Field(None, description="the hromada's KATOTTG code (default: the service's hromada)")
    email: str | None = Field(None, description="where the alerts go; a new address is asked to confirm first")
    settlement: int | str | None = Field(None, description="a village's id")
    district: int | str | None = Field(None, description="a starosta district's id or code")
    area: dict[str, Any] | None = Field(None, description="a drawn area: a GeoJSON Polygon or MultiPolygon")
    area_name: str | None = Field(None, description="what to call the drawn area")
    whole_hromada: bool | None = Field(None, description="true: the whole hromada")
    categories: list[str] | None = Field(None, description="category codes (none: every category)")
    frequency: Literal["immediate", "daily"] | None = Field(None, description="at once, or a daily digest")


class AlertSubscribed(Open):
    """The answer: ``subscribed``, ``confirm`` (a mail asks to confirm the address first) or ``stopped``
    (the address asked for no more mail), what was subscribed to, and the area's Atom feed."""

    state: Literal["subscribed", "confirm", "stopped"]
    hromada: Any = None
    place: Any = None
    categories: Any = None
    frequency: str | None = None
    feed_url: str


class LangQuery(BaseModel):
    lang: Literal["uk", "en"] | None = Field(None, description="the language of the titles (default uk)")


class CsrfHeaders(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    csrf: str | None = Field(None, alias="X-CSRFToken", description="the CSRF token of a signed-in session")


# --- venues --------------------------------------------------------------------------------------------

class VenueSearchQuery(BaseModel):
    profile: str = Field(description="a need profile", json_schema_extra={"enum": list(PROFILES)})
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    place: str | None = Field(None, description="a village's name instead of lat/lon")
    category: str | None = None
    partial: str | None = Field(None, description="y: include partly accessible venues")
    limit: int | None = Field(None, ge=1, description="default 20")
    radius: float | None = Field(None, gt=0, description="metres")


class VenueFound(Open):
    id: int
    name: str | None
    category: str | None
    category_label: str | None = None
    address: str | None
    lat: float
    lon: float
    distance_m: int | float
    rating: str
    rating_label: str | None = None
    reason: str | None = None
    demo: bool | None = None


class VenueSearch(Open):
    profile: str
    near: Location
    include_partial: bool
    category: str | None
    venues: list[VenueFound]


# --- a hromada's JSON: coverage, routes, roads, lighting, land, property, reconstruction -------------

class ZonesQuery(BaseModel):
    zones: Literal["settlement", "hex"] | None = Field(None, description="default settlement")


class ZonesHeadingsQuery(ZonesQuery, HeadingsQuery):
    pass


class Coverage(Open):
    """The latest coverage analysis: when, parameters, evidence, and every zone's shares."""

    run: dict[str, Any]
    zone_kind: Literal["settlement", "hex"]
    thresholds_mbps: dict[str, float]
    results: list[dict[str, Any]]


class RouteSummary(Open):
    code: str
    title_uk: str | None
    title_en: str | None
    stops: int
    length_m: float | int | None
    walking_min: int | None
    cycling_min: int | None
    url: str
    gpx: str
    is_demo: bool | None = None


class Routes(Open):
    hromada: str
    line: str
    speeds_kmh: dict[str, float]
    routes: list[RouteSummary]


class RoadsSummary(Open):
    """Kilometres of road per condition class (1 failed … 5 excellent; "" unrated), per village and in total."""

    hromada: str
    unit: Literal["km"]
    conditions: dict[str, Names]
    villages: dict[str, dict[str, float]]
    total: dict[str, float]


class ReachQuery(BaseModel):
    reach: float | None = Field(None, ge=5, le=200, description="metres from a working lamp that count as lit "
                                                                 "(default 35)")


class StreetLighting(Open):
    street: str | None
    village: str | None
    length_m: float
    lit_m: float
    lit_share: float | None


class LightingCoverage(Open):
    hromada: str
    reach_m: float
    streets: list[StreetLighting]


class LandProgress(Open):
    hromada: str
    unit: Literal["ha"]
    done_status: str
    statuses: dict[str, Names]
    total: dict[str, Any]
    villages: dict[str, dict[str, Any]]


class LandProblem(Open):
    kind: str
    area_m2: float | None
    block: str | None = None
    geometry: Geometry | None
    parcels: list[dict[str, Any]]


class LandQa(Open):
    hromada: str
    kinds: dict[str, Names]
    tolerances_m2: dict[str, float]
    counts: dict[str, int]
    problems: list[LandProblem]


class PropertyQuery(BaseModel):
    type: str | None = Field(None, description="building, premises, network, …")
    condition: str | None = None
    tenant_kind: str | None = None
    balance_holder_unit_id: str | None = Field(None, description="the balance holder's unit id")


class PropertyObject(Open):
    id: int
    name: str | None
    type: str | None
    lat: float | None
    lon: float | None


class PropertyRegister(Open):
    hromada: str
    totals: dict[str, Any]
    objects: list[PropertyObject]


DecimalText = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", description="an exact decimal amount, UAH")]


class ProjectSummary(Open):
    id: int
    title_uk: str
    title_en: str | None
    stage: str
    status: str | None
    budget: DecimalText | None
    available: DecimalText | None
    disbursed: DecimalText | None
    spent: DecimalText | None
    lat: float | None
    lon: float | None


class Reconstruction(Open):
    """The reconstruction analytics; amounts as exact decimal strings (UAH)."""

    hromada: str
    currency: Literal["UAH"]
    amounts: str
    totals: dict[str, Any]
    by_stage: list[dict[str, Any]]
    by_status: list[dict[str, Any]]
    by_sector: list[dict[str, Any]]
    by_source: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    events: list[dict[str, Any]]
    projects: list[ProjectSummary]


class StageEntry(Open):
    stage: str
    entered_at: str
    note: str | None = None
    by_name: str | None = None


class Project(Open):
    """One project with its history, funding, tenders and damage references."""

    id: int
    title_uk: str
    title_en: str | None
    stage: str
    outcome: str | None
    status: str | None
    katottg: str | None
    lat: float | None
    lon: float | None
    footprint: Geometry | None
    budget: DecimalText | None
    history: list[StageEntry]
    funding: dict[str, Any]
    funding_lines: list[dict[str, Any]]
    tenders: list[dict[str, Any]]
    damage_refs: list[Any]
    photos: list[Any]
    moves: list[str]


class StageIn(FlatBody):
    """Move a project to a later stage (or close it as cancelled/unsuccessful)."""

    stage: str = Field(min_length=1, **_label("Етап", "a later stage, or an outcome that closes the project",
                                              enum=[*rc.STAGES, *rc.OUTCOMES]))
    at: str | None = Field(None, **_label("Дата", "when (YYYY-MM-DD or an ISO date-time, not before 2014, not in "
                                                  "the future); default now", format="date"))
    note: str | None = Field(None, **_label("Примітка", "a note"))
    by: str | None = Field(None, **_label("Хто", "who decided"))


class StageMoved(Open):
    id: int
    stage: str
    outcome: str | None
    status: str | None
    history: list[StageEntry]


Amount = Annotated[int | float | str, Field(description="UAH: a number or its exact decimal text"), WithJsonSchema(
    {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$"}],
     "description": "UAH: a number or its exact decimal text"})]


class FundingIn(FlatBody):
    """A funding line of a project."""

    model_config = ConfigDict(coerce_numbers_to_str=False)

    source: str = Field(**_label("Джерело", "where the money comes from", enum=list(rc.FUNDING_SOURCES)))
    available: Annotated[Amount, Field(**_label("Доступно", "the amount available"))]
    disbursed: Annotated[Amount | None, Field(**_label("Перераховано", "default 0"))] = None
    spent: Annotated[Amount | None, Field(**_label("Витрачено", "default 0"))] = None
    party: str | None = Field(None, **_label("Хто дає", "who gives it"))
    note: str | None = Field(None, **_label("Примітка", "a note"))


class FundingAdded(Open):
    id: int
    project_id: int
    funding: dict[str, Any]


# --- road inspections ----------------------------------------------------------------------------------

class Inspection(Open):
    kind: str = Field(description="inspection or repair")
    condition: str | None
    pci: float | None
    inspected_on: str
    note: str | None
    report_code: str | None = None


class Inspections(Open):
    segment_id: int
    inspections: list[Inspection]


class InspectionIn(FlatBody):
    """A road inspection recorded by staff."""

    condition: Annotated[str, Field(pattern=r"^[1-5]$",
                                    **_label("Стан (1–5)", "1 (failed) … 5 (excellent), as a number or its text")),
                         Says("від 1 (аварійний) до 5 (відмінний)", "1 (failed) to 5 (excellent)"),
                         WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1, "maximum": 5},
                                                   {"type": "string", "enum": ["1", "2", "3", "4", "5"]}]})]
    pci: Annotated[float | None, Field(ge=0, le=100, **_label("PCI", "pavement condition index, 0…100")),
                   _range("від 0 до 100", "0 to 100")] = None
    inspected_on: Annotated[IsoDate, Field(**_label("Дата огляду", "YYYY-MM-DD"))]
    note: Annotated[str | None, Field(max_length=2000, **_label("Примітка", "a note")),
                    Says("до 2000 знаків", "at most 2000 characters")] = None


class InspectionStored(Open):
    id: int
    segment_id: int


# --- the plan editor's zone endpoints -------------------------------------------------------------------

class ZoneBody(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="ignore")

    attributes: Annotated[dict[str, Any], BeforeValidator(lambda v: {} if v is None else v)] = Field(
        {}, description="zone_code, name, max_height_m, … (those not given are left as they are)")
    reason: str | None = Field(None, description="why (kept in the zone's history)")
    repair: Annotated[bool, BeforeValidator(lambda v: bool(v) if v is None else v)] = Field(
        False, description="repair an invalid polygon instead of refusing it")


class ZoneCreateIn(ZoneBody):
    """A new zone of the plan."""

    geometry: dict[str, Any] = Field(description="a GeoJSON Polygon or MultiPolygon, WGS 84")


class ZoneUpdateIn(ZoneBody):
    """Change a zone that still has ``version`` (else 412 with the current one)."""

    version: int = Field(description="the version this change is based on")
    geometry: dict[str, Any] | None = Field(None, description="a new GeoJSON Polygon or MultiPolygon")


class ZoneSplitIn(BaseModel):
    """Split a zone along a line."""

    model_config = ConfigDict(allow_inf_nan=False, extra="ignore")

    line: dict[str, Any] = Field(description="a GeoJSON LineString across the zone")
    version: int
    reason: str | None = None


class ZoneRevertIn(FlatBody):
    """Make an earlier version of the zone the current one (JSON, or the history page's form)."""

    to_version: int = Field(**_label("Версія", "the version to go back to"))
    reason: str | None = Field(None, **_label("Причина", "why"))


class ZoneDeleteQuery(BaseModel):
    version: int = Field(description="the version being deleted")
    reason: str | None = None


class Zone(Open):
    """A plan zone as the editor has it."""

    id: int
    plan_id: int
    version: int
    updated_at: str
    geometry: Geometry | None


class SplitZones(Open):
    zones: list[Zone]


class ZoneDeleted(Open):
    deleted: int


# --- Open311 GeoReport v2 ------------------------------------------------------------------------------

class JurisdictionQuery(BaseModel):
    jurisdiction_id: str | None = Field(None, description="the hromada's KATOTTG code (optional while one is "
                                                          "served)")


class Open311Endpoint(Open):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class Discovery(Open):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[Open311Endpoint]


class Service(Open):
    service_code: str
    service_name: str
    description: str | None
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str | None
    group: str | None


class AttributeValue(BaseModel):
    key: str
    name: str


class ServiceAttribute(Open):
    variable: bool
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValue] | None = None


class ServiceDefinition(Open):
    service_code: str
    attributes: list[ServiceAttribute]


class RequestsQuery(JurisdictionQuery):
    service_request_id: str | None = Field(None, description="comma-separated codes; overrides the rest")
    service_code: str | None = Field(None, description="comma-separated")
    start_date: str | None = Field(None, description="ISO 8601; default 90 days before end_date")
    end_date: str | None = Field(None, description="ISO 8601; default now; at most 90 days after start_date")
    status: str | None = Field(None, description="open, closed or both, comma-separated")
    page: int | None = Field(None, ge=1)
    page_size: int | None = Field(None, ge=1, le=1000)
    extensions: str | None = Field(None, description="true: the update history (notes) and photos")


class ExtensionsQuery(JurisdictionQuery):
    extensions: str | None = Field(None, description="true: the update history (notes) and photos")


class UpdatesQuery(JurisdictionQuery):
    start_date: str | None = None
    end_date: str | None = None
    page: int | None = Field(None, ge=1)
    page_size: int | None = Field(None, ge=1, le=1000)


class ServiceRequest(Open):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str | None
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str
    updated_datetime: str | None
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float
    long: float
    media_url: str | None
    extended_attributes: dict[str, Any] | None = None
    notes: list[dict[str, Any]] | None = None


class ServiceRequestCreated(Open):
    service_request_id: str
    service_notice: str | None
    account_id: str | None


class RequestToken(Open):
    service_request_id: str
    token: str


class RequestUpdate(Open):
    update_id: str
    service_request_id: str
    status: Literal["open", "closed"]
    updated_datetime: str
    description: str | None
    media_url: str | None


class Open311RequestIn(BaseModel):
    """A new service request (form-encoded, as the spec has it, or multipart/form-data with photos)."""

    model_config = ConfigDict(populate_by_name=True)

    api_key: str = Field(description="the application's key (hromada api-keys create NAME)")
    jurisdiction_id: str | None = None
    service_code: str
    lat: float | None = Field(None, ge=-90, le=90, description="with long; or give address_string instead")
    long: float | None = Field(None, ge=-180, le=180, description="with lat; or give address_string instead")
    address_string: str | None = Field(None, max_length=200, description=(
        "without lat/long: placed by the local address search, e.g. “вул. Центральна 5, Якушинці” (not found: "
        "400 with the closest places); ignored when lat/long are given"))
    media: list[Binary] = Field([], max_length=3, description=(
        "multipart/form-data only: photos as files, the field repeated for several; JPEG, PNG or WebP, at most 3, "
        "10 MB each; EXIF (GPS) removed"))
    description: str = Field(max_length=MAX_DESCRIPTION)
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    asset_ref: str | None = Field(None, alias="attribute[asset_ref]",
                                  description="lamp and road services: the asset's number")


# --- finding a place by address (layers.places, #17) ----------------------------------------------------

class PlacesQuery(BaseModel):
    q: str = Field(min_length=1, max_length=200, description="what a person typed: an address, a street or a "
                   "village, e.g. “вул. Центральна 5, Якушинці” (typos, a Latin i and the like are forgiven)",
                   examples=["вул. Центральна 5, Якушинці"])
    hromada: str | None = Field(None, description="a hromada's KATOTTG code: only places in it")
    limit: int | None = Field(None, ge=1, le=20, description="at most this many places (default 5)")


class Place(Open):
    kind: Literal["address", "street", "settlement"] = Field(
        description="address: the house found; street: the street (the house number was not found on it); "
                    "settlement: the village")
    label: str = Field(description="e.g. “вул. Центральна, 5, Якушинці”")
    lon: float
    lat: float
    score: float = Field(ge=0, le=1, description="how well the text matches (pg_trgm similarity), 1 at best")
    settlement: str | None = Field(description="the village's name in Ukrainian")
    settlement_en: str | None = Field(description="the village's name in English, if known")
    hromada: str = Field(description="the hromada's KATOTTG code")
    street: str | None
    housenumber: str | None
    note: Message | None = Field(description="why this is less than was asked (a house or a street not found)")


class Places(Open):
    query: str
    places: list[Place] = Field(description="best first; empty when nothing matches well enough")
    suggestions: list[Place] = Field(description="when no place matches well enough: the closest ones, to offer")
