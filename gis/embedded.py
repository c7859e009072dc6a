"""Embedded PostGIS: a PostgreSQL cluster of the project's own, run from Debian's binaries.

The cluster lives in a data folder of its own (default ``var/postgres/``), listens on loopback
only, and is protected by a generated password kept beside the data (``<data>.password``, mode
0600). PostgreSQL refuses to run as root, so when started by root every server command runs as the
``postgres`` system user, which then owns the data folder.

Everything that can go wrong on a fresh machine — binaries or PostGIS missing, the port taken, a
folder made by another PostgreSQL version, a folder the ``postgres`` user cannot reach — is raised
as :class:`~gis.errors.DatabaseUnavailable` with a message that says what to do.
"""
from __future__ import annotations

import logging
import os
import pwd
import re
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from gis.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

SERVER_USER = "postgres"  # the system user that runs the server when we are root
DEFAULT_DBNAME = "hromada"
INSTALL_HINT_UK = "встановіть їх: make install (або apt-get install postgresql-15 postgresql-15-postgis-3)"
INSTALL_HINT_EN = "install them: make install (or apt-get install postgresql-15 postgresql-15-postgis-3)"


def find_postgres_bin(explicit: str | None = None) -> Path:
    """The newest ``/usr/lib/postgresql/<major>/bin`` whose PostGIS extension is installed.

    Raises DatabaseUnavailable when there is none.
    """
    explicit = explicit or os.environ.get("HROMADA_PGBIN")
    if explicit:
        candidates = [Path(explicit)]
    else:
        candidates = sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
            reverse=True,
        )
    with_server = [c for c in candidates if (c / "postgres").is_file() and (c / "initdb").is_file()]
    if not with_server:
        raise DatabaseUnavailable(
            f"Не знайдено програм PostgreSQL (шукали в {', '.join(map(str, candidates)) or '/usr/lib/postgresql'}); "
            + INSTALL_HINT_UK,
            f"PostgreSQL binaries not found (looked in {', '.join(map(str, candidates)) or '/usr/lib/postgresql'}); "
            + INSTALL_HINT_EN,
        )
    for bin_dir in with_server:
        if postgis_installed(bin_dir):
            return bin_dir
    major = with_server[0].parent.name
    raise DatabaseUnavailable(
        f"PostgreSQL {major} є, але розширення PostGIS для нього не встановлене; "
        f"встановіть його: apt-get install postgresql-{major}-postgis-3",
        f"PostgreSQL {major} is installed but its PostGIS extension is not; "
        f"install it: apt-get install postgresql-{major}-postgis-3",
    )


def postgis_installed(bin_dir: Path) -> bool:
    try:
        sharedir = subprocess.run(
            [str(bin_dir / "pg_config"), "--sharedir"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        sharedir = f"/usr/share/postgresql/{bin_dir.parent.name}"
    return (Path(sharedir) / "extension" / "postgis.control").is_file()


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nobody listens on ``port``. SO_REUSEADDR, as PostgreSQL itself uses, so connections
    still in TIME_WAIT from a server that just stopped do not count as taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port nobody listens on now (for throwaway test clusters)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ClusterStatus:
    data_dir: Path
    port: int
    initialized: bool
    running: bool
    pid: int | None
    version: str | None

    def describe(self, lang: str = "uk") -> str:
        if not self.initialized:
            return (
                f"не створено (тека {self.data_dir})" if lang == "uk"
                else f"not initialised (folder {self.data_dir})"
            )
        if self.running:
            return (
                f"працює: PostgreSQL {self.version}, pid {self.pid}, порт {self.port}, тека {self.data_dir}"
                if lang == "uk"
                else f"running: PostgreSQL {self.version}, pid {self.pid}, port {self.port}, folder {self.data_dir}"
            )
        return (
            f"зупинено: PostgreSQL {self.version}, тека {self.data_dir}" if lang == "uk"
            else f"stopped: PostgreSQL {self.version}, folder {self.data_dir}"
        )


FALLBACK_ROOT = Path("/var/lib/hromada-gis")  # where root's clusters go when the project folder is closed


def server_user_can_enter(folder: Path) -> bool:
    """Whether the server user can pass through every folder down to ``folder`` (or, for a folder
    not made yet, down to its nearest existing parent). Always true when we are not root: then the
    server runs as ourselves."""
    if os.geteuid() != 0:
        return True
    probe = Path(folder).resolve()
    while not probe.exists():
        probe = probe.parent
    try:
        pw = pwd.getpwnam(SERVER_USER)
    except KeyError:
        return True  # no such user: starting will say so with the install hint
    return subprocess.run(["test", "-x", str(probe)], user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                          cwd="/", capture_output=True).returncode == 0


def reachable_data_dir(preferred: Path) -> Path:
    """``preferred``, unless root runs us from a folder the server user cannot enter (a clone under
    /root, mode 0700 on Debian) and no cluster lives there yet: then a folder of this project's own
    under /var/lib/hromada-gis/, named after the project's path so two clones never share one.
    Nobody's folder permissions are changed."""
    preferred = Path(preferred).resolve()
    if (preferred / "PG_VERSION").is_file() or server_user_can_enter(preferred):
        return preferred
    import hashlib

    from gis.config import home_dir

    home = home_dir()
    tag = hashlib.sha256(str(home).encode()).hexdigest()[:10]
    fallback = FALLBACK_ROOT / f"{home.name}-{tag}" / preferred.name
    log.warning("the %s user cannot reach %s; using %s", SERVER_USER, preferred, fallback)
    fallback.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(FALLBACK_ROOT, 0o755)
    os.chmod(fallback.parent, 0o711)  # the server user passes through; only root lists it
    return fallback


class EmbeddedPostgres:
    """A PostgreSQL + PostGIS cluster in ``data_dir``, on ``127.0.0.1:port``.

    ``fast=True`` turns off durability (fsync, full-page writes) — for throwaway test clusters only.
    """

    def __init__(self, data_dir: Path | str, port: int, *, dbname: str = DEFAULT_DBNAME,
                 bin_dir: Path | None = None, fast: bool = False):
        self.data_dir = Path(data_dir).resolve()
        self.port = int(port)
        self.dbname = dbname
        self._bin_dir = bin_dir
        self.fast = fast

    # -- facts -------------------------------------------------------------------------------
    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = find_postgres_bin()
        return self._bin_dir

    @property
    def binaries_major(self) -> str:
        return self.bin_dir.parent.name

    @property
    def password_file(self) -> Path:
        return self.data_dir.with_name(self.data_dir.name + ".password")

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def data_version(self) -> str | None:
        try:
            return (self.data_dir / "PG_VERSION").read_text().strip()
        except OSError:
            return None

    def pid(self) -> int | None:
        """PID of the running postmaster, or None (stale pid files are ignored)."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
            pid = int(first)
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by another user
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def status(self) -> ClusterStatus:
        return ClusterStatus(self.data_dir, self.port, self.initialized(), self.running(),
                             self.pid(), self.data_version())

    def password(self) -> str:
        try:
            return self.password_file.read_text().strip()
        except OSError as exc:
            raise DatabaseUnavailable(
                f"Немає файлу пароля {self.password_file}; тека бази створена не цим проєктом",
                f"Password file {self.password_file} is missing; the data folder was not made by this project",
            ) from exc

    def url(self, dbname: str | None = None) -> str:
        return (f"postgresql+psycopg://postgres:{self.password()}@127.0.0.1:{self.port}/"
                f"{dbname or self.dbname}")

    # -- running commands as the right user ----------------------------------------------------
    def _as_server_user(self) -> dict:
        if os.geteuid() != 0:
            return {}
        try:
            pw = pwd.getpwnam(SERVER_USER)
        except KeyError as exc:
            raise DatabaseUnavailable(
                f"Немає системного користувача {SERVER_USER!r}; " + INSTALL_HINT_UK,
                f"There is no {SERVER_USER!r} system user; " + INSTALL_HINT_EN,
            ) from exc
        env = dict(os.environ, HOME=pw.pw_dir, USER=SERVER_USER, LOGNAME=SERVER_USER)
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": [], "env": env}

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        log.debug("running %s", cmd)
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/", **self._as_server_user())
        if check and proc.returncode != 0:
            raise DatabaseUnavailable(
                f"Команда {args[0]} завершилася з помилкою: {proc.stderr.strip() or proc.stdout.strip()}",
                f"{args[0]} failed: {proc.stderr.strip() or proc.stdout.strip()}",
            )
        return proc

    def _chown_to_server_user(self, path: Path) -> None:
        if os.geteuid() == 0:
            pw = pwd.getpwnam(SERVER_USER)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _check_reachable_by_server_user(self) -> None:
        """The server user must be able to enter every folder above the data folder."""
        if os.geteuid() != 0:
            return
        probe = subprocess.run(["test", "-w", str(self.data_dir)], **self._as_server_user())
        if probe.returncode != 0:
            raise DatabaseUnavailable(
                f"Користувач {SERVER_USER} не має доступу до теки {self.data_dir} (якась тека вище закрита); "
                "вкажіть іншу теку через HROMADA_PGDATA, наприклад /var/lib/hromada/postgres",
                f"The {SERVER_USER} user cannot reach {self.data_dir} (a folder above it is closed); "
                "choose another folder with HROMADA_PGDATA, e.g. /var/lib/hromada/postgres",
            )

    # -- life-cycle ------------------------------------------------------------------------------
    def _check_version(self) -> None:
        have = self.data_version()
        if have is not None and have != self.binaries_major:
            raise DatabaseUnavailable(
                f"Тека {self.data_dir} належить PostgreSQL {have}, а встановлено PostgreSQL "
                f"{self.binaries_major}; встановіть postgresql-{have} або вкажіть іншу теку (HROMADA_PGDATA)",
                f"Folder {self.data_dir} belongs to PostgreSQL {have}, but PostgreSQL "
                f"{self.binaries_major} is installed; install postgresql-{have} or choose another "
                "folder (HROMADA_PGDATA)",
            )

    def init(self) -> None:
        """Create the cluster (once). A no-op when the folder already holds one."""
        if self.initialized():
            self._check_version()
            return
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        if any(self.data_dir.iterdir()):
            raise DatabaseUnavailable(
                f"Тека {self.data_dir} не порожня і не є кластером PostgreSQL",
                f"Folder {self.data_dir} is not empty and is not a PostgreSQL cluster",
            )
        self._chown_to_server_user(self.data_dir)
        os.chmod(self.data_dir, 0o700)
        self._check_reachable_by_server_user()
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password + "\n")
        os.chmod(self.password_file, 0o600)
        # initdb reads the superuser password from a file the server user can read.
        pwfile = self.data_dir.parent / f".{self.data_dir.name}.pwfile"
        pwfile.write_text(password + "\n")
        self._chown_to_server_user(pwfile)
        os.chmod(pwfile, 0o600)
        try:
            args = ["initdb", "-D", str(self.data_dir), "-U", "postgres", "-E", "UTF8",
                    "--auth=scram-sha-256", f"--pwfile={pwfile}", "--locale=C.UTF-8"]
            if self.fast:
                args.append("--no-sync")
            self._run(*args)
        finally:
            pwfile.unlink(missing_ok=True)
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            # The socket lives in the data folder, so no system folder is needed; the path of a
            # Unix socket is limited to ~107 bytes, so a deep folder goes TCP-only.
            "unix_socket_directories": f"'{self.data_dir}'" if len(str(self.data_dir)) < 80 else "''",
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
        }
        if self.fast:
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# --- Hromada GIS embedded cluster ---\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")
        log.info("created PostgreSQL %s cluster in %s", self.binaries_major, self.data_dir)

    def start(self) -> None:
        """Initialise if needed, start the server, create the database with PostGIS. Idempotent."""
        _ = self.bin_dir  # fail early with the install hint
        self.init()
        if not self.running():
            self._check_version()
            self._set_port_in_config()
            if not port_is_free(self.port):
                raise DatabaseUnavailable(
                    f"Порт {self.port} на 127.0.0.1 зайнятий іншою програмою; "
                    "звільніть його або вкажіть інший через HROMADA_PGPORT",
                    f"Port {self.port} on 127.0.0.1 is taken by another program; "
                    "free it or choose another with HROMADA_PGPORT",
                )
            proc = self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file),
                             "-w", "-t", "60", "start", check=False)
            if proc.returncode != 0:
                raise DatabaseUnavailable(
                    f"PostgreSQL не запустився; кінець журналу {self.log_file}:\n{self._log_tail()}",
                    f"PostgreSQL did not start; end of {self.log_file}:\n{self._log_tail()}",
                )
        self.ensure_database(self.dbname)

    def _set_port_in_config(self) -> None:
        """Keep the configured port in step with HROMADA_PGPORT between runs."""
        conf = self.data_dir / "postgresql.auto.conf"
        text = conf.read_text() if conf.exists() else ""
        line = f"port = {self.port}"
        if re.search(rf"^{re.escape(line)}$", text, flags=re.M):
            return
        text = re.sub(r"^port = .*\n?", "", text, flags=re.M)
        conf.write_text(text + line + "\n")

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(журналу немає / no log)"

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if not self.running():
            return False
        self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-t", "60", "-m", "fast", "stop")
        return True

    def ensure_database(self, dbname: str) -> None:
        """Create ``dbname`` with the PostGIS extension if it does not exist yet."""
        import psycopg
        from psycopg import sql

        deadline = time.monotonic() + 30
        while True:
            try:
                admin = psycopg.connect(self.url("postgres").replace("+psycopg", ""), autocommit=True)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if not exists:
                admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'")
                              .format(sql.Identifier(dbname)))
        with psycopg.connect(self.url(dbname).replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def drop_database(self, dbname: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url("postgres").replace("+psycopg", ""), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
