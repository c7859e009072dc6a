"""Backups a hromada can restore (#20): the demo with reports and photos is backed up, restored into an
empty database of another cluster, and every table and file compared; a damaged or incomplete archive
is refused naming the file and changes nothing; a database with tables is replaced only with --force."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from PIL import Image
from psycopg import sql
from sqlalchemy.engine import make_url

from gis import backup
from gis.config import DEMO_KATOTTG
from gis.embedded import EmbeddedPostgres, free_port
from gis.errors import HromadaError
from gis.photos import process_photo
from layers import heritage, reports
from layers.reports import NewReport
from tests.helpers import asset_point, inside


def jpeg(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, format="JPEG")
    return out.getvalue()


def add_reports_and_photos(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("""INSERT INTO hromada_setup (hromada_id, enabled_at)
                                SELECT id, now() FROM hromada WHERE katottg = :k
                                ON CONFLICT (hromada_id) DO UPDATE
                                SET enabled_at = COALESCE(hromada_setup.enabled_at, now())"""), {"k": DEMO_KATOTTG})
    where = [asset_point(engine, "road_segment", "вул. Садова"), inside(engine, "Зарванці")]
    for n, (lon, lat) in enumerate(where):
        with engine.begin() as conn:
            reports.create_report(conn, NewReport(
                lon=lon, lat=lat, category="pothole", description=f"Яма №{n} — «лапки» і 'апостроф'\nрядок",
                name="Олена", email=f"olena{n}@example.org",
                photos=[process_photo(jpeg((120, 90 + n, 60))), process_photo(jpeg((10, 20, 30 + n)))]),
                public_url="https://gis.example.org")
    with engine.begin() as conn:
        object_id = conn.execute(sa.text("SELECT min(id) FROM heritage_object")).scalar()
        if object_id is not None:
            heritage.add_photo(conn, object_id, jpeg((200, 10, 10)), caption="Фасад")


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def snapshot(url: str) -> dict:
    """Every table of ours: row count and a hash of its rows; every sequence's position; the triggers,
    indexes and views by name."""
    out = {}
    with psycopg.connect(plain(url)) as conn:
        for name in backup.user_relations(conn):
            schema, rel = name.split(".", 1)
            ident = sql.Identifier(schema, rel)
            kind = conn.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", (name,)).fetchone()[0]
            if kind in ("r", "p"):
                out[name] = conn.execute(sql.SQL("SELECT count(*), md5(string_agg(t::text, '' ORDER BY t::text)) "
                                                 "FROM {} t").format(ident)).fetchone()
            elif kind == "S":
                out[name] = conn.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(ident)).fetchone()
            else:
                out[name] = kind
        out["triggers"] = sorted(r[0] for r in conn.execute(
            "SELECT tgrelid::regclass || '.' || tgname FROM pg_trigger WHERE NOT tgisinternal").fetchall())
        out["indexes"] = sorted(r[0] for r in conn.execute(
            "SELECT schemaname || '.' || indexname FROM pg_indexes "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')").fetchall())
    return out


def files(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def relations(url: str) -> list[str]:
    with psycopg.connect(plain(url)) as conn:
        return backup.user_relations(conn)


def damaged_copy(archive: Path, member: str, out: Path) -> Path:
    """The archive with one byte of ``member``'s content changed."""
    with tarfile.open(archive) as tar:
        info = tar.getmember(member)
    data = bytearray(archive.read_bytes())
    data[info.offset_data + info.size // 2] ^= 0x01
    out.write_bytes(bytes(data))
    return out


def without_member(archive: Path, member: str, out: Path) -> Path:
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for info in src:
            if info.name != member:
                dst.addfile(info, src.extractfile(info))
    return out


def with_manifest(archive: Path, out: Path, change) -> Path:
    """The archive with its manifest changed by ``change(manifest)`` (the files as they were)."""
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for info in src:
            data = src.extractfile(info).read()
            if info.name == backup.MANIFEST:
                manifest = json.loads(data)
                change(manifest)
                data = json.dumps(manifest).encode()
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


def test_a_backup_restores_into_an_empty_cluster_with_every_table_and_file(
        demo_db, database_url, raster_store, scratch_cluster, tmp_path):
    add_reports_and_photos(demo_db)
    with demo_db.begin() as conn:  # an SRID added by hand is kept; PostGIS's own come with the extension
        conn.execute(sa.text("INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, proj4text) "
                             "VALUES (990001, 'LOCAL', 1, '+proj=longlat +ellps=krass +no_defs')"))
    with demo_db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM report_photo")).scalar() >= 4
        assert conn.execute(sa.text("SELECT count(*) FROM raster_dataset")).scalar() >= 1
    with demo_db.connect() as conn:
        referenced = set(conn.execute(sa.text("SELECT file_path FROM raster_dataset")).scalars())
    stored = {name: digest for name, digest in files(raster_store).items() if name in referenced}
    assert stored and stored.keys() == referenced, "the demo's rasters are in the raster store"
    orphan = raster_store / "coverage_rasters" / "half-copied-by-an-import-that-failed.tif"
    orphan.write_bytes(b"II*\0")
    try:
        made = backup.backup(database_url, tmp_path / "backups")
    finally:
        orphan.unlink()  # the raster store is the session's
    archive = made.path
    assert archive.parent == tmp_path / "backups" and archive.name.startswith("hromada-backup-")
    assert archive.suffix == ".tar" and (archive.stat().st_mode & 0o777) == 0o600
    assert not list(archive.parent.glob(".hromada-backup-*")) and not list(archive.parent.glob("*.partial"))
    manifest = made.manifest
    assert manifest["database"]["alembic_revision"] and manifest["database"]["postgis"]
    assert manifest["database"]["postgresql"] and manifest["created_at"] and manifest["app_version"]
    assert manifest["database"]["extension_rows"] == {"public.spatial_ref_sys": 1}
    with tarfile.open(archive) as tar:
        assert tar.getnames()[0] == backup.DUMP and tar.getnames()[-1] == backup.MANIFEST
        assert json.load(tar.extractfile(backup.MANIFEST)) == manifest
        for entry in manifest["files"]:
            content = tar.extractfile(entry["path"]).read()
            assert len(content) == entry["size"] and hashlib.sha256(content).hexdigest() == entry["sha256"]
    listed = {f["path"] for f in manifest["files"]}
    compressed = tmp_path / "compressed.tar.gz"
    compressed.write_bytes(gzip.compress(archive.read_bytes(), compresslevel=1))
    assert backup.verify(compressed) == manifest  # an archive gzipped afterwards is read as it is
    assert listed == {backup.DUMP} | {f"{backup.RASTERS}/{name}" for name in referenced}

    scratch_cluster.start()
    target_url = scratch_cluster.url()
    restored_rasters = tmp_path / "restored" / "rasters"
    assert relations(target_url) == []

    # A damaged archive is refused, naming the file, and nothing is changed.
    raster_member = next(name for name in sorted(listed) if name.startswith(backup.RASTERS))
    damaged = [
        (damaged_copy(archive, backup.DUMP, tmp_path / "dump.tar"), backup.DUMP),
        (damaged_copy(archive, raster_member, tmp_path / "raster.tar"), raster_member),
        (without_member(archive, raster_member, tmp_path / "missing.tar"), raster_member),
        (without_member(archive, backup.MANIFEST, tmp_path / "no-manifest.tar"), backup.MANIFEST),
    ]
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    damaged.append((truncated, "truncated.tar"))
    for bad, name in damaged:
        with pytest.raises(backup.BackupError) as refused:
            backup.restore(bad, target_url, raster_dir=restored_rasters)
        assert name in refused.value.en and name in refused.value.uk, refused.value.en
        assert "damaged or incomplete" in refused.value.en
        assert relations(target_url) == []
        assert not restored_rasters.exists() or files(restored_rasters) == {}
        assert not list(restored_rasters.parent.glob(".hromada-restore-*"))

    report = backup.restore(archive, target_url, raster_dir=restored_rasters)
    assert report.revision == manifest["database"]["alembic_revision"]
    assert report.files == len(listed) - 1
    source, copy = snapshot(database_url), snapshot(target_url)
    assert source.keys() == copy.keys()
    assert {name: copy[name] for name in source if copy[name] != source[name]} == {}
    assert source["public.report_photo"][0] >= 4
    assert files(restored_rasters) == stored
    assert not list(restored_rasters.parent.glob(".hromada-restore-*"))
    with psycopg.connect(plain(target_url)) as conn:
        assert conn.execute("SELECT auth_name FROM spatial_ref_sys WHERE srid = 990001").fetchone() == ("LOCAL",)

    # Over a database with tables: refused without force, replaced with it.
    with psycopg.connect(plain(target_url), autocommit=True) as conn:
        conn.execute("DELETE FROM report_photo")
        conn.execute("CREATE TABLE stray (id int)")
    with pytest.raises(backup.BackupError, match="not empty.*--force"):
        backup.restore(archive, target_url, raster_dir=restored_rasters)
    with psycopg.connect(plain(target_url)) as conn:
        assert conn.execute("SELECT count(*) FROM report_photo").fetchone()[0] == 0
    backup.restore(archive, target_url, raster_dir=restored_rasters, force=True)
    assert snapshot(target_url) == source
    assert files(restored_rasters) == stored


def test_the_cli_backs_up_and_restores(demo_db, database_url, raster_store, tmp_path, monkeypatch):
    from webmap.cli import main

    add_reports_and_photos(demo_db)
    runner = CliRunner()
    monkeypatch.setenv("DATABASE_URL", database_url)
    made = runner.invoke(main, ["db", "backup", "--to", str(tmp_path / "one.tar")])
    assert made.exit_code == 0, made.output
    assert "копія" in made.output and "backup" in made.output
    archive = tmp_path / "one.tar"
    assert archive.is_file()
    exists = runner.invoke(main, ["db", "backup", "--to", str(archive)])
    assert exists.exit_code == 1 and "never overwrites" in exists.output

    # --keep: the newest dated archives stay, other files are never touched.
    folder = tmp_path / "dated"
    folder.mkdir()
    for old in ("hromada-backup-20250101T000000Z.tar", "hromada-backup-20250102T000000Z.tar", "notes.txt"):
        (folder / old).write_text("old")
    kept = runner.invoke(main, ["db", "backup", "--to", str(folder), "--keep", "2"])
    assert kept.exit_code == 0, kept.output
    assert "hromada-backup-20250101T000000Z.tar" in kept.output
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 3 and names[0] == "hromada-backup-20250102T000000Z.tar" and names[-1] == "notes.txt"

    # Into a new database on the same server, another raster store.
    name = f"{make_url(database_url).database}_restored"
    target_url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    admin = psycopg.connect(plain(make_url(database_url).set(database="postgres")
                                  .render_as_string(hide_password=False)), autocommit=True)
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    rasters = tmp_path / "other-var" / "rasters"
    monkeypatch.setenv("DATABASE_URL", target_url)
    monkeypatch.setenv("HROMADA_RASTER_DIR", str(rasters))
    try:
        restored = runner.invoke(main, ["db", "restore", str(archive)])  # the database is made too
        assert restored.exit_code == 0, restored.output
        assert "відновлено" in restored.output and "restored" in restored.output
        assert snapshot(target_url) == snapshot(database_url)
        with demo_db.connect() as conn:
            referenced = set(conn.execute(sa.text("SELECT file_path FROM raster_dataset")).scalars())
        assert referenced and files(rasters) == {k: v for k, v in files(raster_store).items() if k in referenced}

        again = runner.invoke(main, ["db", "restore", str(archive)])
        assert again.exit_code == 1
        assert "Помилка:" in again.output and "не порожня" in again.output and "--force" in again.output
        assert "Traceback" not in again.output

        forced = runner.invoke(main, ["db", "restore", str(archive), "--force"])
        assert forced.exit_code == 0, forced.output
        assert snapshot(target_url) == snapshot(database_url)

        broken = damaged_copy(archive, backup.DUMP, tmp_path / "broken.tar")
        refused = runner.invoke(main, ["db", "restore", str(broken), "--force"])
        assert refused.exit_code == 1 and backup.DUMP in refused.output and "SHA-256" in refused.output
        assert snapshot(target_url) == snapshot(database_url)

        missing = runner.invoke(main, ["db", "restore", str(tmp_path / "nothing.tar")])
        assert missing.exit_code == 1 and "nothing.tar" in missing.output

        newer = with_manifest(archive, tmp_path / "newer.tar", lambda m: m["database"].update(alembic_revision="9999"))
        refused = runner.invoke(main, ["db", "restore", str(newer), "--force"])
        assert refused.exit_code == 1 and "9999" in refused.output and "does not know" in refused.output
        assert snapshot(target_url) == snapshot(database_url)

        monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:1/hromada")
        unreachable = runner.invoke(main, ["db", "restore", str(archive)])
        assert unreachable.exit_code == 1 and "unreachable" in unreachable.output
        assert "Traceback" not in unreachable.output and "secret" not in unreachable.output
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def test_a_password_never_reaches_a_command_line(monkeypatch):
    target = backup.Target.from_url("postgresql+psycopg://hromada:s3cret@db.example.org:5432/hromada?sslmode=require")
    assert "s3cret" not in target.conninfo
    assert "sslmode=require" in target.conninfo and "host=db.example.org" in target.conninfo
    assert target.env()["PGPASSWORD"] == "s3cret"


def test_an_unusable_target_is_a_clear_error(tmp_path):
    with pytest.raises(HromadaError, match="There is no file"):
        backup.restore(tmp_path / "absent.tar", "postgresql+psycopg://u:p@127.0.0.1:1/x",
                       raster_dir=tmp_path / "r")


def test_wal_archiving_recovers_to_a_point_in_time(scratch_cluster, monkeypatch):
    """The README's continuous archiving and point-in-time recovery, on a cluster of its own: a base
    backup, WAL archived with archive_command, recovery with restore_command to recovery_target_time,
    paused there, then ended with pg_wal_replay_resume()."""
    cluster = scratch_cluster
    folder = cluster.data_dir.parent
    wal, copy = folder / "wal-archive", folder / "recovered"
    wal.mkdir()
    cluster._chown_to_server_user(wal)
    cluster._chown_to_server_user(folder)  # pg_basebackup, run as the server user, makes `recovered` here
    cluster.init()
    with open(cluster.data_dir / "postgresql.conf", "a") as conf:
        conf.write(f"wal_level = replica\narchive_mode = on\n"
                   f"archive_command = 'test ! -f {wal}/%f && cp %p {wal}/%f'\n")
    cluster.start()
    monkeypatch.setenv("PGPASSWORD", cluster.password())  # the client programs' only way to the password
    url = plain(cluster.url())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (what text)")
    cluster._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres",
                 "-D", str(copy), "-Fp", "-X", "stream", "-c", "fast")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO t VALUES ('before')")
        target = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        conn.execute("SELECT pg_sleep(0.1)")
        conn.execute("INSERT INTO t VALUES ('after')")
        segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
        deadline = time.monotonic() + 30
        while (conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()[0] or "") < segment:
            assert time.monotonic() < deadline, "the WAL was not archived"
            time.sleep(0.1)
    cluster.stop()

    recovered = EmbeddedPostgres(copy, free_port(), fast=True)
    shutil.copy(cluster.password_file, recovered.password_file)
    with open(copy / "postgresql.conf", "a") as conf:
        conf.write(f"port = {recovered.port}\nunix_socket_directories = ''\narchive_mode = off\n"
                   f"restore_command = 'cp {wal}/%f %p'\nrecovery_target_time = '{target.isoformat()}'\n"
                   "recovery_target_action = 'pause'\n")
    (copy / "postgresql.auto.conf").write_text("")
    (copy / "recovery.signal").touch()
    try:
        recovered._run("pg_ctl", "-D", str(copy), "-l", str(recovered.log_file), "-w", "-t", "60", "start")
        with psycopg.connect(plain(recovered.url()), autocommit=True) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
            assert [r[0] for r in conn.execute("SELECT what FROM t").fetchall()] == ["before"]
            conn.execute("SELECT pg_wal_replay_resume()")
            deadline = time.monotonic() + 30
            while conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                assert time.monotonic() < deadline, "recovery did not end"
                time.sleep(0.1)
            conn.execute("INSERT INTO t VALUES ('new')")
            assert sorted(r[0] for r in conn.execute("SELECT what FROM t").fetchall()) == ["before", "new"]
    finally:
        recovered.stop()


def test_a_role_that_is_not_superuser_restores_into_its_own_database(demo_db, database_url, tmp_path):
    """As on a real server: the service's role owns the database, PostGIS was created by a superuser."""
    made = backup.backup(database_url, tmp_path / "b.tar")
    assert made.manifest["database"]["extension_rows"] == {"public.spatial_ref_sys": 0}
    archive = made.path
    suffix = make_url(database_url).database
    role, name, password = f"{suffix}_app", f"{suffix}_owned", "app-Пароль_1@x:y"
    admin_url = plain(make_url(database_url).set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        try:
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role),
                                                                           sql.Literal(password)))
        except psycopg.errors.InsufficientPrivilege:
            pytest.skip("the test role may not create roles")
        try:
            admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(role)))
            owned = make_url(database_url).set(database=name)
            with psycopg.connect(plain(owned.render_as_string(hide_password=False)), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION postgis")
            target_url = owned.set(username=role, password=password).render_as_string(hide_password=False)
            with psycopg.connect(plain(target_url)) as conn:
                assert not conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
            backup.restore(archive, target_url, raster_dir=tmp_path / "rasters")
            assert snapshot(target_url) == snapshot(database_url)
            with psycopg.connect(plain(target_url)) as conn:
                assert conn.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE tablename = 'report'"
                                    ).fetchall() == [(role,)]
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
