"""Staff and admin accounts: creation, password check (argon2), roles per hromada and units."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gis.errors import Conflict, InvalidInput
from gis.models import HROMADA_ROLES, OPERATOR, ROLES, app_user, role_grant, staff_membership, unit

_hasher = PasswordHasher()
# Verified when the e-mail is unknown, so a wrong e-mail takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("no such user")
MIN_PASSWORD = 10


@dataclass(frozen=True)
class User:
    id: int
    email: str
    full_name: str | None
    grants: dict[int, frozenset[str]]  # hromada id → the roles held there
    unit_ids: frozenset[int]
    is_operator: bool = False

    @property
    def roles(self) -> frozenset[str]:
        """Every role held anywhere (the operator's too): enough to show a menu, never to allow an
        act on a hromada's data — that is :meth:`roles_in`."""
        held = frozenset().union(*self.grants.values()) if self.grants else frozenset()
        return held | {OPERATOR} if self.is_operator else held

    def roles_in(self, hromada_id: int | None) -> frozenset[str]:
        return self.grants.get(hromada_id, frozenset()) if hromada_id is not None else frozenset()

    @property
    def hromada_ids(self) -> frozenset[int]:
        return frozenset(self.grants)


def check_email(email: str | None) -> str:
    email = (email or "").strip()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise InvalidInput(f"Неправильна адреса ел. пошти {email!r}", f"Invalid e-mail address {email!r}")
    return email


def check_password(password: str | None) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(f"Пароль має бути щонайменше {MIN_PASSWORD} знаків",
                           f"The password needs at least {MIN_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def check_roles(roles) -> list[str]:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise InvalidInput(f"Невідомі ролі: {', '.join(sorted(unknown)) or '—'}; можливі: {', '.join(ROLES)}",
                           f"Unknown roles: {', '.join(sorted(unknown)) or '—'}; known: {', '.join(ROLES)}")
    return list(roles)


def create_user(conn: sa.Connection, email: str, password: str | None, roles: list[str], *,
                hromada_id: int | None = None, full_name: str | None = None, unit_ids: list[int] = ()) -> int:
    """An account with ``roles`` held in ``hromada_id`` (by default the hromada of ``unit_ids``);
    the operator's role is national. ``password`` None: an invited account that cannot sign in
    until its holder sets one."""
    email = check_email(email)
    roles = check_roles(roles)
    password_hash = hash_password(password) if password is not None else None
    if conn.execute(sa.select(app_user.c.id).where(sa.func.lower(app_user.c.email) == email.lower())).first():
        raise Conflict(f"Користувач {email} вже існує", f"User {email} already exists")
    user_id = conn.execute(app_user.insert().values(
        email=email, full_name=full_name, password_hash=password_hash,
    ).returning(app_user.c.id)).scalar_one()
    grant_roles(conn, user_id, roles, hromada_id=hromada_id, unit_ids=unit_ids)
    return user_id


def grant_roles(conn: sa.Connection, user_id: int, roles: list[str], *, hromada_id: int | None = None,
                unit_ids: list[int] = ()) -> None:
    """Add ``roles`` in ``hromada_id`` (or the units' hromada) and the unit memberships. Idempotent."""
    roles = check_roles(roles)
    if unit_ids:
        unit_hromadas = set(conn.execute(sa.select(unit.c.hromada_id).where(unit.c.id.in_(list(unit_ids)))).scalars())
        if hromada_id is None and len(unit_hromadas) == 1:
            hromada_id = unit_hromadas.pop()
        elif unit_hromadas != {hromada_id}:
            raise InvalidInput("Підрозділи мають бути з тієї самої громади, що й ролі",
                               "The units must be of the same hromada as the roles")
    local = [r for r in roles if r in HROMADA_ROLES]
    if local and hromada_id is None:
        raise InvalidInput("Вкажіть громаду, у якій діють ролі " + ", ".join(local),
                           "Say in which hromada the roles " + ", ".join(local) + " are held")
    rows = [{"user_id": user_id, "hromada_id": None if r == OPERATOR else hromada_id, "role": r} for r in roles]
    if rows:
        conn.execute(pg_insert(role_grant).values(rows).on_conflict_do_nothing())
    if unit_ids:
        conn.execute(pg_insert(staff_membership).values(
            [{"user_id": user_id, "unit_id": u} for u in unit_ids]).on_conflict_do_nothing())


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
    """The active account with its roles per hromada; None for an unknown or deactivated one."""
    row = conn.execute(sa.select(app_user).where(app_user.c.id == user_id, app_user.c.is_active)).mappings().first()
    if row is None:
        return None
    units = conn.execute(sa.select(staff_membership.c.unit_id).where(staff_membership.c.user_id == user_id)).scalars()
    grants: dict[int, set[str]] = {}
    operator = False
    for hromada_id, role in conn.execute(sa.select(role_grant.c.hromada_id, role_grant.c.role)
                                         .where(role_grant.c.user_id == user_id)):
        if role == OPERATOR:
            operator = True
        else:
            grants.setdefault(hromada_id, set()).add(role)
    return User(row["id"], row["email"], row["full_name"], {h: frozenset(r) for h, r in grants.items()},
                frozenset(units), operator)


def auth_epoch(conn: sa.Connection, user_id: int) -> str | None:
    """Changes whenever the account's password does, or it is switched off: sessions signed in
    before end for good."""
    return conn.execute(sa.text(
        "SELECT md5(coalesce(password_hash, '') || ':' || session_epoch) FROM app_user WHERE id = :id"),
        {"id": user_id}).scalar()


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


def display_names(conn: sa.Connection, user_ids) -> dict[int, str]:
    """How to name these accounts to a person: the full name, else the e-mail address."""
    ids = sorted(user_ids)
    if not ids:
        return {}
    rows = conn.execute(sa.select(app_user.c.id, app_user.c.full_name, app_user.c.email)
                        .where(app_user.c.id.in_(ids)))
    return {r.id: r.full_name or r.email for r in rows}


def units_of_hromadas(conn: sa.Connection, unit_ids) -> list[sa.Row]:
    """Units of the same hromadas as ``unit_ids`` (transfer targets)."""
    return conn.execute(sa.select(unit.c.id, unit.c.name_uk, unit.c.name_en, unit.c.hromada_id).where(
        unit.c.hromada_id.in_(sa.select(unit.c.hromada_id).where(unit.c.id.in_(list(unit_ids)))))
        .order_by(unit.c.name_uk)).all()
