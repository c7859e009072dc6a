"""The history of a feature of a layer that keeps one (issue #19; layers.history): JSON.

GET  /api/layers/<name>/items/<id>/history   every version, newest first: when, what changed, the
                                             values then; for the staff of the feature's hromada who
                                             may edit the layer also who and why. A layer declared
                                             with ``history="public"`` shows anyone its public
                                             fields' history (never who or why, never a staff-only
                                             field); ``history="staff"``: 401 for visitors, 403 for
                                             anyone else (another hromada's staff too).
POST /api/layers/<name>/items/<id>/revert    ``{"version": n, "reason"?}``: make version n current
                                             again, as a new version (a deleted feature comes back
                                             with its id); staff of the feature's hromada who may
                                             edit the layer, with the CSRF token (X-CSRFToken).

The views only read the request and the reader's roles; what is shown and what a revert does is
decided in layers.history.
"""
from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, g, jsonify
from pydantic import Field

from gis.errors import Forbidden, NotFound
from layers import history
from layers.base import Layer
from layers.registry import LAYERS, get_layer
from webmap import api_models as m
from webmap.access import NotSignedIn, current_user, hromada_roles, roles_in
from webmap.database import connection, engine
from webmap.i18n import current_lang
from webmap.openapi import SIGNED_IN, body, documented

bp = Blueprint("history_api", __name__, url_prefix="/api")

HISTORY_LAYERS = sorted(layer.name for layer in history.history_layers(LAYERS.values()))
# Whoever may edit some layer that keeps history; the layer's own edit roles are checked in the revert.
EDIT_ROLES = sorted(set().union(*(LAYERS[n].permissions.edit for n in HISTORY_LAYERS)))
PATH = {"name": {"enum": HISTORY_LAYERS}, "feature_id": {"minimum": 1, "examples": [1]}}


# --- what the endpoints take and answer --------------------------------------------------------------

class FeatureRevertIn(m.FlatBody):
    """Which version of the feature to make current again, and why."""

    version: int = Field(ge=1, le=history.MAX_ID, description="the version to go back to",
                         json_schema_extra={"x-label-uk": "Версія"})
    reason: str | None = Field(None, max_length=500, description="why (kept in the history)",
                               json_schema_extra={"x-label-uk": "Причина"})


class FeatureVersion(m.Open):
    """One version of a feature."""

    version: int
    op: Literal["insert", "update", "delete"]
    valid_from: str = Field(description="when it became current (ISO 8601)")
    valid_to: str | None = Field(description="when it stopped being current; null: it is (or, for a delete, "
                                             "the feature is gone)")
    changed: list[str] | None = Field(description="the fields (and `geometry`) an update changed; null for an "
                                                  "insert or a delete")
    properties: dict[str, Any] = Field(description="the fields' values then (for a delete: as it was)")
    geometry: dict[str, Any] | None = Field(description="the geometry then, GeoJSON (RFC 7946)")
    user_id: int | None = Field(None, description="editors only: who made it")
    user_label: str | None = Field(None, description="editors only: their name as recorded")
    reason: str | None = Field(None, description="editors only: why")
    cause: str | None = Field(None, description="editors only: what caused it (`report:<id>`, `proposal:<id>`)")
    versionless: bool | None = Field(None, description="editors only: the write named no version (review it)")
    changed_columns: list[str] | None = Field(None, description="editors only: the table's columns it changed")
    extra: dict[str, Any] | None = Field(None, description="editors only: the row's other columns (source, raw…)")


class FeatureHistory(m.Open):
    layer: str
    title: str
    feature_id: int
    exists: bool = Field(description="whether the feature exists now")
    access: Literal["full", "public"] = Field(description="full: an editor's view; public: public fields only")
    versions: list[FeatureVersion]


class FeatureReverted(m.Open):
    feature_id: int
    version: int | None = Field(description="the version now current")
    reverted_to: int
    changed: list[str] | None = Field(description="the columns the revert changed (empty: it was so already; "
                                                  "null: the deleted feature came back)")


# --- the endpoints ---------------------------------------------------------------------------------------

def _layer(name: str) -> Layer:
    layer = get_layer(name)
    if not layer.keeps_history:
        raise NotFound(f"Шар {name!r} не зберігає історії змін", f"Layer {name!r} keeps no history")
    return layer


def feature_hromada(name: str, feature_id: int, **_) -> int | None:
    """The hromada of the feature (a deleted one's from its history); 404 when there is none."""
    return history.feature_hromada_id(connection(), _layer(name), feature_id)


@bp.get("/layers/<name>/items/<int:feature_id>/history")
@documented(summary="Every version of a feature, newest first (editors: with who and why)", tags=("layers",),
            ok=FeatureHistory, errors=(401, 403), path=PATH, description=(
                "A layer whose history is public shows anyone its public fields' history (versions that changed "
                "nothing public left out); the staff of the feature's hromada who may edit the layer see every "
                "field, who, when and why. A layer whose history is for staff only: 401 without a sign-in, 403 "
                "for anyone else."))
def feature_history(name: str, feature_id: int):
    layer = _layer(name)
    conn = connection()
    roles = roles_in(history.feature_hromada_id(conn, layer, feature_id))
    if not layer.permissions.can_view(roles):
        raise NotFound(f"Шар {name!r} не існує", f"Layer {name!r} does not exist")
    access = history.reader_access(layer, roles)
    if access is None:
        if current_user() is None:
            raise NotSignedIn()
        raise Forbidden("Історію змін цього шару бачать лише ті, хто редагує його в цій громаді",
                        "Only those who edit this layer in this hromada see its history")
    return jsonify(history.history_for(conn, layer, feature_id, access, current_lang()))


@bp.post("/layers/<name>/items/<int:feature_id>/revert")
@hromada_roles(*EDIT_ROLES, hromada=feature_hromada)
@documented(summary="Make an earlier version of a feature current again, as a new version", tags=("layers",),
            json=FeatureRevertIn, form=FeatureRevertIn, headers=m.CsrfHeaders, ok=FeatureReverted,
            errors=(401, 403, 409), security=SIGNED_IN, path=PATH, description=(
                "The staff of the feature's hromada who may edit the layer. A deleted feature comes back with its "
                "id. Reverting to a deletion, or to values the database refuses now (a unit removed since), is "
                "a 409."))
def feature_revert(name: str, feature_id: int):
    data: FeatureRevertIn = body()
    layer = _layer(name)
    user = current_user()
    with engine().begin() as conn:
        result = history.revert(conn, layer, feature_id, data.version,
                                history.Author(user.id, user.full_name or user.email),
                                roles=roles_in(g.hromada_id), reason=data.reason)
    return jsonify(result)
