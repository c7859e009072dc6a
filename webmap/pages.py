"""HTML pages: the public map of a hromada and the list of loaded hromadas."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for

from gis.config import default_hromada
from layers import admin_areas, query
from layers.base import label
from webmap import report_form
from webmap.access import roles_in
from webmap.database import connection
from webmap.i18n import current_lang
from webmap.mapview import build_map, map_parts

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    conn = connection()
    code = default_hromada()
    try:
        admin_areas.hromada_id_by_code(conn, code)
    except Exception:
        return redirect(url_for(".hromada_list"))
    return hromada_map(code)


@bp.get("/map/<code>")
def hromada_map(code: str):
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    fmap, shown = build_map(conn, summary, lang, roles_in(summary["id"]))
    return render_template("map.html", summary=summary, parts=map_parts(fmap), label=label, layers=shown,
                           has_demo=query.has_demo_rows(conn, [s.layer for s in shown], summary["id"]),
                           **report_form.form_context(conn, summary))


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico before reading the page's icon link: send them to it."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.get("/hromadas")
def hromada_list():
    return render_template("hromadas.html", hromadas=admin_areas.list_hromadas(connection()))
