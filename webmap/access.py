"""Who is asking: the signed-in user (anonymous visitors have no roles), and role checks."""
from __future__ import annotations

import functools

from flask import g, redirect, request, session, url_for

from gis.errors import Forbidden
from gis.users import User, load_user
from layers.reports import Actor
from webmap.database import connection

def current_user() -> User | None:
    if "user" not in g:
        user_id = session.get("user_id")
        g.user = load_user(connection(), user_id) if user_id is not None else None
    return g.user


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
