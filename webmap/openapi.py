"""One description of the service's own JSON APIs (issue #15): ``GET /api/openapi.json``.

The document is generated from the code by spectree: every custom JSON endpoint (under /api/, the
plan editor's zone endpoints, Open311 GeoReport v2) carries ``@documented(…)``, just above its
``def``, naming its pydantic models (webmap.api_models) — the request body, the query, the answers
and the errors. Spectree reads the routes of the existing blueprints; nothing about them changes.

Request bodies are validated here, by the body's pydantic model, before the view runs (and after the
sign-in, role and CSRF checks and the rate limit, which wrap it): a problem is the service's own
:class:`gis.errors.InvalidInput` — 400, both languages, every field's problem in ``details.fields`` —
answered by whatever error handler the blueprint has (Open311's error list under /open311/). The
view reads the validated body with :func:`body`. Answers are only described, never rewritten: the
view's response goes out exactly as it made it.

The OGC API – Features has its own document at /ogc/api (webmap.ogc.openapi).
"""
from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from pydantic import BaseModel, ValidationError
from spectree import Response as Answers
from spectree import SecurityScheme, SecuritySchemeData, SpecTree
from spectree.plugins.flask_plugin import FlaskPlugin

from gis.errors import InvalidInput
from webmap.api_models import Error, FlatBody, Open311Error, Says
from webmap.forms import REQUIRED

BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
DEMO_KATOTTG = "UA05020310000080026"  # the demo hromada (importers.demo): an example in the document

# What every answer may be besides the documented success: a request to fix, nothing there, and
# the database out of reach (webmap.errors: 503 with Retry-After).
COMMON_ERRORS = (400, 404, 503)
ERROR_TEXT = {
    400: "Invalid input (every field's problem in details.fields), a malformed body, a missing CSRF token",
    401: "Not signed in (a session or an API token is needed)",
    403: "Signed in, but without the role this needs in that hromada",
    404: "No such resource (or not visible to this client)",
    409: "Conflict with the current state (e.g. a closed project, an approved plan)",
    412: "Based on an old version: the current one is in `current`",
    413: "The request is too large (photos together up to 32 MB)",
    415: "A Content-Type this endpoint does not take",
    422: "Well-formed but impossible (e.g. a point outside every hromada, nobody handles the category there)",
    428: "A write that names no version",
    429: "Too many requests (rate limit); try again later",
    503: "The database is temporarily unavailable (Retry-After: 30)",
}

# Open311 answers the spec's error list, with 400 for anything the client must fix (409 and 422 too).
OPEN311_ERROR_TEXT = {
    **ERROR_TEXT,
    400: "Anything the request must fix (the spec's 400: invalid or missing fields, a point outside the "
         "jurisdiction, a wrong method): one entry per problem",
    403: "A missing, unknown or revoked api_key",
    404: "No such service, request, token or jurisdiction",
}


class _DescribingFlaskPlugin(FlaskPlugin):
    """Spectree's Flask plugin, with the service's own request handling: the body is validated by
    :func:`read_body` (errors in the service's format), and the view's answer is left untouched."""

    def validate(self, func, query, json, form, headers, cookies, resp, before, after,
                 validation_error_status, skip_validation, force_resp_serialize, *args, **kwargs):
        if not skip_validation and request.method in BODY_METHODS and (json is not None or form is not None):
            g.api_body = read_body(json, form)
        return func(*args, **kwargs)


spec = SpecTree(
    "flask", backend=_DescribingFlaskPlugin, mode="strict", annotations=False,
    title="Hromada GIS — JSON APIs",
    version="1.0.0",
    description=(
        "The service's own JSON APIs: layers, open data, residents' reports and speed tests, a hromada's "
        "analytics (coverage, roads, lighting, land, property, reconstruction, e-routes), staff writes, the plan "
        "editor's zone endpoints, and Open311 GeoReport v2 (`.json`; every Open311 resource is also served as "
        "`.xml`, `text/xml`). Errors are `{error, message: {uk, en}, details?}` (Open311: the spec's list of "
        "`{code, description}`). The OGC API – Features has its own document at `/ogc/api`."),
    openapi_version="3.1.0",
    validation_error_status=400, validation_error_model=Error,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    security_schemes=[
        SecurityScheme(name="session", data=SecuritySchemeData(
            type="apiKey", field_in="cookie", name="session",
            description="a signed-in session (POST /staff/login); writes also send the CSRF token (X-CSRFToken)")),
        SecurityScheme(name="bearer", data=SecuritySchemeData(
            type="http", scheme="bearer", description="a personal API token (hromada users token create)")),
    ],
)
SIGNED_IN = [{"session": []}, {"bearer": []}]


# --- request bodies ----------------------------------------------------------------------------------

def body() -> Any:
    """The request body the view's model validated (webmap.openapi.documented)."""
    return g.api_body


def read_body(json_model: type[BaseModel] | None, form_model: type[BaseModel] | None,
              data: dict | None = None) -> BaseModel:
    """The request's body — a JSON object, or a form where the endpoint takes one; or ``data``, form
    fields a page prepared — validated by its model; InvalidInput (400) naming every field's problem
    otherwise."""
    if data is not None:
        model = form_model
    elif request.is_json or form_model is None:
        data = request.get_json(silent=True)  # the app's guarded reader: too deep, NaN → None
        if not isinstance(data, dict):
            raise InvalidInput("Тіло запиту — не правильний JSON-об'єкт", "The request body is not a valid JSON object")
        model = json_model or form_model
        if issubclass(model, FlatBody):
            data = _flat(data)
    else:
        model = form_model
        data = {key: request.form.get(key) for key in request.form}
    if issubclass(model, FlatBody):  # an empty text leaves a field out, as a form's empty box does
        data = {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc, model) from None


def _flat(data: dict) -> dict:
    """A JSON object of single values: null leaves a field out; a whole number written 3.0 is 3."""
    out = {}
    for key, value in data.items():
        if isinstance(value, (dict, list)):
            raise InvalidInput(f"Поле {key}: очікується одне значення, не список чи об'єкт",
                               f"Field {key}: a single value is expected, not a list or an object")
        if value is None:
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        out[key] = value
    return out


def problems(exc: ValidationError, model: type[BaseModel]) -> list[tuple[str, str, str, str]]:
    """Each problem as (field, its Ukrainian label, Ukrainian message, English message)."""
    by_alias = {(info.alias or name): (name, info) for name, info in model.model_fields.items()}
    out = []
    for error in exc.errors(include_url=False):
        key = str(error["loc"][0]) if error["loc"] else ""
        name, info = by_alias.get(key, (key, None))
        extra = (info.json_schema_extra if info is not None and isinstance(info.json_schema_extra, dict) else {})
        label = extra.get("x-label-uk") or key
        says = next((m for m in (info.metadata if info is not None else ()) if isinstance(m, Says)
                     and m.answers(error["type"])), None)
        uk, en = (says.uk, says.en) if says else _plain_message(error)
        out.append((key or name, label, uk, en))
    return out


def invalid(exc: ValidationError, model: type[BaseModel]) -> InvalidInput:
    """The problems as one InvalidInput, as webmap.forms.raise_for words a form's."""
    uk, en, fields = [], [], {}
    for name, label, p_uk, p_en in problems(exc, model):
        uk.append(f"{label}: {p_uk}")
        en.append(f"{name}: {p_en}")
        fields.setdefault(name, []).append({"uk": p_uk, "en": p_en})
    return InvalidInput("; ".join(uk), "; ".join(en), fields=fields)


def _plain_message(error: dict) -> tuple[str, str]:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return REQUIRED.uk, REQUIRED.en
    if kind in ("float_parsing", "float_type", "finite_number", "decimal_parsing", "decimal_type"):
        return "має бути числом", "Not a valid float value"  # the words clients saw before (WTForms')
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "має бути цілим числом", "Not a valid integer value"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(ctx.values()), "")
        words = {"greater_than_equal": ("не менше", "at least"), "greater_than": ("більше за", "more than"),
                 "less_than_equal": ("не більше", "at most"), "less_than": ("менше за", "less than")}[kind]
        return f"{words[0]} {bound}", f"{words[1]} {bound}"
    if kind == "string_too_long":
        return f"до {ctx.get('max_length')} знаків", f"at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return REQUIRED.uk, REQUIRED.en
    if kind in ("string_type", "string_unicode"):
        return "має бути текстом", "must be text"
    if kind in ("bool_parsing", "bool_type"):
        return "true або false", "true or false"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "має бути JSON-об'єктом", "must be a JSON object"
    if kind == "list_type":
        return "має бути списком", "must be a list"
    if kind == "literal_error":
        return f"одне з: {ctx.get('expected')}", f"one of: {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return "неправильний формат", "not in the expected format"
    message = error.get("msg") or kind
    return f"неправильне значення ({message})", message


# --- describing an endpoint ----------------------------------------------------------------------

def documented(*, summary: str, description: str | None = None, tags: tuple[str, ...] = (),
               ok: Any = None, status: int = 200, media: str | None = None, alternatives: dict | None = None,
               query: type[BaseModel] | None = None, json: type[BaseModel] | None = None,
               form: type[BaseModel] | None = None, form_media: tuple[str, ...] = FORM_TYPES,
               headers: type[BaseModel] | None = None, errors: tuple[int, ...] = (),
               security: list | None = None, path: dict | None = None, open311: bool = False,
               responses: dict | None = None, validate: bool = True):
    """Describe the view below (and validate its request body with ``json``/``form``).

    ``ok``: the model of the success answer (``status``, default 200), ``media`` its media type when
    not application/json, ``alternatives`` other media types of it ({type: schema}); ``errors``: the
    statuses beyond 400/404/503 it may answer; ``path``: schema additions per path parameter;
    ``open311``: an Open311 resource (``.json`` documented, ``.xml`` mentioned, the spec's error list).
    """
    error_model = list[Open311Error] if open311 else Error
    codes: dict[str, Any] = {f"HTTP_{status}": ok} if ok is not None else {}
    for code in sorted({*COMMON_ERRORS, *errors}):
        codes[f"HTTP_{code}"] = (error_model, (OPEN311_ERROR_TEXT if open311 else ERROR_TEXT)[code])
    if ok is None:
        answers = Answers(f"HTTP_{status}", **codes)
    else:
        answers = Answers(**codes)
    extras = {"summary": summary, "description": description, "media": media, "status": status,
              "alternatives": alternatives or {}, "form_media": form_media, "path": path or {},
              "open311": open311, "responses": responses or {}}
    validator = spec.validate(query=query, json=json, form=form, headers=headers, resp=answers, tags=tags,
                              security=security, skip_validation=not validate)

    def decorate(view):
        wrapped = validator(view)
        wrapped.__openapi__ = extras
        return wrapped
    return decorate


# --- the document --------------------------------------------------------------------------------

def document() -> dict:
    """The OpenAPI 3.1 document of the app's documented endpoints (made once per app)."""
    found = current_app.extensions.get("openapi_document")
    if found is None:
        found = current_app.extensions["openapi_document"] = _build()
    return found


def _build() -> dict:
    doc = copy.deepcopy(spec.spec)
    renamed: dict[str, str] = {}
    for rule in current_app.url_map.iter_rules():
        view = current_app.view_functions.get(rule.endpoint)
        extras = getattr(view, "__openapi__", None)
        if extras is None:
            continue
        path, _ = spec.backend.parse_path(rule, None)
        item = doc["paths"].get(path)
        if item is None:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = item.get(method.lower())
            if operation is not None:
                _finish(operation, extras, doc)
        if extras["open311"] and "{fmt}" in path:
            renamed[path] = path.replace("{fmt}", "json")
    doc["paths"] = {renamed.get(p, p): item for p, item in sorted(doc["paths"].items())}
    if not doc.get("security"):
        doc.pop("security", None)
    if not doc.get("tags"):
        doc.pop("tags", None)
    return doc


def _finish(operation: dict, extras: dict, doc: dict) -> None:
    operation["summary"] = extras["summary"]
    operation["operationId"] = operation["operationId"].replace("{fmt}", "json") if extras["open311"] else \
        operation["operationId"]
    if extras["description"]:
        operation["description"] = extras["description"]
    elif not operation.get("description"):
        operation.pop("description", None)
    if not operation.get("tags"):
        operation.pop("tags", None)
    parameters = []
    for parameter in operation.get("parameters", []):
        if extras["open311"] and parameter["name"] == "fmt" and parameter["in"] == "path":
            continue
        if parameter["in"] == "path":
            parameter["schema"] = {**parameter["schema"], **extras["path"].get(parameter["name"], {})}
        else:  # a query string or a header carries no null: an optional one is simply left out
            parameter["schema"] = _not_null(parameter["schema"])
        if not parameter.get("description"):
            parameter.pop("description", None)
        parameters.append(parameter)
    operation["parameters"] = parameters
    if not parameters:
        operation.pop("parameters")
    body = operation.get("requestBody")
    if body:
        content = body["content"]
        form = content.pop("multipart/form-data", None)
        if form is not None:
            for kind in extras["form_media"]:
                # A form without files: the JSON body's fields (a multipart form may add files).
                plain = kind == "application/x-www-form-urlencoded" and "application/json" in content
                content[kind] = copy.deepcopy(content["application/json"] if plain else form)
    responses = operation["responses"]
    ok = responses.get(str(extras["status"]))
    if ok is not None:
        content = ok.setdefault("content", {})
        if extras["media"] and "application/json" in content:
            content[extras["media"]] = content.pop("application/json")
        for kind, schema in extras["alternatives"].items():
            content[kind] = {"schema": schema}
        if not content:
            ok.pop("content")
    if extras["open311"]:
        operation["description"] = (operation.get("description", "") + "\n\nAlso served as `.xml` "
                                    "(`text/xml; charset=utf-8`, the same tree in XML).").strip()
        for answer in responses.values():
            if "application/json" in answer.get("content", {}):
                answer["content"]["text/xml"] = {"schema": {"type": "string"}}
    for code, answer in extras["responses"].items():
        responses[str(code)] = answer


def _not_null(schema: dict) -> dict:
    schema = {k: v for k, v in schema.items() if k not in ("title", "default") or v is not None}
    schema.pop("title", None)
    options = [s for s in schema.get("anyOf", ()) if s != {"type": "null"}]
    if "anyOf" in schema and len(options) == 1:
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**options[0], **rest}
    if "anyOf" in schema:
        schema["anyOf"] = options
    return schema


bp = Blueprint("api_description", __name__, url_prefix="/api")  # not "openapi…": spectree skips those


@bp.get("/openapi.json")
@documented(summary="This document: the OpenAPI 3.1 description of the JSON APIs", tags=("documents",),
            ok=None, responses={200: {"description": "OpenAPI 3.1", "content": {
                "application/json": {"schema": {"type": "object", "required": ["openapi", "paths"]}}}}})
def openapi_json():
    return jsonify(document())


def init_app(app) -> None:
    app.register_blueprint(bp)


__all__ = ["SIGNED_IN", "body", "document", "documented", "init_app", "invalid", "problems", "read_body", "spec"]
