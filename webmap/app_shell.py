"""The public map as an installable web app: its manifest and its service worker.

GET /manifest.webmanifest   name, icons, start page, colours (in the visitor's language)
GET /sw.js                  the service worker (webmap/templates/sw.js): keeps the app shell — the
                            map page, Leaflet, our scripts and styles at their fingerprinted
                            addresses — and the last viewed area's layer data and tiles, so the map
                            opens without a connection; reports made then wait on the phone
                            (static/report_queue.js) and are sent when it returns

The worker is served from the site's root (its scope is the whole site) and never cached for
long: a new version of any script changes its precache list, and the browser installs it anew.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, url_for

from webmap.i18n import current_lang, t

bp = Blueprint("app_shell", __name__)

# What the map needs to open at all; the page itself is cached as it is visited.
SHELL_FILES = ("site.css", "csrf.js", "report_queue.js", "report.js", "map_layers.js", "favicon.svg",
               "vendor/leaflet-1.9.4/leaflet.js", "vendor/leaflet-1.9.4/leaflet.css",
               "vendor/leaflet.vectorgrid-1.3.0/Leaflet.VectorGrid.bundled.min.js")


@bp.get("/manifest.webmanifest")
def manifest():
    lang = current_lang()
    icons = [{"src": url_for("static", filename=f"icons/{name}.png"), "sizes": size, "type": "image/png",
              "purpose": purpose}
             for name, size, purpose in (("icon-192", "192x192", "any"), ("icon-512", "512x512", "any"),
                                         ("maskable-512", "512x512", "maskable"))]
    response = jsonify({
        "name": t("site_name"), "short_name": t("site_name"), "description": t("site_description"),
        "lang": lang, "start_url": url_for("pages.index"), "scope": "/", "display": "standalone",
        "background_color": "#ffffff", "theme_color": "#1864ab", "icons": icons})
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/sw.js")
def service_worker():
    body = render_template("sw.js", shell=[url_for("static", filename=name) for name in SHELL_FILES],
                           start=url_for("pages.index"))
    return Response(body, mimetype="text/javascript", headers={"Cache-Control": "no-cache"})
