"""Staff and admin accounts: creation, password check (argon2), roles and units."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gis.errors import Conflict, InvalidInput
from gis.models import ROLES, app_user, staff_membership, unit

_hasher = PasswordHasher()
# Verified when the e-mail is unknown, so a wrong e-mail takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("no such user")
MIN_PASSWORD = 10


@dataclass(frozen=True)
class User:
    id: int
    email: str
    full_name: str | None
    roles: frozenset[str]
    unit_ids: frozenset[int]


def create_user(conn: sa.Connection, email: str, password: str, roles: list[str], *,
                full_name: str | None = None, unit_ids: list[int] = ()) -> int:
    email = (email or "").strip()
    if "@" not in email:
        raise InvalidInput(f"Неправильна адреса ел. пошти {email!r}", f"Invalid e-mail address {email!r}")
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(f"Пароль має бути щонайменше {MIN_PASSWORD} знаків",
                           f"The password needs at least {MIN_PASSWORD} characters")
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise InvalidInput(f"Невідомі ролі: {', '.join(sorted(unknown)) or '—'}; можливі: {', '.join(ROLES)}",
                           f"Unknown roles: {', '.join(sorted(unknown)) or '—'}; known: {', '.join(ROLES)}")
    if conn.execute(sa.select(app_user.c.id).where(sa.func.lower(app_user.c.email) == email.lower())).first():
        raise Conflict(f"Користувач {email} вже існує", f"User {email} already exists")
    user_id = conn.execute(app_user.insert().values(
        email=email, full_name=full_name, password_hash=_hasher.hash(password), roles=list(roles),
    ).returning(app_user.c.id)).scalar_one()
    for unit_id in unit_ids:
        conn.execute(staff_membership.insert().values(user_id=user_id, unit_id=unit_id))
    return user_id


def unit_ids_by_code(conn: sa.Connection, katottg: str, codes: list[str]) -> list[int]:
    rows = dict(conn.execute(sa.text("""SELECT u.code, u.id FROM unit u JOIN hromada h ON h.id = u.hromada_id
                                        WHERE h.katottg = :k AND u.code = ANY(:codes)"""),
                             {"k": katottg, "codes": list(codes)}).all())
    missing = [c for c in codes if c not in rows]
    if missing:
        raise InvalidInput(f"Немає підрозділів {', '.join(missing)} у громаді {katottg}",
                           f"No units {', '.join(missing)} in hromada {katottg}")
    return [rows[c] for c in codes]


def load_user(conn: sa.Connection, user_id: int) -> User | None:
    row = conn.execute(sa.select(app_user).where(app_user.c.id == user_id, app_user.c.is_active)).mappings().first()
    if row is None:
        return None
    units = conn.execute(sa.select(staff_membership.c.unit_id).where(staff_membership.c.user_id == user_id)).scalars()
    return User(row["id"], row["email"], row["full_name"], frozenset(row["roles"]), frozenset(units))


def authenticate(conn: sa.Connection, email: str, password: str) -> User | None:
    row = conn.execute(sa.select(app_user.c.id, app_user.c.password_hash).where(
        sa.func.lower(app_user.c.email) == (email or "").strip().lower(), app_user.c.is_active)).first()
    has_password = row is not None and bool(row.password_hash)
    try:
        _hasher.verify(row.password_hash if has_password else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        return None
    # An unknown e-mail or an account without a password never signs in, whatever was typed.
    return load_user(conn, row.id) if has_password else None


def units_of_hromadas(conn: sa.Connection, unit_ids) -> list[sa.Row]:
    """Units of the same hromadas as ``unit_ids`` (transfer targets)."""
    return conn.execute(sa.select(unit.c.id, unit.c.name_uk, unit.c.name_en, unit.c.hromada_id).where(
        unit.c.hromada_id.in_(sa.select(unit.c.hromada_id).where(unit.c.id.in_(list(unit_ids)))))
        .order_by(unit.c.name_uk)).all()
