"""Staff accounts by invitation, password reset by e-mailed link, deactivation, and the operator's
switches (enable a hromada, appoint its first administrator) — issue #14.

A one-time link carries ``secrets.token_urlsafe(32)``; the database keeps only its SHA-256 (as for
personal API tokens: 256 random bits leave nothing to guess, and a lookup by hash leaks nothing
through timing). Opening a link (GET) never uses it up — mail scanners open links too; only setting
the password does. Every change is written to the audit log in the same transaction.

Tenancy: a hromada's administrator manages the accounts that hold roles in *that* hromada. An
account that also works for another hromada cannot be switched off from here (it would lock that
hromada's colleague out too); its roles here are revoked instead. The operator and the CLI act
nationally (``hromada_id=None``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from gis import outbox
from gis.audit import By, record
from gis.errors import Conflict, HromadaError, InvalidInput, NotFound
from gis.hromadas import hromada_by_katottg
from gis.models import (
    HROMADA_ROLES,
    account_token,
    app_user,
    hromada,
    hromada_setup,
    role_grant,
    staff_membership,
    unit,
    user_token,
)
from gis.users import check_email, create_user, grant_roles, hash_password

log = logging.getLogger(__name__)

KYIV = ZoneInfo("Europe/Kyiv")
INVITE_DAYS_DEFAULT = 7
RESET_LIFETIME = dt.timedelta(hours=2)
# One reset mail per address per this long, however often the form is sent (no mail bombing).
RESET_RESEND_AFTER = dt.timedelta(minutes=1)
PURPOSES = ("invite", "reset")
LINK_PATHS = {"invite": "/account/set-password/", "reset": "/account/reset/"}

ROLE_LABELS = {
    "operator": ("оператор платформи", "platform operator"),
    "admin": ("адміністратор громади", "hromada administrator"),
    "unit_staff": ("працівник підрозділу", "unit staff"),
    "planner": ("планувальник", "planner"),
}


class LinkGone(HromadaError):
    """A one-time link that was used already or has expired: ask for a new one."""

    http_status = 410
    code = "link_gone"


def invite_lifetime() -> dt.timedelta:
    """HROMADA_INVITE_DAYS (1–90), else 7 days."""
    raw = os.environ.get("HROMADA_INVITE_DAYS", "")
    try:
        days = int(raw) if raw else INVITE_DAYS_DEFAULT
    except ValueError:
        days = 0
    if not 1 <= days <= 90:
        log.warning("HROMADA_INVITE_DAYS=%r is not a number of days from 1 to 90; using %s", raw, INVITE_DAYS_DEFAULT)
        days = INVITE_DAYS_DEFAULT
    return dt.timedelta(days=days)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_for(public_url: str, purpose: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{LINK_PATHS[purpose]}{token}"


def role_label(role: str, lang: str = "uk") -> str:
    uk, en = ROLE_LABELS.get(role, (role, role))
    return en if lang == "en" else uk


def kyiv_time(moment: dt.datetime) -> str:
    return moment.astimezone(KYIV).strftime("%Y-%m-%d %H:%M")


# --- look-ups -------------------------------------------------------------------------------------

def _account(conn: sa.Connection, user_id: int, *, lock: bool = False) -> sa.RowMapping:
    query = sa.select(app_user).where(app_user.c.id == user_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise NotFound(f"Облікового запису {user_id} немає", f"There is no account {user_id}")
    return row


def _account_by_email(conn: sa.Connection, email: str) -> sa.RowMapping | None:
    return conn.execute(sa.select(app_user).where(sa.func.lower(app_user.c.email) == email.strip().lower())
                        ).mappings().first()


def user_id_by_email(conn: sa.Connection, email: str) -> int:
    row = _account_by_email(conn, email or "")
    if row is None:
        raise NotFound(f"Облікового запису {email} немає", f"There is no account {email}")
    return row["id"]


def _hromada(conn: sa.Connection, hromada_id: int) -> sa.RowMapping:
    row = conn.execute(sa.select(hromada.c.id, hromada.c.katottg, hromada.c.name_uk, hromada.c.name_en)
                       .where(hromada.c.id == hromada_id)).mappings().first()
    if row is None:
        raise NotFound(f"Громади {hromada_id} немає", f"There is no hromada {hromada_id}")
    return row


def _grants(conn: sa.Connection, user_id: int) -> dict[int | None, set[str]]:
    out: dict[int | None, set[str]] = {}
    for hromada_id, role in conn.execute(sa.select(role_grant.c.hromada_id, role_grant.c.role)
                                         .where(role_grant.c.user_id == user_id)):
        out.setdefault(hromada_id, set()).add(role)
    return out


def _roles_here(conn: sa.Connection, user_id: int, hromada_id: int | None) -> set[str]:
    """The account's roles in ``hromada_id``; NotFound when it holds none there (for an
    administrator, an account of another hromada does not exist). ``None``: national, no check."""
    grants = _grants(conn, user_id)
    if hromada_id is not None and not grants.get(hromada_id):
        raise NotFound(f"Облікового запису {user_id} немає серед працівників цієї громади",
                       f"Account {user_id} is not among this hromada's staff")
    return grants.get(hromada_id, set())


def _audit_everywhere(conn: sa.Connection, by: By, action: str, user_id: int, email: str,
                      detail: dict | None = None) -> None:
    """One entry in each hromada where the account holds roles (each administrator sees it); a
    national entry for an account with none."""
    hromadas = [h for h in _grants(conn, user_id) if h is not None] or [None]
    for hromada_id in hromadas:
        record(conn, by, action, hromada_id=hromada_id, object=email, detail=detail)


# --- one-time links -------------------------------------------------------------------------------

def _issue(conn: sa.Connection, user_id: int, purpose: str, lifetime: dt.timedelta,
           created_by: int | None) -> tuple[str, dt.datetime]:
    """A new link's token (only its hash is stored) and expiry. Older unused links of the same
    purpose stop working: only the newest mail's link is valid."""
    conn.execute(account_token.update().where(account_token.c.user_id == user_id, account_token.c.purpose == purpose,
                                              account_token.c.used_at.is_(None)).values(used_at=sa.func.now()))
    token = secrets.token_urlsafe(32)
    expires_at = conn.execute(account_token.insert().values(
        user_id=user_id, purpose=purpose, token_hash=token_hash(token), created_by=created_by,
        expires_at=sa.func.now() + lifetime).returning(account_token.c.expires_at)).scalar_one()
    return token, expires_at


def _void_links(conn: sa.Connection, user_id: int) -> None:
    conn.execute(account_token.update().where(account_token.c.user_id == user_id, account_token.c.used_at.is_(None))
                 .values(used_at=sa.func.now()))


@dataclass(frozen=True)
class LinkCheck:
    """A valid link: whose and what for (shown on the set-password page)."""

    user_id: int
    email: str
    purpose: str
    expires_at: dt.datetime


def check_link(conn: sa.Connection, token: str, purpose: str | None = None, *, lock: bool = False) -> LinkCheck:
    """The link's account, if the link may still be used. Unknown (or of another purpose) → 404;
    used, expired, or its account switched off → 410. Changes nothing."""
    token = (token or "").strip()
    query = (sa.select(account_token.c.id, account_token.c.user_id, account_token.c.purpose,
                       account_token.c.expires_at, account_token.c.used_at,
                       (account_token.c.expires_at <= sa.func.now()).label("expired"),
                       app_user.c.email, app_user.c.is_active)
             .join(app_user, app_user.c.id == account_token.c.user_id)
             .where(account_token.c.token_hash == token_hash(token)))
    row = conn.execute(query.with_for_update(of=account_token) if lock else query).first() if token else None
    if row is None or (purpose is not None and row.purpose != purpose):
        raise NotFound("Посилання недійсне: перевірте, що його скопійовано повністю",
                       "This link is not valid: check that it was copied whole")
    if row.used_at is not None:
        raise LinkGone("Посиланням уже скористалися або його замінило новіше. Попросіть нове.",
                       "This link was used already or replaced by a newer one. Ask for a new one.")
    if row.expired:
        raise LinkGone(f"Термін дії посилання сплив {kyiv_time(row.expires_at)} (за київським часом). Попросіть нове.",
                       f"This link expired on {kyiv_time(row.expires_at)} (Kyiv time). Ask for a new one.")
    if not row.is_active:
        raise LinkGone("Обліковий запис вимкнено; зверніться до адміністратора громади",
                       "The account is switched off; ask the hromada's administrator")
    return LinkCheck(row.user_id, row.email, row.purpose, row.expires_at)


def set_password_with_token(conn: sa.Connection, token: str, password: str, *, purpose: str | None = None) -> int:
    """Set the account's password through a one-time link and use the link up; the account's id.

    Unknown link → 404, used or expired → 410, a too short password → 400; in every such case
    nothing changes (the link stays usable after a bad password). Setting a password also voids the
    account's other open links, and ends its sessions elsewhere (the sign-in epoch follows the hash).
    """
    link = check_link(conn, token, purpose, lock=True)
    password_hash = hash_password(password)  # 400 before anything is written
    conn.execute(app_user.update().where(app_user.c.id == link.user_id).values(password_hash=password_hash))
    _void_links(conn, link.user_id)
    action = "account.invitation_accepted" if link.purpose == "invite" else "account.password_reset"
    _audit_everywhere(conn, By(link.email, link.user_id), action, link.user_id, link.email)
    return link.user_id


# --- mail -------------------------------------------------------------------------------------------

def _roles_text(roles, lang: str) -> str:
    return ", ".join(role_label(r, lang) for r in sorted(roles))


def _invitation_mail(email: str, place: sa.RowMapping, roles, link: str, expires_at: dt.datetime) -> tuple[str, str]:
    when = kyiv_time(expires_at)
    name_en = place["name_en"] or place["name_uk"]
    subject = f"Запрошення до Громада ГІС: {place['name_uk']} / Invitation to Hromada GIS: {name_en}"
    body = (
        f"Вітаємо!\n\n"
        f"Вас запрошено до Громада ГІС ({place['name_uk']}) з роллю: {_roles_text(roles, 'uk')}.\n"
        f"Щоб почати, задайте свій пароль за цим посиланням (воно одноразове і діє до {when} за київським часом):\n\n"
        f"{link}\n\n"
        f"Ваше ім'я для входу — ця адреса: {email}\n"
        f"Якщо ви не чекали цього листа, просто не відповідайте на нього.\n\n"
        f"-- English --\n\n"
        f"Hello,\n\n"
        f"You have been invited to Hromada GIS ({name_en}) as: {_roles_text(roles, 'en')}.\n"
        f"To start, set your password with this link (it works once, until {when} Kyiv time):\n\n"
        f"{link}\n\n"
        f"You sign in with this address: {email}\n"
        f"If you did not expect this message, simply ignore it.\n")
    return subject, body


def _granted_mail(place: sa.RowMapping, roles, login_url: str) -> tuple[str, str]:
    name_en = place["name_en"] or place["name_uk"]
    subject = f"Нові ролі в Громада ГІС: {place['name_uk']} / New roles in Hromada GIS: {name_en}"
    body = (f"Вам надано ролі в громаді {place['name_uk']}: {_roles_text(roles, 'uk')}.\n"
            f"Увійдіть зі своїм звичним паролем: {login_url}\n\n"
            f"-- English --\n\n"
            f"You have been given roles in {name_en}: {_roles_text(roles, 'en')}.\n"
            f"Sign in with your usual password: {login_url}\n")
    return subject, body


def _reset_mail(link: str, expires_at: dt.datetime) -> tuple[str, str]:
    when = kyiv_time(expires_at)
    subject = "Зміна пароля в Громада ГІС / Password reset for Hromada GIS"
    body = (f"Хтось (імовірно, ви) попросив змінити пароль до Громада ГІС.\n"
            f"Задайте новий пароль за цим посиланням (воно одноразове і діє до {when} за київським часом):\n\n"
            f"{link}\n\n"
            f"Якщо ви не просили, нічого не робіть: пароль залишиться тим самим.\n\n"
            f"-- English --\n\n"
            f"Someone (probably you) asked to reset the password for Hromada GIS.\n"
            f"Set a new password with this link (it works once, until {when} Kyiv time):\n\n"
            f"{link}\n\n"
            f"If it was not you, do nothing: the password stays as it is.\n")
    return subject, body


# --- invitations ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Invitation:
    user_id: int
    link: str | None  # None: the account had a password already and was only given the roles
    created: bool


def _check_hromada_roles(roles) -> list[str]:
    roles = sorted(set(roles or ()))
    wrong = [r for r in roles if r not in HROMADA_ROLES]
    if not roles or wrong:
        raise InvalidInput(
            f"Оберіть ролі в громаді: {', '.join(role_label(r) for r in HROMADA_ROLES)}"
            + (f" (не {', '.join(wrong)})" if wrong else ""),
            f"Choose roles in the hromada: {', '.join(role_label(r, 'en') for r in HROMADA_ROLES)}"
            + (f" (not {', '.join(wrong)})" if wrong else ""))
    return roles


def invite_with_link(conn: sa.Connection, *, email: str, roles, hromada_id: int, unit_ids=(), by: By,
                     public_url: str, full_name: str | None = None) -> Invitation:
    """:func:`invite`, also returning the link (the CLI prints it: the first administrator's
    server may have no mail set up yet)."""
    email = check_email(email)
    roles = _check_hromada_roles(roles)
    unit_ids = sorted(set(unit_ids or ()))
    place = _hromada(conn, hromada_id)
    full_name = (full_name or "").strip() or None
    if full_name and len(full_name) > 200:
        raise InvalidInput("Ім'я задовге: до 200 знаків", "The name is too long: 200 characters at most")
    if unit_ids:
        known = {r.id: r for r in conn.execute(sa.select(unit.c.id, unit.c.hromada_id, unit.c.has_accounts)
                                                .where(unit.c.id.in_(unit_ids)))}
        if set(known) != set(unit_ids) or any(r.hromada_id != hromada_id for r in known.values()):
            raise InvalidInput("Оберіть підрозділи цієї громади", "Choose units of this hromada")
        if any(not r.has_accounts for r in known.values()):
            raise InvalidInput("Підрозділ, з яким зв'язуються лише ел. поштою, не має облікових записів",
                               "A unit reached by e-mail only has no staff accounts")

    existing = _account_by_email(conn, email)
    created = existing is None
    if created:
        user_id = create_user(conn, email, None, roles, hromada_id=hromada_id, full_name=full_name, unit_ids=unit_ids)
    else:
        user_id = existing["id"]
        if not existing["is_active"]:
            raise Conflict(f"Обліковий запис {email} вимкнено: спершу увімкніть його знову",
                           f"The account {email} is switched off: switch it on again first")
        grant_roles(conn, user_id, roles, hromada_id=hromada_id, unit_ids=unit_ids)
        if full_name and not existing["full_name"]:
            conn.execute(app_user.update().where(app_user.c.id == user_id).values(full_name=full_name))

    link = None
    if created or not existing["password_hash"]:
        token, expires_at = _issue(conn, user_id, "invite", invite_lifetime(), by.user_id)
        link = link_for(public_url, "invite", token)
        subject, body = _invitation_mail(email, place, roles, link, expires_at)
    else:
        subject, body = _granted_mail(place, roles, f"{public_url.rstrip('/')}/staff/login")
    # A fresh key per invitation: sent exactly once, and a second invitation is a second mail.
    outbox.enqueue(conn, to_addr=email, subject=subject, body=body, key=f"account-{user_id}-{secrets.token_hex(8)}")
    record(conn, by, "account.invite", hromada_id=hromada_id, object=email,
           detail={"roles": roles, "unit_ids": unit_ids, "new_account": created, "link_sent": link is not None})
    return Invitation(user_id, link, created)


def invite(conn: sa.Connection, *, email: str, roles, hromada_id: int, unit_ids=(), by: By, public_url: str,
           full_name: str | None = None) -> int:
    """Invite ``email`` to hold ``roles`` (admin, unit_staff, planner) in ``hromada_id``; the account's id.

    A new address gets an account without a password and a mail (uk, then en) with a one-time
    link to set one, valid HROMADA_INVITE_DAYS days (7). An existing account gets the roles; if it
    never set a password, a fresh link (the older one stops working), else a note to sign in as
    usual. A switched-off account → 409; a bad address, role or unit → 400; nothing changes then.
    """
    return invite_with_link(conn, email=email, roles=roles, hromada_id=hromada_id, unit_ids=unit_ids, by=by,
                            public_url=public_url, full_name=full_name).user_id


def request_reset(conn: sa.Connection, email: str, public_url: str) -> None:
    """Mail a password-reset link (valid 2 hours) if ``email`` is an active account's address.

    Answers the same — nothing — whether or not the address exists, so the form cannot be used to
    find out who has an account. At most one mail per address a minute.
    """
    try:
        email = check_email(email)
    except InvalidInput:
        return
    account = _account_by_email(conn, email)
    if account is None or not account["is_active"]:
        return
    recent = conn.execute(sa.select(account_token.c.id).where(
        account_token.c.user_id == account["id"], account_token.c.purpose == "reset",
        account_token.c.created_at > sa.func.now() - RESET_RESEND_AFTER)).first()
    if recent is not None:
        return
    token, expires_at = _issue(conn, account["id"], "reset", RESET_LIFETIME, None)
    subject, body = _reset_mail(link_for(public_url, "reset", token), expires_at)
    outbox.enqueue(conn, to_addr=account["email"], subject=subject, body=body,
                   key=f"account-reset-{account['id']}-{secrets.token_hex(8)}")
    _audit_everywhere(conn, By(account["email"], account["id"]), "account.reset_requested", account["id"],
                      account["email"])


# --- switching accounts off and on, revoking roles ------------------------------------------------

def _not_oneself(by: By, user_id: int, uk: str, en: str) -> None:
    if by.user_id is not None and by.user_id == user_id:
        raise Conflict(uk, en)


def deactivate(conn: sa.Connection, user_id: int, hromada_id: int | None, by: By) -> None:
    """Switch the account off: it cannot sign in, its sessions and personal API tokens stop at once
    (gis.users.load_user ignores it; the tokens are revoked), its open links stop working.

    ``hromada_id``: the administrator's hromada — the account must hold roles there (else 404) and
    nowhere else (else 409: revoke its roles here instead). ``None``: the operator or the CLI.
    Nobody switches off their own account. Idempotent.
    """
    account = _account(conn, user_id, lock=True)
    _roles_here(conn, user_id, hromada_id)
    _not_oneself(by, user_id, "Власний обліковий запис вимкнути не можна", "You cannot switch off your own account")
    if hromada_id is not None:
        elsewhere = [h for h in _grants(conn, user_id) if h != hromada_id]
        if elsewhere:
            raise Conflict("Цей працівник має ролі й в інших громадах (або є оператором): відкличте його ролі "
                           "в цій громаді замість вимкнення",
                           "This person also holds roles in other hromadas (or is an operator): revoke the roles "
                           "in this hromada instead of switching the account off")
    if not account["is_active"]:
        return
    # A new session epoch: sessions signed in before never come back, even after reactivation.
    conn.execute(app_user.update().where(app_user.c.id == user_id).values(
        is_active=False, session_epoch=app_user.c.session_epoch + 1))
    conn.execute(user_token.update().where(user_token.c.user_id == user_id, user_token.c.revoked_at.is_(None))
                 .values(revoked_at=sa.func.now()))
    _void_links(conn, user_id)
    _audit_everywhere(conn, by, "account.deactivate", user_id, account["email"])


def reactivate(conn: sa.Connection, user_id: int, hromada_id: int | None, by: By) -> None:
    """Switch the account on again (same scope rules as :func:`deactivate`). Its revoked API tokens
    stay revoked; a password it had works again. Idempotent."""
    account = _account(conn, user_id, lock=True)
    _roles_here(conn, user_id, hromada_id)
    if hromada_id is not None and [h for h in _grants(conn, user_id) if h != hromada_id]:
        raise Conflict("Цей працівник має ролі й в інших громадах: його вмикає оператор",
                       "This person also holds roles in other hromadas: the operator switches the account on")
    if account["is_active"]:
        return
    conn.execute(app_user.update().where(app_user.c.id == user_id).values(is_active=True))
    _audit_everywhere(conn, by, "account.reactivate", user_id, account["email"])


def revoke_roles(conn: sa.Connection, user_id: int, hromada_id: int, by: By) -> list[str]:
    """Take away every role the account holds in ``hromada_id`` and its memberships of that
    hromada's units; its roles in other hromadas stay. The roles taken; 404 when it held none."""
    account = _account(conn, user_id, lock=True)
    roles = sorted(_roles_here(conn, user_id, hromada_id))
    _not_oneself(by, user_id, "Власні ролі відкликати не можна: попросіть іншого адміністратора",
                 "You cannot revoke your own roles: ask another administrator")
    conn.execute(role_grant.delete().where(role_grant.c.user_id == user_id, role_grant.c.hromada_id == hromada_id))
    conn.execute(staff_membership.delete().where(
        staff_membership.c.user_id == user_id,
        staff_membership.c.unit_id.in_(sa.select(unit.c.id).where(unit.c.hromada_id == hromada_id))))
    if not _grants(conn, user_id):
        _void_links(conn, user_id)  # an invitation to nothing
    record(conn, by, "account.revoke_roles", hromada_id=hromada_id, object=account["email"], detail={"roles": roles})
    return roles


def list_staff(conn: sa.Connection, hromada_id: int) -> list[dict]:
    """Everyone holding a role in the hromada: id, email, name, roles there, units there, active,
    pending (invited, no password yet) with the invitation's expiry (None when it has expired)."""
    rows = conn.execute(sa.text("""
        SELECT u.id, u.email, u.full_name, u.is_active AS active, u.password_hash IS NULL AS pending,
               array_agg(DISTINCT g.role ORDER BY g.role) AS roles,
               (SELECT max(t.expires_at) FROM account_token t WHERE t.user_id = u.id AND t.purpose = 'invite'
                  AND t.used_at IS NULL AND t.expires_at > now()) AS invite_expires_at,
               coalesce((SELECT json_agg(json_build_object('id', un.id, 'code', un.code, 'name_uk', un.name_uk,
                                                           'name_en', un.name_en) ORDER BY un.name_uk)
                         FROM staff_membership m JOIN unit un ON un.id = m.unit_id
                         WHERE m.user_id = u.id AND un.hromada_id = :h), '[]') AS units
        FROM app_user u JOIN role_grant g ON g.user_id = u.id AND g.hromada_id = :h
        GROUP BY u.id ORDER BY lower(u.email)"""), {"h": hromada_id}).mappings()
    return [dict(r) for r in rows]


def accounts_units(conn: sa.Connection, hromada_id: int) -> list[sa.Row]:
    """The hromada's units that have staff accounts (for the invitation form)."""
    return conn.execute(sa.select(unit.c.id, unit.c.code, unit.c.name_uk, unit.c.name_en)
                        .where(unit.c.hromada_id == hromada_id, unit.c.has_accounts)
                        .order_by(unit.c.name_uk)).all()


# --- the operator ---------------------------------------------------------------------------------

def enable_hromada(conn: sa.Connection, katottg: str, by: By) -> int:
    """Let the hromada take reports (``hromada_setup.enabled_at``); its id. Already on: unchanged.
    404 when the hromada is not loaded (importers.communities.load_communities)."""
    place = hromada_by_katottg(conn, katottg)
    changed = conn.execute(sa.text("""
        INSERT INTO hromada_setup (hromada_id, enabled_at) VALUES (:h, now())
        ON CONFLICT (hromada_id) DO UPDATE SET enabled_at = now() WHERE hromada_setup.enabled_at IS NULL
        RETURNING hromada_id"""), {"h": place["id"]}).first()
    if changed is not None:
        record(conn, by, "hromada.enable", hromada_id=place["id"], object=place["katottg"])
    return place["id"]


def disable_hromada(conn: sa.Connection, katottg: str, by: By) -> int:
    """Stop the hromada taking new reports; its set-up, staff and reports stay. Its id."""
    place = hromada_by_katottg(conn, katottg)
    changed = conn.execute(hromada_setup.update().where(hromada_setup.c.hromada_id == place["id"],
                                                        hromada_setup.c.enabled_at.is_not(None))
                           .values(enabled_at=None).returning(hromada_setup.c.hromada_id)).first()
    if changed is not None:
        record(conn, by, "hromada.disable", hromada_id=place["id"], object=place["katottg"])
    return place["id"]


def appoint_admin(conn: sa.Connection, katottg: str, email: str, by: By, public_url: str,
                  full_name: str | None = None) -> Invitation:
    """The operator appoints a hromada's (first) administrator: an invitation with the role admin."""
    place = hromada_by_katottg(conn, katottg)
    return invite_with_link(conn, email=email, roles=["admin"], hromada_id=place["id"], by=by,
                            public_url=public_url, full_name=full_name)


def hromada_page(conn: sa.Connection, query: str = "", *, page: int = 1, per_page: int = 50) -> tuple[list[dict], int]:
    """One page of the loaded hromadas for the operator, found by name (uk/en, any part) or KATOTTG
    (its beginning); each with whether it takes reports and its administrators. (rows, total)."""
    query = (query or "").strip()[:200]
    where, params = "true", {}
    if query:
        like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where = "(h.name_uk ILIKE :like OR h.name_en ILIKE :like OR h.katottg ILIKE :prefix)"
        params = {"like": like, "prefix": like[1:].upper()}
    total = conn.execute(sa.text(f"SELECT count(*) FROM hromada h WHERE {where}"), params).scalar()
    rows = conn.execute(sa.text(f"""
        SELECT h.id, h.katottg, h.name_uk, h.name_en, h.oblast, h.raion, s.enabled_at,
               coalesce((SELECT array_agg(u.email ORDER BY lower(u.email)) FROM role_grant g
                         JOIN app_user u ON u.id = g.user_id
                         WHERE g.hromada_id = h.id AND g.role = 'admin'), '{{}}') AS admins
        FROM hromada h LEFT JOIN hromada_setup s ON s.hromada_id = h.id
        WHERE {where} ORDER BY h.name_uk, h.katottg LIMIT :limit OFFSET :offset"""),
        {**params, "limit": per_page, "offset": max(page - 1, 0) * per_page}).mappings()
    return [dict(r) for r in rows], total


def hromada_status(conn: sa.Connection, katottg: str) -> dict:
    """A hromada for the operator's page: its names, whether it takes reports, its staff."""
    place = hromada_by_katottg(conn, katottg)
    enabled_at = conn.execute(sa.select(hromada_setup.c.enabled_at)
                              .where(hromada_setup.c.hromada_id == place["id"])).scalar()
    return {**dict(place), "enabled_at": enabled_at, "staff": list_staff(conn, place["id"])}

