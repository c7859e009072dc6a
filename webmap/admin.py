"""Admins' upload page: import a file into a layer, see the report, and the earlier imports."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from werkzeug.utils import secure_filename

from gis.errors import HromadaError, InvalidInput
from importers import sources
from importers.pipeline import ImportOptions, find_run, import_file, recent_runs, run_hromada_id
from layers.rasters import RASTER_LAYERS
from layers.registry import all_layers, get_layer
from webmap.access import chosen_hromada, current_user, hromada_roles
from webmap.database import connection, engine

bp = Blueprint("admin", __name__, url_prefix="/admin")


def importable_layers():
    return [layer for layer in all_layers() if layer.generated_table]


@bp.before_request
def _allow_large_uploads():
    if request.endpoint == "admin.import_upload":
        request.max_content_length = sources.MAX_FILE_BYTES  # data files may be far larger than photos


def _runs():
    """This hromada's imports, newest first."""
    return recent_runs(connection(), g.hromada_id)


@bp.get("/imports")
@hromada_roles("admin", hromada=chosen_hromada("admin"))
def imports():
    runs = _runs()
    return render_template("admin/imports.html", layers=importable_layers(), raster_layers=RASTER_LAYERS.values(),
                           runs=runs, user=current_user(), error=None)


@bp.post("/imports")
@hromada_roles("admin", hromada=chosen_hromada("admin"))
def import_upload():
    upload = request.files.get("file")
    layer_name = request.form.get("layer", "")
    try:
        if upload is None or not upload.filename:
            raise InvalidInput("Оберіть файл для імпорту", "Choose a file to import")
        name = secure_filename(upload.filename) or "upload"
        folder = Path(tempfile.mkdtemp(prefix="hromada-upload-"))
        path = folder / name
        try:
            upload.save(path)
            if layer_name in RASTER_LAYERS:
                from importers.rasters import import_raster

                import_raster(engine(), RASTER_LAYERS[layer_name], path, crs=request.form.get("crs") or None,
                              title=request.form.get("title") or None)
                return redirect(url_for(".imports"))
            options = ImportOptions(
                source_layer=request.form.get("source_layer") or None, crs=request.form.get("crs") or None,
                upsert_key=request.form.get("upsert_key") or None, encoding=request.form.get("encoding") or None,
                dry_run=bool(request.form.get("dry_run")), progress=False, user_id=current_user().id,
                only_hromada_id=g.hromada_id,
                osm_filters=[(t.split("=", 1)[0].strip(), t.split("=", 1)[1].strip() if "=" in t else None)
                             for t in (request.form.get("osm_tags") or "").split(",") if t.strip()])
            report = import_file(engine(), get_layer(layer_name), path, options)
        finally:
            for f in folder.iterdir():
                f.unlink()
            os.rmdir(folder)
    except HromadaError as exc:
        runs = _runs()
        return render_template("admin/imports.html", layers=importable_layers(), raster_layers=RASTER_LAYERS.values(),
                               runs=runs, user=current_user(), error=exc), exc.http_status
    return redirect(url_for(".import_report", run_id=report.run_id))


def run_hromada(run_id: int, **_) -> int:
    """The hromada of the import a view is about (404 when there is none)."""
    return run_hromada_id(connection(), run_id)


@bp.get("/imports/<int:run_id>")
@hromada_roles("admin", hromada=run_hromada)
def import_report(run_id: int):
    run = find_run(connection(), run_id)
    if run is None:
        abort(404)
    return render_template("admin/import_report.html", run=run, user=current_user())
