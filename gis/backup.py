"""Backups a hromada can restore: the database as PostgreSQL's custom-format dump plus the raster files,
in one ``.tar`` archive with a manifest of SHA-256 checksums (issue #20).

The archive holds::

    database.dump          pg_dump --format=custom of the whole database (report, heritage and
                           reconstruction photos are ``bytea`` columns, so they are in here)
    files/rasters/…        every file of the raster store (HROMADA_RASTER_DIR, default var/rasters)
    manifest.json          written last: when, which app version and Alembic revision, PostgreSQL
                           and PostGIS versions, and every other member with its size and SHA-256

:func:`restore` checks every member against the manifest before it touches anything, refuses a
database that already holds tables unless ``force``, creates PostGIS, runs ``pg_restore`` in one
transaction that stops at the first error, then puts the raster files back and checks the schema
revision. The client programs are the ones of the server's major version from Debian's
``/usr/lib/postgresql/<major>/bin`` (or a newer one); the password reaches them in ``PGPASSWORD``,
never on a command line. Framework-free: the CLI (``hromada db backup|restore``) only prints.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import lzma
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from gis.errors import HromadaError

log = logging.getLogger(__name__)

FORMAT = "hromada-gis-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DUMP = "database.dump"
RASTERS = "files/rasters"
CHUNK = 1024 * 1024
# What a database holds besides ours and still counts as empty: the system schemas; extension objects
# (PostGIS's spatial_ref_sys) are left out by their pg_depend entry.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


class BackupError(HromadaError):
    """A backup cannot be made or restored; the message says why and what to do."""

    http_status = 409
    code = "backup_failed"


# --- connecting the client programs ------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A database as the PostgreSQL client programs take it: a conninfo without the password, and
    the password for their environment."""

    conninfo: str
    password: str | None
    dbname: str

    @classmethod
    def from_url(cls, database_url: str) -> Target:
        from psycopg.conninfo import make_conninfo
        from sqlalchemy.engine import make_url

        url = make_url(database_url)
        params = {key: (value[-1] if isinstance(value, tuple) else value) for key, value in url.query.items()}
        for key, value in (("host", url.host), ("port", url.port), ("user", url.username),
                           ("dbname", url.database)):
            if value is not None:
                params[key] = str(value)
        params.pop("password", None)
        return cls(make_conninfo(**params), url.password, url.database or "")

    def env(self) -> dict:
        env = dict(os.environ)
        for key in ("PGPASSWORD", "PGDATABASE", "PGSERVICE", "PGOPTIONS"):
            env.pop(key, None)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env

    def connect(self, **kwargs):
        import psycopg

        return psycopg.connect(self.conninfo, password=self.password, **kwargs)


def client_bin(server_version_num: int, program: str) -> Path:
    """``program`` (pg_dump, pg_restore) of the server's major version, else the newest newer one
    installed (a newer client reads and writes older servers); BackupError when there is none."""
    major = server_version_num // 10000
    explicit = os.environ.get("HROMADA_PGBIN")
    candidates = [Path(explicit)] if explicit else []
    installed = sorted((p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()),
                       key=lambda p: int(p.parent.name))
    candidates += [p for p in installed if int(p.parent.name) == major]
    candidates += [p for p in installed if int(p.parent.name) > major]
    for bin_dir in candidates:
        if (bin_dir / program).is_file():
            if explicit and bin_dir == Path(explicit):
                # HROMADA_PGBIN is the embedded cluster's: use it only when it is as new as the server.
                version = bin_dir.parent.name
                if version.isdigit() and int(version) < major:
                    continue
            return bin_dir / program
    raise BackupError(
        f"Немає програми {program} для PostgreSQL {major}; встановіть її: apt-get install postgresql-client-{major}",
        f"There is no {program} for PostgreSQL {major}; install it: apt-get install postgresql-client-{major}")


def _database_errors(work):
    """A driver error (server gone, no right to create PostGIS…) as a BackupError: one clear message."""
    import functools

    @functools.wraps(work)
    def wrapper(*args, **kwargs):
        import psycopg

        try:
            return work(*args, **kwargs)
        except psycopg.Error as exc:
            detail = str(exc).strip()
            raise BackupError(f"Помилка бази даних: {detail}", f"Database error: {detail}") from exc

    return wrapper


def _run(cmd: list[str], target: Target, what_uk: str, what_en: str) -> subprocess.CompletedProcess:
    log.debug("running %s", cmd)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=target.env(), cwd="/")
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise BackupError(f"{what_uk}: {Path(cmd[0]).name} завершився з кодом {proc.returncode}:\n{detail}",
                          f"{what_en}: {Path(cmd[0]).name} exited with {proc.returncode}:\n{detail}")
    return proc


# --- facts about a database ----------------------------------------------------------------------


def server_facts(conn) -> dict:
    version, version_num = conn.execute(
        "SELECT current_setting('server_version'), current_setting('server_version_num')::int").fetchone()
    postgis = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()
    has_alembic = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()[0]
    revision = conn.execute("SELECT version_num FROM alembic_version").fetchone() if has_alembic else None
    return {"postgresql": version, "postgresql_version_num": version_num,
            "postgis": postgis[0] if postgis else None, "alembic_revision": revision[0] if revision else None}


def extension_rows(conn) -> dict[str, int]:
    """How many rows pg_dump takes from each extension's configuration table (PostGIS's
    spatial_ref_sys: only SRIDs added by hand, by the extension's own filter)."""
    from psycopg import sql

    out = {}
    for schema, table, condition in conn.execute("""
            SELECT n.nspname, c.relname, e.extcondition[i]
            FROM pg_extension e CROSS JOIN generate_subscripts(e.extconfig, 1) i
            JOIN pg_class c ON c.oid = e.extconfig[i] JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r'""").fetchall():
        out[f"{schema}.{table}"] = conn.execute(sql.SQL("SELECT count(*) FROM {} {}").format(
            sql.Identifier(schema, table), sql.SQL(condition or ""))).fetchone()[0]
    return out


def user_relations(conn) -> list[str]:
    """Tables, views and sequences of ours (not the system's, not an extension's), schema-qualified."""
    rows = conn.execute("""
        SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname <> ALL(%s) AND n.nspname NOT LIKE 'pg_temp%%'
          AND n.nspname NOT LIKE 'pg_toast%%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.deptype = 'e')
        ORDER BY 1""", (list(SYSTEM_SCHEMAS),)).fetchall()
    return [r[0] for r in rows]


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hromada-gis")
    except PackageNotFoundError:
        return "unknown"


def known_revisions() -> tuple[set[str], set[str]]:
    """Every Alembic revision this code knows, and its heads."""
    from alembic.script import ScriptDirectory

    from gis.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config(None))
    return {rev.revision for rev in script.walk_revisions()}, set(script.get_heads())


# --- checksums -------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _Hashing:
    """A file object that hashes what is read through it (tarfile reads members with ``read``)."""

    def __init__(self, fileobj):
        self.fileobj = fileobj
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.fileobj.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data


# --- backing up ---------------------------------------------------------------------------------


@dataclass
class BackupReport:
    path: Path
    manifest: dict

    @property
    def files(self) -> list[dict]:
        return self.manifest["files"]

    def summary(self, lang: str = "uk") -> str:
        size = self.path.stat().st_size
        rasters = sum(1 for f in self.files if f["path"].startswith(RASTERS + "/"))
        if lang == "en":
            return (f"backup {self.path}: {size / 1e6:.1f} MB, database {self.manifest['database']['name']} "
                    f"(revision {self.manifest['database']['alembic_revision']}), {rasters} raster file(s)")
        return (f"копія {self.path}: {size / 1e6:.1f} МБ, база {self.manifest['database']['name']} "
                f"(ревізія {self.manifest['database']['alembic_revision']}), растрових файлів: {rasters}")


def default_archive_name(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"hromada-backup-{now:%Y%m%dT%H%M%SZ}.tar"


def archive_path(to: str | Path) -> Path:
    """``to`` itself when it names a ``.tar`` file, else a dated archive name inside the folder ``to``."""
    to = Path(to)
    if to.suffix == ".tar" and not to.is_dir():
        return to
    return to / default_archive_name()


@_database_errors
def backup(database_url: str, to: str | Path, *, raster_dir: str | Path | None = None) -> BackupReport:
    """Back the database and the raster store up into one ``.tar`` archive; its report.

    ``to`` is the archive (``….tar``) or a folder for a dated one. The archive is written under a
    temporary name and renamed when complete, so a failed or interrupted backup leaves no archive
    that looks whole. Mode 0600: it holds residents' personal data and password hashes.
    """
    from importers.rasters import raster_store

    target = Target.from_url(database_url)
    raster_dir = Path(raster_dir) if raster_dir is not None else raster_store()
    out = archive_path(to)
    if out.exists():
        raise BackupError(f"Файл {out} уже є; копія не перезаписує інших — вкажіть іншу назву",
                          f"{out} exists already; a backup never overwrites one — choose another name")
    out.parent.mkdir(parents=True, exist_ok=True)
    with target.connect() as conn:
        facts = server_facts(conn)
        facts["extension_rows"] = extension_rows(conn)
    pg_dump = client_bin(facts["postgresql_version_num"], "pg_dump")
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "app_version": app_version(),
        "database": {"name": target.dbname, **facts, "pg_dump": str(pg_dump)},
        "raster_dir": str(raster_dir),
        "missing_rasters": [],
        "files": [],
    }
    work = Path(tempfile.mkdtemp(prefix=".hromada-backup-", dir=out.parent))
    partial = out.with_name(out.name + ".partial")
    try:
        dump = work / DUMP
        _run([str(pg_dump), "--format=custom", "--no-password", f"--file={dump}", f"--dbname={target.conninfo}"],
             target, "Не вдалося зробити дамп бази", "Could not dump the database")
        # Asked after the dump, so every raster of the dump is listed (rows are only added, and each
        # after its file was copied whole); a file no row names — an import that failed — is left out.
        rasters, missing = referenced_rasters(target, raster_dir)
        manifest["missing_rasters"] = missing
        if missing:
            log.warning("raster files listed in raster_dataset but missing from %s: %s", raster_dir, missing)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                manifest["files"].append(_add(tar, dump, DUMP))
                for rel in rasters:
                    manifest["files"].append(_add(tar, raster_dir / rel, f"{RASTERS}/{rel}"))
                data = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode, info.mtime = len(data), 0o600, int(dt.datetime.now().timestamp())
                tar.addfile(info, io.BytesIO(data))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return BackupReport(out, manifest)


def prune(folder: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` dated archives (``hromada-backup-*.tar``) in ``folder``; the
    ones deleted. Other files are never touched."""
    if keep < 1:
        raise BackupError("Треба залишати щонайменше одну копію (--keep 1 або більше)",
                          "At least one backup must be kept (--keep 1 or more)")
    archives = sorted(Path(folder).glob("hromada-backup-*Z.tar"), key=lambda p: p.name, reverse=True)
    for old in archives[keep:]:
        old.unlink()
    return archives[keep:]


def referenced_rasters(target: Target, raster_dir: Path) -> tuple[list[str], list[str]]:
    """The raster files the database names (``raster_dataset.file_path``, relative to the store) that
    are there, and those that are not."""
    with target.connect() as conn:
        if not conn.execute("SELECT to_regclass('raster_dataset') IS NOT NULL").fetchone()[0]:
            return [], []
        names = [r[0] for r in conn.execute("SELECT DISTINCT file_path FROM raster_dataset ORDER BY 1").fetchall()]
    present, missing = [], []
    root = raster_dir.resolve()
    for name in names:
        path = (raster_dir / name).resolve()
        inside = path.is_relative_to(root) and _safe_member_name(PurePosixPath(name).as_posix())
        (present if inside and path.is_file() else missing).append(PurePosixPath(name).as_posix())
    return present, missing


def _add(tar: tarfile.TarFile, path: Path, name: str) -> dict:
    """Add one file, hashing exactly the bytes written into the archive."""
    with open(path, "rb") as f:
        stat = os.fstat(f.fileno())
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = stat.st_size, 0o600, int(stat.st_mtime)
        reader = _Hashing(f)
        tar.addfile(info, reader)
    return {"path": name, "size": reader.size, "sha256": reader.digest.hexdigest()}


# --- checking ------------------------------------------------------------------------------------


def _damaged(name: str, why_uk: str, why_en: str) -> BackupError:
    return BackupError(f"Резервна копія пошкоджена або неповна: {name} — {why_uk}; відновлення не виконано",
                       f"The backup is damaged or incomplete: {name} — {why_en}; nothing was restored")


def _safe_member_name(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and name == path.as_posix()


def read_manifest(archive: str | Path) -> dict:
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"Файлу {archive} немає", f"There is no file {archive}")
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            try:
                member = tar.getmember(MANIFEST)
            except KeyError:
                raise _damaged(MANIFEST, "його немає в архіві", "it is not in the archive") from None
            manifest = json.load(tar.extractfile(member))
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise _damaged(archive.name, f"архів не читається ({exc})", f"the archive cannot be read ({exc})") from None
    except ValueError as exc:  # JSON
        raise _damaged(MANIFEST, f"не читається ({exc})", f"cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} — не резервна копія Hromada GIS", f"{archive} is not a Hromada GIS backup")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        made_by = manifest.get("app_version")
        raise BackupError(f"Копію зроблено новішою версією Hromada GIS ({made_by}); оновіть програму",
                          f"The backup was made by a newer Hromada GIS ({made_by}); upgrade first")
    files = manifest.get("files")
    if not isinstance(files, list) or not all(
            isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("size"), int)
            and isinstance(f.get("sha256"), str) for f in files) or not isinstance(manifest.get("database"), dict):
        raise _damaged(MANIFEST, "перелік файлів неповний", "the list of files is incomplete")
    return manifest


def verify(archive: str | Path, extract_to: str | Path | None = None) -> dict:
    """Check every member of the archive against the manifest (size and SHA-256; none missing, none
    extra); with ``extract_to``, write each member there as it is checked. The manifest; BackupError
    naming the first damaged file."""
    archive = Path(archive)
    manifest = read_manifest(archive)
    expected = {f["path"]: f for f in manifest["files"]}
    if DUMP not in expected:
        raise _damaged(DUMP, "його немає в переліку", "it is not in the manifest")
    seen: set[str] = set()
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                if member.name == MANIFEST:
                    continue
                entry = expected.get(member.name)
                if entry is None or not member.isfile() or not _safe_member_name(member.name):
                    raise _damaged(member.name, "зайвий файл, якого немає в переліку",
                                   "a file the manifest does not list")
                if member.name in seen:
                    raise _damaged(member.name, "файл у архіві двічі", "the file is in the archive twice")
                seen.add(member.name)
                digest = hashlib.sha256()
                source = tar.extractfile(member)
                out = None
                if extract_to is not None:
                    dest = Path(extract_to) / member.name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    out = open(dest, "wb")
                try:
                    size = 0
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        if out is not None:
                            out.write(chunk)
                finally:
                    if out is not None:
                        out.close()
                if size != entry["size"]:
                    raise _damaged(member.name, f"розмір {size} Б замість {entry['size']} Б",
                                   f"{size} bytes instead of {entry['size']}")
                if digest.hexdigest() != entry["sha256"]:
                    raise _damaged(member.name, "контрольна сума SHA-256 не збігається",
                                   "its SHA-256 checksum does not match")
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise _damaged(archive.name, f"архів не читається ({exc})", f"the archive cannot be read ({exc})") from None
    for name in expected:
        if name not in seen:
            raise _damaged(name, "його немає в архіві", "it is missing from the archive")
    return manifest


# --- restoring --------------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    archive: Path
    manifest: dict
    revision: str | None
    files: int
    notes_uk: list[str] = field(default_factory=list)
    notes_en: list[str] = field(default_factory=list)

    def summary(self, lang: str = "uk") -> str:
        made, version = self.manifest.get("created_at"), self.manifest.get("app_version")
        if lang == "en":
            return "\n".join([f"restored {self.archive.name} (made {made}, app {version}): "
                              f"database at revision {self.revision}, {self.files} raster file(s)", *self.notes_en])
        return "\n".join([f"відновлено {self.archive.name} (зроблено {made}, версія {version}): "
                          f"база на ревізії {self.revision}, растрових файлів: {self.files}", *self.notes_uk])


def _ensure_database(target: Target) -> None:
    """Create the database when the server has none by that name (as the embedded cluster would)."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        target.connect().close()
        return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise BackupError(f"База недоступна: {exc}", f"The database is unreachable: {exc}") from None
    params = conninfo_to_dict(target.conninfo)
    params["dbname"] = "postgres"
    with psycopg.connect(make_conninfo(**params), password=target.password, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'")
                      .format(sql.Identifier(target.dbname)))


def _empty_out(conn) -> None:
    """Drop everything of ours: every non-system schema (CASCADE: PostGIS in public too), then the
    public schema made again. Only with ``force``."""
    from psycopg import sql

    schemas = [r[0] for r in conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname <> ALL(%s) AND nspname NOT LIKE 'pg_%%'",
        (list(SYSTEM_SCHEMAS),)).fetchall()]
    for schema in schemas:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    for (ext,) in conn.execute("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'").fetchall():
        conn.execute(sql.SQL("DROP EXTENSION IF EXISTS {} CASCADE").format(sql.Identifier(ext)))
    conn.execute("CREATE SCHEMA public")
    conn.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")


@_database_errors
def restore(archive: str | Path, database_url: str, *, force: bool = False,
            raster_dir: str | Path | None = None) -> RestoreReport:
    """Restore a :func:`backup` archive into ``database_url`` and the raster store.

    Nothing is touched until every checksum has been verified and the dump's table of contents read.
    A database that holds tables is refused unless ``force``, which drops everything in it first.
    ``pg_restore`` runs in one transaction that stops at the first error (``--no-owner
    --no-privileges``: the objects belong to the role restoring, the service's own).
    """
    from importers.rasters import raster_store

    archive = Path(archive)
    target = Target.from_url(database_url)
    raster_dir = Path(raster_dir) if raster_dir is not None else raster_store()
    # Staging beside the raster store, so its files are moved into place, not copied twice.
    raster_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".hromada-restore-", dir=raster_dir.parent))
    try:
        manifest = verify(archive, extract_to=stage)
        revision = manifest["database"].get("alembic_revision")
        known, heads = known_revisions()
        if revision is not None and revision not in known:
            raise BackupError(
                f"Копію зроблено версією {manifest.get('app_version')} зі схемою {revision}, якої ця версія "
                "програми не знає; встановіть ту саму або новішу версію Hromada GIS",
                f"The backup was made by version {manifest.get('app_version')} with schema revision {revision}, "
                "which this version does not know; install that or a newer Hromada GIS")
        _ensure_database(target)
        with target.connect(autocommit=True) as conn:
            facts = server_facts(conn)
            ours = user_relations(conn)
            if ours and not force:
                raise BackupError(
                    f"База {target.dbname} не порожня ({len(ours)} таблиць тощо, напр. {ours[0]}); щоб замінити "
                    "її вміст копією, додайте --force",
                    f"Database {target.dbname} is not empty ({len(ours)} tables and such, e.g. {ours[0]}); "
                    "to replace its contents with the backup, add --force")
            available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone()
            if not available:
                raise BackupError(
                    f"На сервері немає розширення PostGIS; встановіть його: apt-get install "
                    f"postgresql-{facts['postgresql_version_num'] // 10000}-postgis-3",
                    f"The server has no PostGIS extension; install it: apt-get install "
                    f"postgresql-{facts['postgresql_version_num'] // 10000}-postgis-3")
        pg_restore = client_bin(max(facts["postgresql_version_num"],
                                    int(manifest["database"].get("postgresql_version_num") or 0)), "pg_restore")
        dump = stage / DUMP
        listing = _run([str(pg_restore), "--list", str(dump)], target,
                       "Дамп бази не читається", "The database dump cannot be read").stdout
        toc = stage / "restore.list"
        toc.write_text("".join(line for line in listing.splitlines(keepends=True)
                               if not _superuser_only(line, manifest["database"].get("extension_rows"))))
        with target.connect(autocommit=True) as conn:
            if force:
                with conn.transaction():
                    _empty_out(conn)
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        _run([str(pg_restore), "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
              "--no-password", f"--use-list={toc}", f"--dbname={target.conninfo}", str(dump)], target,
             "Не вдалося відновити базу" + (" (її вміст уже видалено через --force; виправте причину й повторіть)"
                                             if force else " (нічого не змінено)"),
             "Could not restore the database" + (" (its old contents were dropped by --force; fix the cause and "
                                                 "run again)" if force else " (nothing was changed)"))
        files = _put_files_back(stage, raster_dir)
        with target.connect() as conn:
            restored = server_facts(conn)["alembic_revision"]
        report = RestoreReport(archive, manifest, restored, files)
        if restored != revision:
            raise BackupError(f"Після відновлення схема на ревізії {restored}, а в копії {revision}",
                              f"After restoring, the schema is at revision {restored}, the backup says {revision}")
        if restored is not None and restored not in heads:
            report.notes_uk.append(f"схема {restored} старша за цю версію програми: виконайте hromada db migrate")
            report.notes_en.append(f"schema {restored} is older than this version: run hromada db migrate")
        if manifest.get("missing_rasters"):
            missing = ", ".join(manifest["missing_rasters"])
            report.notes_uk.append(f"у копії бракувало растрів: {missing}")
            report.notes_en.append(f"rasters missing when the backup was made: {missing}")
        return report
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _superuser_only(toc_line: str, extension_rows: dict | None) -> bool:
    """Whether a line of ``pg_restore --list`` is left out: a comment on an extension (only its owner, a
    superuser, may set one, and CREATE EXTENSION sets the same), and the rows of an extension's
    configuration table when the backup says there were none (PostGIS's spatial_ref_sys without SRIDs
    added by hand), so the service's own role, not a superuser, can restore."""
    if re.match(r"^\d+; \d+ \d+ COMMENT - EXTENSION ", toc_line):
        return True
    data = re.match(r"^\d+; \d+ \d+ TABLE DATA (\S+) (\S+) ", toc_line)
    if data and extension_rows:
        schema, table = data.groups()
        return extension_rows.get(f"{schema}.{table}") == 0
    return False


def _put_files_back(stage: Path, raster_dir: Path) -> int:
    count = 0
    source = stage / RASTERS
    if not source.is_dir():
        return 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        dest = raster_dir / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)
        count += 1
    return count
