"""Drive the real QGIS (Debian's 3.22, the system Python's ``qgis`` package) for tests/qgis.

Run by /usr/bin/python3 with QT_QPA_PLATFORM=offscreen (the project's virtualenv cannot import qgis).
One QGIS for a whole sequence: commands come one JSON object a line on stdin, and each answer is one
JSON line on stdout prefixed with ``@@`` (QGIS may print lines of its own). Commands:

  {"cmd": "open", "key": "wfs", "provider": "WFS"|"OAPIF", "url": …, "typename": …,
   "version": "1.1.0"?, "username": …?, "password": …?}        → valid, fields, capabilities, features
  {"cmd": "features", "key": …}                               → every feature's attributes and WKT
  {"cmd": "add", "key": …, "attributes": {…}, "wkt": …}       → committed, errors, features
  {"cmd": "change", "key": …, "match": {…}, "attributes": {…}}
  {"cmd": "geometry", "key": …, "match": {…}, "wkt": …}
  {"cmd": "delete", "key": …, "match": {…}}
  {"cmd": "quit"}

``match`` picks exactly one feature by attribute values as QGIS holds them (not reloaded: a stale
copy stays stale, as on a planner's desktop). Each edit is startEditing … commitChanges, as the
Save button does; a refused commit is rolled back and its errors returned.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402  (after the platform is set)
    NULL,
    QgsApplication,
    QgsDataSourceUri,
    QgsFeature,
    QgsGeometry,
    QgsVectorDataProvider,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QDate, QDateTime  # noqa: E402

LAYERS: dict[str, QgsVectorLayer] = {}


def plain(value):
    if value is None or value == NULL or (hasattr(value, "isNull") and value.isNull()):
        return None
    if isinstance(value, QDateTime):
        return value.toString("yyyy-MM-ddThh:mm:ss")
    if isinstance(value, QDate):
        return value.toString("yyyy-MM-dd")
    if isinstance(value, (int, float, str, bool)):
        return value
    return str(value)


def features(layer: QgsVectorLayer) -> list[dict]:
    out = []
    for f in layer.getFeatures():
        attributes = {field.name(): plain(f[field.name()]) for field in layer.fields()}
        out.append({"attributes": attributes, "wkt": f.geometry().asWkt(7) if f.hasGeometry() else None})
    return out


def one(layer: QgsVectorLayer, match: dict) -> QgsFeature:
    found = [f for f in layer.getFeatures()
             if all(plain(f[name]) == value for name, value in match.items())]
    if len(found) != 1:
        raise LookupError(f"{len(found)} features match {match}")
    return found[0]


def open_layer(command: dict) -> dict:
    uri = QgsDataSourceUri()
    uri.setParam("url", command["url"])
    uri.setParam("typename", command["typename"])
    if command.get("version"):
        uri.setParam("version", command["version"])
    uri.setParam("restrictToRequestBBOX", "0")
    if command.get("username"):
        uri.setUsername(command["username"])
        uri.setPassword(command["password"])
    layer = QgsVectorLayer(uri.uri(False), command["key"], command["provider"])
    LAYERS[command["key"]] = layer
    if not layer.isValid():
        return {"valid": False, "error": layer.error().summary()}
    caps = layer.dataProvider().capabilities()
    return {"valid": True, "crs": layer.crs().authid(), "geometry": layer.wkbType(),
            "fields": {f.name(): f.typeName() for f in layer.fields()},
            "can": {name: bool(caps & flag) for name, flag in (
                ("add", QgsVectorDataProvider.AddFeatures), ("change", QgsVectorDataProvider.ChangeAttributeValues),
                ("geometry", QgsVectorDataProvider.ChangeGeometries),
                ("delete", QgsVectorDataProvider.DeleteFeatures))},
            "features": features(layer)}


def edit(layer: QgsVectorLayer, change) -> dict:
    if not layer.startEditing():
        return {"committed": False, "errors": ["startEditing failed"]}
    change()
    committed = layer.commitChanges()
    errors = [] if committed else list(layer.commitErrors())
    if not committed:
        layer.rollBack()
    return {"committed": committed, "errors": errors, "features": features(layer)}


def run(command: dict) -> dict:
    cmd = command["cmd"]
    if cmd == "open":
        return open_layer(command)
    layer = LAYERS[command["key"]]
    if cmd == "features":
        return {"features": features(layer)}
    if cmd == "add":
        def add():
            feature = QgsFeature(layer.fields())
            for name, value in command["attributes"].items():
                feature[name] = value
            feature.setGeometry(QgsGeometry.fromWkt(command["wkt"]))
            layer.addFeature(feature)
        return edit(layer, add)
    target = one(layer, command["match"])
    if cmd == "change":
        def change():
            for name, value in command["attributes"].items():
                layer.changeAttributeValue(target.id(), layer.fields().indexOf(name), value)
        return edit(layer, change)
    if cmd == "geometry":
        return edit(layer, lambda: layer.changeGeometry(target.id(), QgsGeometry.fromWkt(command["wkt"])))
    if cmd == "delete":
        return edit(layer, lambda: layer.deleteFeature(target.id()))
    raise ValueError(f"unknown command {cmd!r}")


def main() -> None:
    profile = tempfile.mkdtemp(prefix="hromada-qgis-profile-")  # no user settings, no network cache of theirs
    app = QgsApplication([], False, profile)
    app.initQgis()
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            if command["cmd"] == "quit":
                break
            try:
                answer = {"ok": True, **run(command)}
            except Exception as exc:  # reported to the test, which fails with it
                answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            sys.stdout.write("@@" + json.dumps(answer, ensure_ascii=False) + "\n")
            sys.stdout.flush()
    finally:
        LAYERS.clear()
        app.exitQgis()


if __name__ == "__main__":
    main()
