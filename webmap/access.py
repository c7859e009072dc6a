"""Who is asking: the signed-in user (anonymous visitors have no roles), and role checks."""
from __future__ import annotations

import functools

from flask import g, redirect, request, session, url_for

from gis.errors import Forbidden
from gis.users import User, load_user
from layers.reports import Actor
from webmap.database import connection


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if the request carries one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def current_user() -> User | None:
    """The user of a valid personal API token (gis.user_tokens), else of the session cookie.

    A request that carries a token is judged by the token alone: an invalid or revoked one makes
    it anonymous (``g.token_rejected``), never falls back to a cookie.
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
    return g.user


def token_authenticated() -> bool:
    """Whether this request is signed in with a valid token (which needs no CSRF token)."""
    return current_user() is not None and g.token_user


def current_roles() -> frozenset[str]:
    user = current_user()
    return user.roles if user else frozenset()


def current_actor() -> Actor:
    user = current_user()
    return Actor(user.id, user.roles, user.unit_ids)


def roles_required(*roles: str):
    """Sign-in first (redirect to the log-in page); then one of ``roles``, else 403."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                return redirect(url_for("staff.login", next=request.full_path))
            if not (user.roles & set(roles)):
                raise Forbidden("Для цієї дії потрібна інша роль", "This needs another role")
            return view(*args, **kwargs)
        return wrapped
    return decorate
