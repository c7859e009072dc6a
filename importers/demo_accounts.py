"""Demo accounts, so a newcomer sees every side of the demo: its administrator, a unit's staff
member, a planner, and the platform's operator. Passwords are generated on first run and kept in
``var/demo-accounts.txt`` (mode 0600), which ``make run`` prints; they are never in the repository.
Only for the demo hromada; a real deployment invites its people (gis.accounts)."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from gis import config
from gis.models import app_user
from gis.users import create_user, grant_roles, hash_password


@dataclass(frozen=True)
class DemoAccount:
    email: str
    roles: tuple[str, ...]
    unit: str | None = None
    uk: str = ""
    en: str = ""


ACCOUNTS = (
    DemoAccount("admin@yakushynetska-demo.example.org", ("admin",), None,
                "адміністратор громади", "hromada administrator"),
    DemoAccount("housing-staff@yakushynetska-demo.example.org", ("unit_staff",), "housing",
                "працівник відділу ЖКГ (ями, сміття)", "housing department staff (potholes, bins)"),
    DemoAccount("lighting-staff@yakushynetska-demo.example.org", ("unit_staff",), "kp_blagoustrij",
                "працівник КП (освітлення)", "communal enterprise staff (street lights)"),
    DemoAccount("planner@yakushynetska-demo.example.org", ("planner",), None, "планувальник", "planner"),
    DemoAccount("operator@hromada-gis-demo.example.org", ("operator",), None,
                "оператор платформи", "platform operator"),
)


def accounts_file() -> Path:
    return config.var_dir() / "demo-accounts.txt"


def ensure_demo_accounts(engine: sa.Engine, path: Path | None = None) -> list[tuple[DemoAccount, str]]:
    """Create the demo accounts that are missing (or whose password is not in the file) and return
    every account with its password. Idempotent: a second run changes nothing."""
    path = path or accounts_file()
    known = _read(path)
    out = []
    with engine.begin() as conn:
        hromada_id = conn.execute(sa.text("SELECT id FROM hromada WHERE katottg = :k"),
                                  {"k": config.DEMO_KATOTTG}).scalar_one()
        for account in ACCOUNTS:
            password = known.get(account.email)
            user_id = conn.execute(sa.select(app_user.c.id).where(
                sa.func.lower(app_user.c.email) == account.email)).scalar()
            unit_ids = list(conn.execute(sa.text("SELECT id FROM unit WHERE hromada_id = :h AND code = :c"),
                                         {"h": hromada_id, "c": account.unit}).scalars()) if account.unit else []
            if user_id is None:
                password = password or secrets.token_urlsafe(12)
                create_user(conn, account.email, password, list(account.roles), hromada_id=hromada_id,
                            unit_ids=unit_ids, full_name=f"Демо: {account.uk}")
            else:
                if password is None:  # the file was lost: a new password, written below
                    password = secrets.token_urlsafe(12)
                    conn.execute(app_user.update().where(app_user.c.id == user_id)
                                 .values(password_hash=hash_password(password)))
                grant_roles(conn, user_id, list(account.roles), hromada_id=hromada_id, unit_ids=unit_ids)
            out.append((account, password))
    _write(path, out)
    return out


def _read(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    found = {}
    for line in lines:
        parts = line.split("\t")
        if len(parts) >= 2 and "@" in parts[0]:
            found[parts[0]] = parts[1]
    return found


def _write(path: Path, accounts: list[tuple[DemoAccount, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# Демо-облікові записи / demo accounts: e-mail<TAB>password<TAB>who\n")
        for account, password in accounts:
            f.write(f"{account.email}\t{password}\t{account.uk} / {account.en}\n")
    os.chmod(path, 0o600)


def describe(accounts: list[tuple[DemoAccount, str]], login_url: str) -> str:
    lines = [f"Увійти до демо / sign in to the demo: {login_url}  (паролі / passwords: {accounts_file()})"]
    for account, password in accounts:
        lines.append(f"  {account.uk} / {account.en}: {account.email}  {password}")
    return "\n".join(lines)
