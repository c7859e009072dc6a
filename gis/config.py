"""Settings read from the environment, in one place.

| variable | default | meaning |
|---|---|---|
| DATABASE_URL | (unset) | an external PostGIS; when set the embedded one is never started |
| HROMADA_HOME | the checkout; for an installed package, the current folder | where `var/` (secret key, \
demo accounts, rasters, the embedded cluster) and, beside it, `../shared/data` are |
| HROMADA_PGDATA | var/postgres | data folder of the embedded PostgreSQL cluster (when root runs the project \
from a folder the `postgres` user cannot enter, the default becomes \
/var/lib/hromada-gis/<project>-<hash>/postgres) |
| HROMADA_PGPORT | 5433 | loopback port of the embedded cluster |
| HROMADA_PGBIN | newest /usr/lib/postgresql/*/bin | PostgreSQL binaries |
| HROMADA_SHARED_DATA | ../shared/data | the team's shared data folder |
| HROMADA_DEFAULT_HROMADA | UA05020310000080026 | the hromada the public map opens on |
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_KATOTTG = "UA05020310000080026"  # Якушинецька сільська громада


def home_dir() -> Path:
    """HROMADA_HOME; else the checkout this code runs from; else (an installed wheel, whose code lives
    in site-packages) the current folder — never site-packages itself."""
    if os.environ.get("HROMADA_HOME"):
        return Path(os.environ["HROMADA_HOME"]).resolve()
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT
    return Path.cwd().resolve()


def var_dir() -> Path:
    """The service's own files: the secret key, demo accounts, rasters, the embedded cluster."""
    return home_dir() / "var"


def database_url_from_env() -> str | None:
    url = os.environ.get("DATABASE_URL", "").strip()
    return url or None


def pgdata_from_env() -> bool:
    return bool(os.environ.get("HROMADA_PGDATA"))


def pgdata_dir() -> Path:
    return Path(os.environ.get("HROMADA_PGDATA", var_dir() / "postgres")).resolve()


def pg_port() -> int:
    return int(os.environ.get("HROMADA_PGPORT", "5433"))


def shared_data_dir() -> Path:
    return Path(os.environ.get("HROMADA_SHARED_DATA", home_dir().parent / "shared" / "data")).resolve()


def default_hromada() -> str:
    return os.environ.get("HROMADA_DEFAULT_HROMADA", DEMO_KATOTTG)


def secret_key() -> str:
    """HROMADA_SECRET_KEY, else one generated once and kept in var/secret_key (mode 0600). Signs
    session cookies and the links in mails (the web app, the CLI and the mail worker alike)."""
    import secrets

    if os.environ.get("HROMADA_SECRET_KEY"):
        return os.environ["HROMADA_SECRET_KEY"]
    path = var_dir() / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()
