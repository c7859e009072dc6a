"""OGC API – Features Part 4 (Create, Replace, Update, Delete) on the collections of layers.writable:
every layer whose declaration allows editing (``Permissions.editing``, through layers.editing) and
the plan zones (their plan's workflow). Who may create, change and delete is the declaration's roles,
held in the feature's hromada.

POST    /ogc/collections/{id}/items               create: 201, Location, ETag, the new feature
PUT     /ogc/collections/{id}/items/{featureId}   replace (If-Match): 200, ETag, the feature
PATCH   /ogc/collections/{id}/items/{featureId}   JSON merge patch of properties/geometry (If-Match)
DELETE  /ogc/collections/{id}/items/{featureId}   delete (If-Match): 204
OPTIONS on both                                   200 with Allow (per the caller's roles), Accept-Post/-Patch

GET     /ogc/collections/{id}/versionless-edits   the hromada's versionless writes to review (JSON)

Writers sign in with a personal API token (``Authorization: Bearer …``, or as the password of
``Authorization: Basic …`` for clients that only do Basic, gis.user_tokens) or a session cookie plus
the CSRF token. An If-Match naming an old version → 412 with the current feature
(``details.current``) and its ETag, so the client can merge and retry. Without If-Match (issue #19,
QGIS): a PATCH is merged property by property into the current version and a DELETE deletes it, both
recorded as versionless and flagged for review when they replace a colleague's fresh value
(layers.writable); a PUT is 428 (it would overwrite every property unseen). Anonymous → 401
(``WWW-Authenticate: Bearer`` and ``Basic``), a role the declaration does not name for the act, or
one held in another hromada than the feature's → 403, a collection that
cannot be written → 405 with ``Allow``. Basic credentials that do not sign in (a wrong or revoked
token, a password that is no token) are a 401 on every /ogc/ address, reads included, so a client
configured wrongly is told rather than shown only the public features.
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Response, current_app, g, request, url_for
from werkzeug.exceptions import MethodNotAllowed

from gis import crs
from gis.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unauthorized,
    UnsupportedMediaType,
)
from gis.jsonvalues import dumps
from gis.user_tokens import BASIC_CHALLENGE
from layers import writable as writable_layers
from layers.base import Layer, label
from layers.plans import Editor, VersionConflict
from layers.query import feature_hromada_id, read_feature, table_of
from layers.writable import Writable, may, roles_to, writable
from webmap.access import (
    current_user,
    hromada_id_of_katottg,
    hromada_roles,
    refuse_basic_that_signs_nobody_in,
    roles_in,
    token_authenticated,
)
from webmap.database import connection, engine
from webmap.extensions import csrf
from webmap.ogc_common import CRS84, CRS_URIS, GEOJSON, bp
from webmap.ogc_common import collection_layer as _layer

READ = ("GET", "HEAD", "OPTIONS")
ACCEPT_POST = f"{GEOJSON}, application/json"
ACCEPT_PATCH = f"application/merge-patch+json, {GEOJSON}, application/json"
BEARER_CHALLENGE = 'Bearer realm="hromada"'
# Both ways a client may send its token; Bearer first (the one OGC API clients are told about).
CHALLENGES = (BEARER_CHALLENGE, BASIC_CHALLENGE)


def _headers(**headers: str | tuple[str, ...]) -> None:
    """Headers for this request's answer, error answers included (added in _add_headers); a tuple
    gives the header once per value (WWW-Authenticate with two challenges)."""
    g.setdefault("ogc_headers", {}).update({k.replace("_", "-"): v for k, v in headers.items()})


@bp.after_request
def _add_headers(response: Response) -> Response:
    for name, value in g.pop("ogc_headers", {}).items():
        if isinstance(value, tuple):
            response.headers.remove(name)
            for one in value:
                response.headers.add(name, one)
        else:
            response.headers[name] = value
    if response.status_code == 401 and "WWW-Authenticate" not in response.headers:
        for challenge in CHALLENGES:  # RFC 9110: a 401 says how to authenticate
            response.headers.add("WWW-Authenticate", challenge)
    return response


@bp.before_request
def _basic_credentials_must_sign_in() -> None:
    """Basic credentials on an /ogc/ address that sign nobody in are a 401 with the Basic challenge
    (webmap.access.refuse_basic_that_signs_nobody_in). Without credentials nothing changes: public
    reads stay open and never make a browser ask for a password."""
    try:
        refuse_basic_that_signs_nobody_in()
    except Unauthorized:
        _headers(WWW_Authenticate=(BASIC_CHALLENGE,))
        raise


# --- who may write -------------------------------------------------------------------------------

def _roles_text(layer: Layer, action: str) -> str:
    return ", ".join(sorted(roles_to(layer.name, action)))


def _forbidden(layer: Layer, action: str, *, here: bool) -> Forbidden:
    what = {"create": ("додавати", "add"), "update": ("змінювати", "change"), "delete": ("вилучати", "delete")}[action]
    where_uk, where_en = (" у громаді цього об'єкта", " in this feature's hromada") if here else ("", "")
    return Forbidden(f"{what[0].capitalize()} об'єкти колекції «{label(layer.title, 'uk')}»{where_uk} можуть лише "
                     f"ролі: {_roles_text(layer, action)}",
                     f"Only the roles {_roles_text(layer, action)} may {what[1]} features of "
                     f"“{label(layer.title, 'en')}”{where_en}")


def _editor(layer: Layer, action: str) -> Editor:
    """The signed-in editor of ``layer``: 401 when nobody is, 403 for roles that may not ``action``
    ("create", "update", "delete") its features in any hromada (the feature's hromada is checked next).

    A session-cookie write needs the CSRF token like any form; a token-authenticated one does not
    (its header cannot be sent by another site's page), hence the views are exempt and check here.
    """
    user = current_user()
    if user is None:  # Basic credentials that sign nobody in were answered in _basic_credentials_must_sign_in
        if g.get("token_rejected", False):
            _headers(WWW_Authenticate=(f'{BEARER_CHALLENGE}, error="invalid_token"',))
            raise Unauthorized("Токен недійсний або відкликаний", "The token is invalid or revoked")
        _headers(WWW_Authenticate=CHALLENGES)
        raise Unauthorized("Увійдіть: потрібен токен API (Authorization: Bearer …, або як пароль Basic)",
                           "Sign in: an API token is needed (Authorization: Bearer …, or as the Basic password)")
    # A token sent as Basic is exempt too, though a browser may send Basic credentials it remembers
    # with another site's request: such a request can only be a simple one (a form: no JSON body, no
    # PUT, PATCH or DELETE, which need a CORS preflight this API never allows), and every write here
    # refuses any body but JSON (415) before it writes anything.
    if not token_authenticated() and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    if not may(layer.name, user.roles, action):  # roles that do it nowhere; the hromada is checked on write
        raise _forbidden(layer, action, here=False)
    return Editor(user.id, user.grants)


def _allowed(layer: Layer, item: bool) -> list[str]:
    """The methods the caller's roles (held anywhere) allow on the collection or a feature of it."""
    user = current_user()
    if writable(layer.name) is None or user is None:
        return list(READ)
    if not item:
        return [*READ, *(("POST",) if may(layer.name, user.roles, "create") else ())]
    return [*READ, *(("PUT", "PATCH") if may(layer.name, user.roles, "update") else ()),
            *(("DELETE",) if may(layer.name, user.roles, "delete") else ())]


def _writable(collection_id: str, item: bool) -> tuple[Layer, Writable]:
    layer = _layer(collection_id)
    spec = writable(layer.name)
    if spec is None:
        _headers(Allow=", ".join(READ))
        raise MethodNotAllowed()  # answered in both languages by the app's handler
    return layer, spec


# --- request bodies ---------------------------------------------------------------------------------

def _body(accepted: tuple[str, ...]) -> dict:
    kind = request.mimetype
    if not kind:
        raise InvalidInput("Бракує заголовка Content-Type", "The Content-Type header is missing")
    if kind not in accepted:
        raise UnsupportedMediaType(f"Content-Type {kind} не приймається; можливі: {', '.join(accepted)}",
                                   f"Content-Type {kind} is not accepted; accepted: {', '.join(accepted)}")
    try:
        doc = current_app.json.loads(request.get_data() or b"null")  # webmap.request_json: depth-guarded
    except ValueError as exc:
        raise InvalidInput(f"Тіло запиту не є JSON: {exc}", f"The body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidInput("Тіло запиту має бути об'єктом GeoJSON Feature", "The body must be a GeoJSON Feature object")
    return doc


def _check_id(doc: dict, feature_id: int | None) -> None:
    given = doc.get("id")
    if given is not None and (feature_id is None or str(given) != str(feature_id)):
        raise InvalidInput("id у тілі не збігається з адресою об'єкта (id призначає сервер)",
                           "The id in the body does not match the feature's address (the server assigns ids)")


def _properties(doc: dict, spec: Writable, required: bool) -> dict | None:
    props = doc.get("properties")
    if props is None and not required and "properties" not in doc:
        return None
    if not isinstance(props, dict):
        raise InvalidInput("properties має бути об'єктом", "properties must be an object")
    return {k: v for k, v in props.items() if k not in spec.server_fields}


def _geometry(doc: dict, required: bool) -> dict | None:
    if "geometry" not in doc and not required:
        return None
    geom = doc.get("geometry")
    if not isinstance(geom, dict) or "type" not in geom:
        raise InvalidInput("geometry: потрібна геометрія GeoJSON (об'єкт без геометрії не зберігають)",
                           "geometry: a GeoJSON geometry is needed (a feature cannot lose its geometry)")
    uri = (request.headers.get("Content-Crs") or CRS84).strip().strip("<>")
    if uri not in CRS_URIS:
        raise InvalidInput(f"Content-Crs {uri!r} не підтримується; можливі: {', '.join(CRS_URIS)}",
                           f"Content-Crs {uri!r} is not supported; supported: {', '.join(CRS_URIS)}")
    srid = CRS_URIS[uri]
    if srid is None:
        return geom
    # Part 2 CRSs in request bodies too: EPSG:4326 is latitude first, the others are projected.
    converted = crs.geojson_geometry_to_wgs84(connection(), geom, srid)
    if converted is None:
        raise InvalidInput("Геометрія не є правильним GeoJSON", "The geometry is not valid GeoJSON")
    return converted


def _repair() -> bool:
    text = request.args.get("repair", "false").lower()
    if text not in ("true", "false", "1", "0"):
        raise InvalidInput(f"repair={text!r}: true або false", f"repair={text!r}: true or false")
    return text in ("true", "1")


# --- reading back -------------------------------------------------------------------------------



def _require_hromada_editor(layer: Layer, editor: Editor, feature_id: int, action: str) -> None:
    """Before anything else about an existing feature: 403 unless the editor may ``action`` it in its
    hromada (the write checks it again, under the feature's lock)."""
    hromada_id = feature_hromada_id(connection(), layer, feature_id)
    if hromada_id is not None and not may(layer.name, editor.roles_in(hromada_id), action):
        raise _forbidden(layer, action, here=True)


def _read(conn: sa.Connection, layer: Layer, spec: Writable, feature_id: int,
          editor: Editor) -> tuple[dict, int] | None:
    """The feature as GET answers it (CRS84) to the editor, with the roles held in the feature's
    hromada, and its version, read in one row; None when there is none."""
    roles = editor.roles_in(feature_hromada_id(conn, layer, feature_id))
    version = spec.version_expression(table_of(layer)).label("_version")
    doc, row = read_feature(conn, layer, feature_id, staff=layer.permissions.sees_staff_fields(roles), roles=roles,
                            extra_columns=[version])
    if doc is None:
        return None
    doc["links"] = [{"href": url_for("ogc.item", collection_id=layer.name, feature_id=feature_id, _external=True),
                     "rel": "self", "type": GEOJSON}]
    return doc, row["_version"]


def _feature_answer(doc: dict, etag: str, status: int = 200, **headers: str) -> Response:
    return Response(dumps(doc), status=status, mimetype=GEOJSON,
                    headers={"ETag": etag, "Content-Crs": f"<{CRS84}>", **headers})


def _stale(layer: Layer, spec: Writable, feature_id: int, editor: Editor) -> PreconditionFailed:
    """412 with the current version of the feature (or none, when it was deleted)."""
    found = _read(connection(), layer, spec, feature_id, editor)
    if found is None:
        return PreconditionFailed(f"Об'єкта {feature_id} вже немає", f"Feature {feature_id} no longer exists",
                                  current=None)
    doc, version = found
    _headers(ETag=spec.etag(feature_id, version))
    return PreconditionFailed(
        f"Об'єкт {feature_id} змінено: поточна версія {version}. Перегляньте зміни й повторіть з новим ETag",
        f"Feature {feature_id} has changed: the current version is {version}. Review and retry with the new ETag",
        current=doc)


def _expected_version(layer: Layer, spec: Writable, feature_id: int, editor: Editor, body: dict | None = None) -> int:
    """The version the If-Match header names: 428 without one, 412 when it names none of the current.

    Without If-Match, a body whose ``properties.version`` is a whole number names the version too:
    clients such as QGIS send back the feature they read, version included, but no If-Match. The
    write checks that version atomically, so a stale one is still a 412, never an overwrite.
    """
    if_match = request.headers.get("If-Match", "").strip()
    echoed = _echoed_version(body)
    if not if_match and isinstance(echoed, int) and not isinstance(echoed, bool):
        if _read(connection(), layer, spec, feature_id, editor) is None:
            raise PreconditionFailed(f"Об'єкта {feature_id} немає", f"Feature {feature_id} does not exist",
                                     current=None)
        return echoed
    if not if_match or if_match == "*":  # "*" names no version: it would allow a lost update
        raise PreconditionRequired(
            "Потрібен заголовок If-Match з ETag об'єкта (отримайте його через GET)",
            "An If-Match header with the feature's ETag is required (GET the feature for it)")
    found = _read(connection(), layer, spec, feature_id, editor)
    if found is None:  # Part 4: with If-Match, a missing resource is a 412, never created
        raise PreconditionFailed(f"Об'єкта {feature_id} немає", f"Feature {feature_id} does not exist", current=None)
    named = spec.versions_named(if_match, feature_id)
    if not named:
        raise _stale(layer, spec, feature_id, editor)
    current = found[1]
    # The write itself checks the version again, atomically: this only picks which one was named.
    return current if current in named else named[0]


def _feature_id(feature_id: str) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", feature_id):
        raise NotFound(f"Об'єкта {feature_id!r} немає", f"Feature {feature_id!r} does not exist")
    return int(feature_id)


# --- the operations ---------------------------------------------------------------------------------

@bp.route("/collections/<collection_id>/items", methods=["OPTIONS"])
def items_options(collection_id: str):
    layer = _layer(collection_id)
    allowed = _allowed(layer, item=False)
    headers = {"Allow": ", ".join(allowed), **({"Accept-Post": ACCEPT_POST} if "POST" in allowed else {})}
    return Response(status=200, headers=headers)


@bp.route("/collections/<collection_id>/items/<feature_id>", methods=["OPTIONS"])
def item_options(collection_id: str, feature_id: str):
    layer = _layer(collection_id)
    allowed = _allowed(layer, item=True)
    headers = {"Allow": ", ".join(allowed), **({"Accept-Patch": ACCEPT_PATCH} if "PATCH" in allowed else {})}
    return Response(status=200, headers=headers)


@bp.post("/collections/<collection_id>/items", provide_automatic_options=False)
@csrf.exempt
def create_item(collection_id: str):
    layer, spec = _writable(collection_id, item=False)
    editor = _editor(layer, "create")
    doc = _body((GEOJSON, "application/json"))
    _check_id(doc, None)
    properties, geometry = _properties(doc, spec, required=True), _geometry(doc, required=True)
    with engine().begin() as conn:
        new_id = spec.create(conn, editor, properties, geometry, repair=_repair())
        feature, version = _read(conn, layer, spec, new_id, editor)
    location = url_for("ogc.item", collection_id=layer.name, feature_id=new_id, _external=True)
    return _feature_answer(feature, spec.etag(new_id, version), 201, Location=location)


def _echoed_version(body: dict | None):
    """``properties.version`` of a request body, whatever it is (None when there is none)."""
    properties = body.get("properties") if isinstance(body, dict) else None
    return properties.get("version") if isinstance(properties, dict) else None


def _names_no_version(body: dict | None) -> bool:
    """Whether the request names no version at all (issue #19): no If-Match (an empty one is none)
    and no whole number in ``properties.version``."""
    if request.headers.get("If-Match", "").strip():
        return False  # "*" too: it is refused as before (428), never taken for a versionless write
    echoed = _echoed_version(body)
    return not (isinstance(echoed, int) and not isinstance(echoed, bool))


def _update(collection_id: str, feature_id: str, *, replace: bool, accepted: tuple[str, ...]):
    layer, spec = _writable(collection_id, item=True)
    editor = _editor(layer, "update")
    fid = _feature_id(feature_id)
    _require_hromada_editor(layer, editor, fid, "update")
    doc = _body(accepted)
    if not replace and spec.update_versionless is not None and _names_no_version(doc):
        return _merge_without_version(layer, spec, editor, fid, doc)
    expected = _expected_version(layer, spec, fid, editor, doc)
    _check_id(doc, fid)
    properties, geometry = _properties(doc, spec, required=replace), _geometry(doc, required=replace)
    try:
        with engine().begin() as conn:
            spec.update(conn, editor, fid, expected, properties=properties, geometry=geometry, replace=replace,
                        repair=_repair())
            feature, version = _read(conn, layer, spec, fid, editor)
    except VersionConflict:
        raise _stale(layer, spec, fid, editor) from None
    return _feature_answer(feature, spec.etag(fid, version))


def _merge_without_version(layer: Layer, spec: Writable, editor: Editor, fid: int, doc: dict) -> Response:
    """A PATCH without If-Match (QGIS): only what it names changes, in the version current when it is
    written; recorded as versionless, flagged for review when it replaces a colleague's fresh value.
    A zone that is not there is a 404 (a merge never creates one)."""
    _check_id(doc, fid)
    properties, geometry = _properties(doc, spec, required=False), _geometry(doc, required=False)
    with engine().begin() as conn:
        spec.update_versionless(conn, editor, fid, properties=properties, geometry=geometry, repair=_repair())
        feature, version = _read(conn, layer, spec, fid, editor)
    return _feature_answer(feature, spec.etag(fid, version))


@bp.put("/collections/<collection_id>/items/<feature_id>", provide_automatic_options=False)
@csrf.exempt
def replace_item(collection_id: str, feature_id: str):
    return _update(collection_id, feature_id, replace=True, accepted=(GEOJSON, "application/json"))


@bp.patch("/collections/<collection_id>/items/<feature_id>", provide_automatic_options=False)
@csrf.exempt
def update_item(collection_id: str, feature_id: str):
    """RFC 7396 JSON merge patch of the feature: ``properties`` members set (null unsets), ``geometry`` replaced."""
    return _update(collection_id, feature_id, replace=False,
                   accepted=("application/merge-patch+json", GEOJSON, "application/json"))


@bp.delete("/collections/<collection_id>/items/<feature_id>", provide_automatic_options=False)
@csrf.exempt
def delete_item(collection_id: str, feature_id: str):
    layer, spec = _writable(collection_id, item=True)
    editor = _editor(layer, "delete")
    fid = _feature_id(feature_id)
    _require_hromada_editor(layer, editor, fid, "delete")
    if spec.delete_versionless is not None and _names_no_version(None):
        # No If-Match (QGIS): the deletion is a version of its own, marked versionless, and can be reverted.
        with engine().begin() as conn:
            spec.delete_versionless(conn, editor, fid)
        return Response(status=204)
    expected = _expected_version(layer, spec, fid, editor)
    try:
        with engine().begin() as conn:
            spec.delete(conn, editor, fid, expected)
    except VersionConflict:
        raise _stale(layer, spec, fid, editor) from None
    return Response(status=204)


# --- versionless writes for the planners to review (issue #19) ------------------------------------------

def _flag(name: str) -> bool:
    text = request.args.get(name, "false").lower()
    if text not in ("true", "false", "1", "0"):
        raise InvalidInput(f"{name}={text!r}: true або false", f"{name}={text!r}: true or false")
    return text in ("true", "1")


def _whole(name: str, default: int | None, low: int, high: int) -> int | None:
    text = request.args.get(name)
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", text) or not low <= int(text) <= high:
        raise InvalidInput(f"{name}: ціле число від {low} до {high}", f"{name}: a whole number from {low} to {high}")
    return int(text)


# Every role that may change some collection's features somewhere: the first gate of the list below,
# whose view then asks the collection's own declaration.
EDIT_ROLES = tuple(sorted(set().union(*(roles_to(name, action) for name in writable_layers.WRITABLE
                                        for action in ("update", "delete")))))


def _edits_hromada(collection_id: str) -> int:
    """``?hromada=KATOTTG``, else the first hromada where the caller may change the collection's features."""
    layer, _ = _writable(collection_id, item=False)
    if request.values.get("hromada"):
        return hromada_id_of_katottg(request.values["hromada"])
    user = current_user()
    mine = sorted(h for h, held in (user.grants if user else {}).items()
                  if may(layer.name, held, "update") or may(layer.name, held, "delete"))
    if not mine:
        raise _forbidden(layer, "update", here=False)
    return mine[0]


@bp.get("/collections/<collection_id>/versionless-edits")
@hromada_roles(*EDIT_ROLES, hromada=_edits_hromada)
def versionless_edits(collection_id: str):
    """The hromada's (``?hromada=KATOTTG``, else the caller's first where they may change the collection)
    writes to the collection's features that named no version: those flagged for review, or all with
    ``all=true``; ``feature_id`` (plan zones: ``zone_id`` too) narrows to one feature, ``limit`` 1…1000
    (100). Each links to the feature's history, where a version can be reverted."""
    layer, _ = _writable(collection_id, item=False)
    held = roles_in(g.hromada_id)
    if not (may(layer.name, held, "update") or may(layer.name, held, "delete")):
        raise _forbidden(layer, "update", here=False)
    only_flagged = not _flag("all")
    feature_id = _whole("feature_id", None, 1, 10**9 - 1)
    if layer.name == "plan_zones":
        feature_id = _whole("zone_id", feature_id, 1, 10**9 - 1)
    limit = _whole("limit", 100, 1, 1000)
    edits = writable_layers.versionless_edits(connection(), layer.name, g.hromada_id, only_flagged=only_flagged,
                                              feature_id=feature_id, limit=limit)
    for edit in edits:
        fid = edit["feature_id"]
        edit["history"] = (url_for("plans.zone_history_page", zone_id=fid, _external=True)
                           if layer.name == "plan_zones" else
                           url_for("history_api.feature_history", name=layer.name, feature_id=fid, _external=True))
        edit["item"] = url_for("ogc.item", collection_id=layer.name, feature_id=fid, _external=True)
    response = Response(dumps({"collection": layer.name, "hromada_id": g.hromada_id,
                               "needs_review_only": only_flagged, "edits": edits, "numberReturned": len(edits)}),
                        mimetype="application/json")
    response.headers["Cache-Control"] = "private, no-store"
    return response
