"""Who is asking (the signed-in user; anonymous visitors have no roles) and what they may touch.

Roles are held per hromada (gis.users). Every staff, planner and admin view names the roles it
needs and how to find the hromada of what it touches — ``@hromada_roles(…, hromada=…)`` — and the
check is made here, in one place, before the view runs. A test walks the route table and fails on
a staff view without it (tests/webmap/test_hromada_roles.py).
"""
from __future__ import annotations

import functools
from typing import Callable

from flask import g, request, session

from gis import hromadas, users
from gis.errors import Forbidden, Unauthorized
from gis.models import OPERATOR
from gis.user_tokens import Credentials, credentials
from gis.users import User, load_user
from layers.report_states import Actor
from webmap.database import connection


class NotSignedIn(Unauthorized):
    """No one is signed in: pages send the visitor to the log-in page, APIs answer 401."""

    code = "not_signed_in"

    def __init__(self):
        super().__init__("Увійдіть, щоб продовжити", "Sign in to continue")


def request_credentials() -> Credentials | None:
    """The credentials of this request's ``Authorization`` header (gis.user_tokens.credentials):
    a personal token as ``Bearer …`` or as the password of ``Basic …`` (issue #19, old QGIS)."""
    return credentials(request.headers.get("Authorization"))


def refuse_basic_that_signs_nobody_in() -> None:
    """Basic credentials that sign nobody in are a 401 (issue #19), reads too, so QGIS says the
    authentication failed instead of showing only the public features. Without credentials, or with
    Basic credentials that are not ours beside a signed-in session (a proxy's), nothing happens."""
    found = request_credentials()
    if found is None or found.scheme != "basic" or current_user() is not None:
        return
    if found.token is not None:
        raise Unauthorized("Токен, наданий як пароль (Basic), недійсний або відкликаний",
                           "The token given as the password (Basic) is invalid or revoked")
    raise Unauthorized("Пароль (Basic) має бути персональним токеном API (hgut_…), а не паролем облікового "
                       "запису; ім'я користувача — будь-яке, наприклад ваша ел. пошта",
                       "The password (Basic) must be a personal API token (hgut_…), not the account's "
                       "password; the user name may be anything, e.g. your e-mail")


def bearer_token() -> str | None:
    """The personal token the request carries, as ``Authorization: Bearer …`` or as the password of
    ``Authorization: Basic …``; None when it carries none."""
    found = request_credentials()
    return found.token if found is not None else None


def current_user() -> User | None:
    """The user of a valid personal API token (gis.user_tokens), else of the session cookie.

    A request that carries a token (Bearer, or Basic with a token as the password) is judged by the
    token alone: an invalid or revoked one makes it anonymous (``g.token_rejected``), never falls
    back to a cookie. Basic credentials whose password is no token are not ours (a proxy's, say):
    they are ignored here (the OGC API answers them 401: webmap.ogc_write). A deactivated account is
    anonymous at once, whatever it carries.
    """
    if "user" not in g:
        token = bearer_token()
        g.token_user = token is not None
        if token is not None:
            from gis.user_tokens import verify_token

            g.user = verify_token(connection(), token)
            g.token_rejected = g.user is None
        else:
            user_id = session.get("user_id")
            g.user = load_user(connection(), user_id) if user_id is not None else None
            if g.user is not None and session.get("auth_epoch") != auth_epoch(g.user.id):
                g.user = None  # the password changed since this session signed in
    return g.user


def auth_epoch(user_id: int) -> str | None:
    return users.auth_epoch(connection(), user_id)


def token_authenticated() -> bool:
    """Whether this request is signed in with a valid token (which needs no CSRF token)."""
    return current_user() is not None and g.token_user


def signed_in_user() -> User:
    user = current_user()
    if user is None:
        raise NotSignedIn()
    return user


def roles_in(hromada_id: int | None) -> frozenset[str]:
    """The roles the current user holds in that hromada (none for visitors)."""
    user = current_user()
    return user.roles_in(hromada_id) if user else frozenset()


def read_roles(hromada_id: int | None = None) -> frozenset[str]:
    """The roles that decide what a read shows (staff fields, draft rows): those held in
    ``hromada_id`` when the read is confined to one hromada, else those held in every hromada of
    the service — a read across hromadas shows staff detail only to someone who is staff in all
    of them (with one hromada served, that is simply its staff)."""
    user = current_user()
    if user is None or not user.grants:
        return frozenset()
    if hromada_id is not None:
        return user.roles_in(hromada_id)
    everywhere = None
    for hromada in hromadas.all_hromada_ids(connection()):
        held = user.roles_in(hromada)
        everywhere = held if everywhere is None else everywhere & held
        if not everywhere:
            return frozenset()
    return everywhere or frozenset()


def current_roles() -> frozenset[str]:
    """Every role held anywhere: for menus only, never for a decision on a hromada's data."""
    user = current_user()
    return user.roles if user else frozenset()


def current_actor() -> Actor:
    user = signed_in_user()
    return Actor(user.id, user.grants, user.unit_ids)


def require_roles_in(hromada_id: int, *roles: str) -> User:
    """The signed-in user if they hold one of ``roles`` in ``hromada_id``; else 401 or 403."""
    user = signed_in_user()
    if not user.roles_in(hromada_id) & set(roles):
        raise Forbidden("Для цієї дії потрібна інша роль у цій громаді",
                        "This needs another role in this hromada")
    return user


# --- resolvers: which hromada does the view touch -------------------------------------------------

def hromada_id_of_katottg(katottg: str) -> int:
    return hromadas.hromada_id(connection(), katottg)


def chosen_hromada(*roles: str) -> Callable[..., int]:
    """For views that are not about one object (a queue, an upload form): the hromada named by
    ``?hromada=KATOTTG`` (or the form field), else the first where the user holds ``roles``."""
    def resolve(**_kwargs) -> int:
        katottg = request.values.get("hromada")
        if katottg:
            return hromada_id_of_katottg(katottg)
        user = signed_in_user()
        mine = sorted(h for h, held in user.grants.items() if held & set(roles))
        if not mine:
            raise Forbidden("Для цієї дії потрібна інша роль", "This needs another role")
        return mine[0]
    return resolve


def hromada_roles(*roles: str, hromada: Callable[..., int]):
    """Sign-in first (the log-in page for pages, 401 for APIs); then one of ``roles`` in the hromada
    ``hromada(**view_kwargs)`` names, else 403. The view finds that hromada id in ``g.hromada_id``."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            signed_in_user()
            g.hromada_id = hromada(**kwargs)
            require_roles_in(g.hromada_id, *roles)
            return view(*args, **kwargs)
        wrapped.hromada_roles = frozenset(roles)
        return wrapped
    return decorate


def operator_required(view):
    """The national operator only (enabling hromadas, appointing their first administrator)."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not signed_in_user().is_operator:
            raise Forbidden("Це може лише оператор платформи", "Only the platform operator can do this")
        return view(*args, **kwargs)
    wrapped.operator_only = True
    return wrapped


def signed_in_required(view):
    """Any signed-in account (its own settings, tokens)."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        signed_in_user()
        return view(*args, **kwargs)
    wrapped.signed_in_only = True
    return wrapped


__all__ = ["OPERATOR", "NotSignedIn", "bearer_token", "chosen_hromada", "current_actor", "current_roles",
           "current_user", "hromada_id_of_katottg", "hromada_roles", "operator_required",
           "read_roles", "require_roles_in", "roles_in", "signed_in_required", "signed_in_user", "token_authenticated"]
