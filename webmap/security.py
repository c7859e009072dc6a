"""Security headers on every answer, through Flask-Talisman (the maintained wntrblm fork that
publishes ``flask-talisman`` on PyPI).

* ``X-Content-Type-Options: nosniff`` everywhere.
* ``Referrer-Policy: strict-origin-when-cross-origin``, unless the view chose its own: pages whose
  address is a secret (a unit's link, an invitation, a report's private link) keep ``no-referrer``.
* ``Content-Security-Policy``: scripts only from this site or inline ones carrying the request's
  nonce (``<script nonce="{{ csp_nonce() }}">``; folium's header scripts get it in
  webmap.mapview.map_parts); no plugins; styles from this site and inline (folium writes ``<style>``
  blocks and Leaflet ``style`` attributes); images from this site, ``data:`` and the OpenStreetMap
  base tiles; fetches only to this site.
* Staff, admin, account, operator, console and unit-link pages cannot be framed by any site
  (``frame-ancestors 'none'``, ``X-Frame-Options: DENY``): a click on them must be the user's own.
  The public pages can be, so a hromada may embed its map in its own website.
* Behind HTTPS (``HROMADA_HTTPS=1``): ``Strict-Transport-Security`` and a ``Secure`` session cookie.
  The redirect from http to https is the proxy's job (a health check over http keeps working).
"""
from __future__ import annotations

import os

from flask import Flask
from flask_talisman import Talisman

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",  # + the request's nonce
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: https://tile.openstreetmap.org",
    "connect-src": "'self'",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}
PRIVATE_CSP = {**CSP, "frame-ancestors": "'none'"}
NONCE_IN = ["script-src"]
# Only what the pages use: "use my location" on the report form; nothing else asks.
PERMISSIONS_POLICY = {"geolocation": "(self)", "camera": "()", "microphone": "()", "payment": "()", "usb": "()"}
# Blueprints whose every page is for staff, or acts on a secret link.
PRIVATE_BLUEPRINTS = {"staff", "admin", "accounts", "console", "unit_link"}
# What webmap.access puts on a view that needs a sign-in (staff views in any blueprint).
PRIVATE_MARKS = ("hromada_roles", "operator_only", "signed_in_only")
REFERRER_POLICY = "strict-origin-when-cross-origin"


def https_setting() -> bool:
    return os.environ.get("HROMADA_HTTPS", "").strip().lower() in ("1", "true", "yes", "on")


class _Talisman(Talisman):
    def _set_referrer_policy_headers(self, headers):
        headers.setdefault("Referrer-Policy", self.referrer_policy)  # a token page's no-referrer stays

    def _set_hsts_headers(self, headers):
        # HROMADA_HTTPS says the service is reached over HTTPS, whether or not the proxy tells
        # (X-Forwarded-Proto); a browser ignores the header on plain http anyway.
        if self.strict_transport_security:
            headers["Strict-Transport-Security"] = _hsts(self)


def is_private(endpoint: str, view) -> bool:
    blueprint = endpoint.rpartition(".")[0]
    return blueprint in PRIVATE_BLUEPRINTS or any(hasattr(view, mark) for mark in PRIVATE_MARKS)


def register(app: Flask) -> Talisman:
    """Install the headers; call after every blueprint is registered (private views are marked)."""
    https = app.config.setdefault("HTTPS", https_setting())
    app.config["SESSION_COOKIE_SECURE"] = https
    talisman = _Talisman(
        app,
        force_https=False,
        strict_transport_security=https,
        session_cookie_secure=https,
        session_cookie_http_only=True,
        session_cookie_samesite=app.config.get("SESSION_COOKIE_SAMESITE") or "Lax",
        content_security_policy=CSP,
        content_security_policy_nonce_in=NONCE_IN,
        frame_options=None,  # public pages may be embedded; private ones below are not
        permissions_policy=PERMISSIONS_POLICY,
        referrer_policy=REFERRER_POLICY,
        x_content_type_options=True,
    )
    private = talisman(frame_options="DENY", content_security_policy=PRIVATE_CSP,
                       content_security_policy_nonce_in=NONCE_IN)
    for endpoint, view in app.view_functions.items():
        if is_private(endpoint, view):
            private(view)
    app.extensions["hromada_public_headers"] = _public_headers(talisman)
    return talisman


def public_headers(app: Flask) -> list[tuple[str, str]]:
    """The security headers of a public answer (no view of its own options), for the fast paths that
    answer without Flask (webmap.fast_items): those Talisman sets, written out once. The policy carries
    no nonce — those answers are JSON, which no page runs. A test holds both to the same headers."""
    return app.extensions["hromada_public_headers"]


def _public_headers(talisman: Talisman) -> list[tuple[str, str]]:
    headers = [
        ("Permissions-Policy", ", ".join(f"{name}={value}" for name, value in PERMISSIONS_POLICY.items())),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", "; ".join(f"{name} {value}" for name, value in CSP.items())),
    ]
    if talisman.strict_transport_security:
        headers.append(("Strict-Transport-Security", _hsts(talisman)))
    headers.append(("Referrer-Policy", REFERRER_POLICY))
    return headers


def _hsts(talisman: Talisman) -> str:
    return f"max-age={talisman.strict_transport_security_max_age}; includeSubDomains"
