"""Flask app factory: map pages, the layer API, error handling, language."""
from __future__ import annotations

import logging
import os

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

from gis.config import secret_key
from gis.errors import HromadaError
from webmap import database, i18n

log = logging.getLogger(__name__)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app. ``DATABASE_URL`` must be in ``test_config`` or resolvable (gis.db)."""
    app = Flask(__name__)
    app.url_map.strict_slashes = False
    app.config.update(
        SECRET_KEY=secret_key(), SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        PUBLIC_URL=os.environ.get("HROMADA_PUBLIC_URL", ""),  # for links in e-mails; else the request's host
        REPORT_RATE_LIMIT=os.environ.get("HROMADA_REPORT_RATE_LIMIT", "10 per minute;60 per hour"),
        LOGIN_RATE_LIMIT=os.environ.get("HROMADA_LOGIN_RATE_LIMIT", "10 per minute"),
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,  # three photos of up to 10 MB and the form
        WTF_CSRF_TIME_LIMIT=None,  # valid for the session; a resident may take long to write
        # The item APIs count the features matching a query no further than this (layers.query.read_features).
        COUNT_MATCHED_UP_TO=int(os.environ.get("HROMADA_COUNT_MATCHED_UP_TO") or 10_000),
    )
    from webmap.extensions import proxy_hops, shared_store_uri

    # Several app processes (`hromada cluster`, README "Running several processes") share their rate-limit
    # counts and remembered tiles in one store; a proxy in front passes the client's address on.
    app.config.update(SHARED_STORE=shared_store_uri(), PROXY_HOPS=proxy_hops())
    if test_config:
        app.config.update(test_config)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["SHARED_STORE"] or "swept-memory://")
    if app.config["SHARED_STORE"]:
        # The store out of reach: each process counts for itself meanwhile rather than refusing reports.
        app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    if "DATABASE_URL" not in app.config:
        from gis.db import database_url

        app.config["DATABASE_URL"] = database_url(start_embedded=True)
    from webmap.request_json import GuardedJSONProvider

    app.json = GuardedJSONProvider(app)  # request bodies: too deep a nesting is a 400, not a 500
    app.json.ensure_ascii = False  # Ukrainian text stays readable in JSON

    database.init_app(app)
    i18n.init_app(app)  # Flask-Babel, the catalogues (webmap/translations), t/tn/lang and formats in templates
    from webmap.extensions import COMPRESSED_TYPES, compress, csrf, limiter

    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    # Conditional requests stay with the views that answer them (OGC Part 4's If-Match, the map's
    # ETags): Flask-Compress evaluating them again would turn a GET carrying If-Match into a 412.
    app.config.setdefault("COMPRESS_EVALUATE_CONDITIONAL_REQUEST", False)
    compress.init_app(app)
    from webmap import static_files

    static_files.init_app(app)  # ?v=<content hash> on static URLs, cached for a year (after compress: see there)
    csrf.init_app(app)
    limiter.init_app(app)
    app.session_interface = _CookieSessions()

    @app.context_processor
    def _template_helpers():
        from layers.base import label

        return {"label": label}

    from webmap import ogc_write  # noqa: F401  (Part 4's routes, on the same blueprint)
    from webmap.admin import bp as admin_bp
    from webmap.alerts import bp as alerts_bp  # alerts for an area, Atom feeds, announcements (issue #18)
    from webmap.api import bp as api_bp
    from webmap.app_shell import bp as app_shell_bp
    from webmap.cabinet import bp as cabinet_bp
    from webmap.coverage import bp as coverage_bp
    from webmap.dashboard import bp as dashboard_bp
    from webmap.heritage import bp as heritage_bp
    from webmap.history_api import bp as history_api_bp  # features' history and revert (issue #19)
    from webmap.infrastructure import bp as infrastructure_bp
    from webmap.land import bp as land_bp
    from webmap.mail_links import bp as mail_links_bp
    from webmap.map_layers import bp as map_layers_bp
    from webmap.ogc import bp as ogc_bp
    from webmap.open311 import bp as open311_bp
    from webmap.pages import bp as pages_bp
    from webmap.property import bp as property_bp
    from webmap.report_form import bp as report_form_bp
    from webmap.report_pages import bp as report_pages_bp
    from webmap.reports_api import bp as reports_api_bp
    from webmap.staff import bp as staff_bp
    from webmap.tiles import bp as tiles_bp
    from webmap.venues import bp as venues_bp
    from webmap.venues_api import bp as venues_api_bp

    for blueprint in (api_bp, reports_api_bp, pages_bp, report_pages_bp, staff_bp, admin_bp, open311_bp, ogc_bp,
                      tiles_bp, infrastructure_bp, coverage_bp, venues_bp, property_bp, venues_api_bp, heritage_bp,
                      map_layers_bp, mail_links_bp, dashboard_bp, report_form_bp,
                      app_shell_bp, cabinet_bp, alerts_bp, history_api_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(land_bp)
    from webmap.plans import bp as plans_bp  # spatial plans: pages, editor, zone endpoints (issue #9)
    app.register_blueprint(plans_bp)
    from webmap.reconstruction import bp as reconstruction_bp
    app.register_blueprint(reconstruction_bp)
    from webmap.unit_link import bp as unit_link_bp  # a unit's signed link (issue #14)
    app.register_blueprint(unit_link_bp)
    from webmap.accounts import bp as accounts_bp  # invitations, password reset, operator, staff (issue #14)
    app.register_blueprint(accounts_bp)
    from webmap.console import bp as console_bp  # the hromada administrator's set-up console (issue #14)
    app.register_blueprint(console_bp)
    from webmap.places_api import bp as places_api_bp  # find a place by address: /api/places (issue #17)
    app.register_blueprint(places_api_bp)
    from webmap.wfs import bp as wfs_bp  # WFS 1.1.0 with transactions for QGIS 3.22 (issue #19)
    app.register_blueprint(wfs_bp)
    from webmap.editor import bp as editor_bp  # staff edit any editable layer in the browser (issue #19)
    app.register_blueprint(editor_bp)
    from webmap.transit import bp as transit_bp  # public transport: stop pages and posters (issue #21)
    app.register_blueprint(transit_bp)
    from webmap import openapi

    openapi.init_app(app)  # GET /api/openapi.json: the JSON APIs' description, generated from the views (issue #15)
    csrf.exempt(open311_bp)  # its POST authenticates with an api_key, not a session
    csrf.exempt(mail_links_bp)  # a signed token in the URL is the proof; RFC 8058 one-click POSTs carry no cookie
    _register_error_handlers(app)
    from webmap import errors, security

    errors.register(app)  # the database out of reach: 503 with Retry-After, in each API's format
    security.register(app)  # security headers (CSP, HSTS, …); after the blueprints: staff pages are found
    from webmap.fast_items import ItemsFastPath
    from webmap.tiles import TileFastPath

    TileFastPath.install(app)
    ItemsFastPath.install(app)  # a page of a public layer's features for an anonymous client (webmap.fast_items)
    if app.config["PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Outermost, so the tiles' fast path and Flask alike see the client. Each hop appends the address
        # it was reached from: the last ``hops`` entries are trusted, what a client wrote before them is not.
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    return app


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the cookie signer for a request that brings no
    session cookie — the anonymous reads (the APIs, the map) open an empty session on every request."""

    def open_session(self, app: Flask, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def _wants_json() -> bool:
    if request.path.startswith("/ogc/"):  # OGC API answers in JSON unless HTML is asked for
        return request.args.get("f") != "html" and request.accept_mimetypes.best != "text/html"
    return request.path.startswith("/api/") or request.accept_mimetypes.best in (
        "application/json", "application/geo+json")


_BILINGUAL_HTTP_ERRORS = {
    404: ("Сторінку не знайдено", "Not found"),
    405: ("Цей метод тут не підтримується", "This method is not allowed here"),
    413: ("Запит завеликий: фото разом мають бути до 32 МБ", "The request is too large: photos together up to 32 MB"),
    429: ("Забагато запитів; спробуйте трохи пізніше", "Too many requests; please try again a little later"),
}


def render_error(error: HromadaError, *, as_json: bool | None = None):
    """The one answer to a refused request: JSON for APIs, the log-in page for a page that needs a
    sign-in (and back after it), else the error page. Blueprints with their own JSON shape call it
    for everything else."""
    from flask import jsonify, redirect, render_template, url_for

    from webmap.access import NotSignedIn

    if _wants_json() if as_json is None else as_json:
        return jsonify(error.to_dict()), error.http_status
    if isinstance(error, NotSignedIn):
        return redirect(url_for("staff.login", next=request.full_path))
    return render_template("error.html", error=error), error.http_status


def _register_error_handlers(app: Flask) -> None:
    from werkzeug.exceptions import HTTPException

    app.register_error_handler(HromadaError, render_error)

    from flask_wtf.csrf import CSRFError
    from sqlalchemy.exc import DataError

    @app.errorhandler(DataError)
    def _data_error(exc: DataError):
        # PostgreSQL refused a value (a NUL byte in text, a number out of range): the input's fault.
        log.info("refused by the database: %s", exc.orig)
        return render_error(HromadaError("Запит містить неприпустимі символи або значення",
                                   "The request contains characters or values that cannot be accepted"))

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        return render_error(HromadaError(
            "Бракує або застарів токен захисту форми (CSRF); оновіть сторінку й надішліть ще раз",
            f"The form's CSRF token is missing or invalid ({exc.description}); reload the page and send again"))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code in _BILINGUAL_HTTP_ERRORS:
            uk, en = _BILINGUAL_HTTP_ERRORS[exc.code]
            error = HromadaError(uk, en)
        else:
            error = HromadaError(exc.description or exc.name, exc.description or exc.name)
        error.http_status, error.code = exc.code or 500, exc.name.lower().replace(" ", "_")
        response = app.make_response(render_error(error))
        # The exception's own headers stay: Allow on a 405 (RFC 9110), Retry-After, WWW-Authenticate.
        for name, value in exc.get_headers():
            if name.lower() in ("allow", "retry-after", "www-authenticate"):
                response.headers[name] = value
        return response
