"""A streaming read replica of the embedded cluster (README "Running several processes").

:func:`start_replica` makes the primary ready for streaming replication — ``wal_level = replica`` and
``max_wal_senders`` (PostgreSQL 15's defaults already; a restart only when someone lowered them), a
``hromada_replication`` role with its own generated password (``<data>.replication-password``), a
``host replication`` rule for loopback in pg_hba.conf — then copies it with ``pg_basebackup -R`` through a
physical replication slot into a data folder of its own (by default ``<primary data>-replica``), where the
copy starts as a hot standby on its own port. The slot keeps the WAL the replica still needs while it is
stopped; :func:`drop_replica` removes the folder and the slot (a forgotten slot would keep WAL for ever).

The replica has the primary's superuser and password (it is a copy of it): ``replica.url()`` works as for
the primary. As root, every server command runs as the ``postgres`` user, as for the primary; the replica's
folder sits beside the primary's, which that user can already reach.
"""
from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from pathlib import Path

from gis.embedded import EmbeddedPostgres, free_port, port_is_free
from gis.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

REPLICATION_ROLE = "hromada_replication"
SLOT_PREFIX = "hromada_replica"


def replica_dir_for(primary: EmbeddedPostgres) -> Path:
    return primary.data_dir.with_name(primary.data_dir.name + "-replica")


def slot_name(replica_dir: Path) -> str:
    """One slot per replica folder: ``hromada_replica_<8 hex>`` from the folder's path."""
    import hashlib

    return f"{SLOT_PREFIX}_{hashlib.sha256(str(Path(replica_dir).resolve()).encode()).hexdigest()[:8]}"


def _admin(primary: EmbeddedPostgres):
    import psycopg

    return psycopg.connect(primary.url("postgres").replace("+psycopg", ""), autocommit=True)


def replication_password(primary: EmbeddedPostgres) -> str:
    path = primary.data_dir.with_name(primary.data_dir.name + ".replication-password")
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24) + "\n")
        os.chmod(path, 0o600)
    return path.read_text().strip()


def prepare_primary(primary: EmbeddedPostgres) -> None:
    """Make the (running) primary able to stream to replicas; restarts it only when wal_level or
    max_wal_senders must change (they need a restart)."""
    from psycopg import sql

    primary.start()
    password = replication_password(primary)
    with _admin(primary) as admin:
        restart = False
        if admin.execute("SHOW wal_level").fetchone()[0] not in ("replica", "logical"):
            admin.execute("ALTER SYSTEM SET wal_level = replica")
            restart = True
        if int(admin.execute("SHOW max_wal_senders").fetchone()[0]) < 4:
            admin.execute("ALTER SYSTEM SET max_wal_senders = 10")
            restart = True
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (REPLICATION_ROLE,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        admin.execute(sql.SQL(verb + " ROLE {} WITH REPLICATION LOGIN PASSWORD {}").format(
            sql.Identifier(REPLICATION_ROLE), sql.Literal(password)))
        # initdb's pg_hba.conf lets replication in from loopback already; one written by hand may not.
        rule = admin.execute(
            "SELECT 1 FROM pg_hba_file_rules WHERE type = 'host' AND 'replication' = ANY(database) "
            "AND (address IS NULL OR address = '127.0.0.1' OR address = 'all') AND error IS NULL").fetchone()
        if rule is None:
            hba = Path(admin.execute("SHOW hba_file").fetchone()[0])
            _append_as_server_user(primary, hba,
                                   f"\n# Hromada GIS: streaming replicas on loopback\n"
                                   f"host replication {REPLICATION_ROLE} 127.0.0.1/32 scram-sha-256\n")
            admin.execute("SELECT pg_reload_conf()")
    if restart:
        log.info("restarting the primary in %s for streaming replication", primary.data_dir)
        primary.stop()
        primary.start()


def _append_as_server_user(cluster: EmbeddedPostgres, path: Path, text: str) -> None:
    with open(path, "a") as out:  # root may write it; ownership stays as it was
        out.write(text)


def start_replica(primary: EmbeddedPostgres, replica_dir: Path | str | None = None, port: int | None = None,
                  *, timeout: float = 60.0) -> EmbeddedPostgres:
    """A hot standby of ``primary`` in ``replica_dir`` on ``port``, made once with pg_basebackup and
    started (again) on later calls. Returns it running and answering."""
    replica_dir = Path(replica_dir or replica_dir_for(primary)).resolve()
    replica = EmbeddedPostgres(replica_dir, port or free_port(), dbname=primary.dbname,
                               bin_dir=primary._bin_dir, fast=primary.fast)
    if not replica.initialized():
        prepare_primary(primary)
        _base_backup(primary, replica)
    if not replica.running():
        replica._set_port_in_config()
        if not port_is_free(replica.port):
            raise DatabaseUnavailable(f"Порт {replica.port} для репліки зайнятий",
                                      f"Port {replica.port} for the replica is taken")
        proc = replica._run("pg_ctl", "-D", str(replica.data_dir), "-l", str(replica.log_file), "-w", "-t",
                            str(int(timeout)), "start", check=False)
        if proc.returncode != 0:
            raise DatabaseUnavailable(
                f"Репліка не запустилася; кінець журналу {replica.log_file}:\n{replica._log_tail()}",
                f"The replica did not start; end of {replica.log_file}:\n{replica._log_tail()}")
    _wait_streaming(replica, timeout)
    return replica


def _base_backup(primary: EmbeddedPostgres, replica: EmbeddedPostgres) -> None:
    slot = slot_name(replica.data_dir)
    with _admin(primary) as admin:  # a slot left by an earlier copy in this folder, removed since
        admin.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                      "WHERE slot_name = %s AND NOT active", (slot,))
    replica.data_dir.parent.mkdir(parents=True, exist_ok=True)
    if replica.data_dir.exists() and any(replica.data_dir.iterdir()):
        raise DatabaseUnavailable(f"Тека {replica.data_dir} не порожня і не є кластером PostgreSQL",
                                  f"Folder {replica.data_dir} is not empty and is not a PostgreSQL cluster")
    replica.data_dir.mkdir(mode=0o700, exist_ok=True)
    replica._chown_to_server_user(replica.data_dir)
    os.chmod(replica.data_dir, 0o700)
    replica._check_reachable_by_server_user()
    # The password reaches pg_basebackup in a passfile only the server user reads, never on a command line.
    passfile = replica.data_dir.parent / f".{replica.data_dir.name}.pgpass"
    passfile.write_text(f"127.0.0.1:{primary.port}:*:{REPLICATION_ROLE}:{replication_password(primary)}\n")
    replica._chown_to_server_user(passfile)
    os.chmod(passfile, 0o600)
    env_user = replica._as_server_user()
    env = dict(env_user.pop("env", os.environ), PGPASSFILE=str(passfile))
    import subprocess

    cmd = [str(replica.bin_dir / "pg_basebackup"), "-D", str(replica.data_dir), "-h", "127.0.0.1",
           "-p", str(primary.port), "-U", REPLICATION_ROLE, "-X", "stream", "-R", "-C", "-S", slot,
           "-c", "fast", "--no-password"]
    if primary.fast:
        cmd.append("--no-sync")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/", env=env, **env_user)
        if proc.returncode != 0:
            raise DatabaseUnavailable(f"pg_basebackup завершився з помилкою: {proc.stderr.strip()}",
                                      f"pg_basebackup failed: {proc.stderr.strip()}")
        # -R wrote primary_conninfo with a passfile that goes away: the password goes in instead
        # (postgresql.auto.conf is the server user's, mode 0600, as the primary's password file is).
        auto = replica.data_dir / "postgresql.auto.conf"
        text = auto.read_text().replace(f"passfile=''{passfile}''", f"password=''{replication_password(primary)}''")
        auto.write_text(text)
    finally:
        passfile.unlink(missing_ok=True)
    # The copy carries the primary's settings: its own port and socket folder instead.
    (replica.data_dir / "postmaster.pid").unlink(missing_ok=True)
    socket_dir = f"'{replica.data_dir}'" if len(str(replica.data_dir)) < 80 else "''"
    with open(replica.data_dir / "postgresql.conf", "a") as conf:
        conf.write(f"\n# --- Hromada GIS streaming replica of 127.0.0.1:{primary.port} ---\n"
                   f"port = {replica.port}\nunix_socket_directories = {socket_dir}\nhot_standby = on\n"
                   "hot_standby_feedback = on\n")
    shutil.copyfile(primary.password_file, replica.password_file)
    os.chmod(replica.password_file, 0o600)
    log.info("made a streaming replica of %s in %s (slot %s)", primary.data_dir, replica.data_dir, slot)


def _wait_streaming(replica: EmbeddedPostgres, timeout: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(replica.url("postgres").replace("+psycopg", ""), autocommit=True,
                                 connect_timeout=2) as conn:
                if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] and conn.execute(
                        "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'").fetchone()[0]:
                    return
                last = "not streaming yet"
        except psycopg.OperationalError as exc:
            last = exc
        time.sleep(0.1)
    raise DatabaseUnavailable(f"Репліка не почала отримувати WAL: {last}", f"The replica is not streaming: {last}")


def stop_replica(replica: EmbeddedPostgres) -> bool:
    return replica.stop()


def drop_replica(primary: EmbeddedPostgres, replica: EmbeddedPostgres) -> None:
    """Stop the replica, remove its folder and its slot on the primary."""
    replica.stop()
    shutil.rmtree(replica.data_dir, ignore_errors=True)
    replica.password_file.unlink(missing_ok=True)
    if primary.running():
        slot = slot_name(replica.data_dir)
        with _admin(primary) as admin:
            deadline = time.monotonic() + 10  # the primary's WAL sender ends a moment after the replica
            while admin.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                                (slot,)).fetchone() == (True,) and time.monotonic() < deadline:
                time.sleep(0.05)
            admin.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                          "WHERE slot_name = %s AND NOT active", (slot,))
