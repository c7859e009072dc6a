"""The embedded PostGIS life-cycle and its clear errors, on scratch clusters of their own."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from gis.embedded import EmbeddedPostgres, find_postgres_bin
from gis.errors import DatabaseUnavailable


def plain(url: str) -> str:
    return url.replace("+psycopg", "")


def test_life_cycle_keeps_data_across_restarts(scratch_cluster):
    cluster = scratch_cluster
    assert not cluster.initialized() and not cluster.running()
    assert "not initialised" in cluster.status().describe("en")

    cluster.start()
    status = cluster.status()
    assert status.running and status.pid and status.version == cluster.binaries_major
    assert f"port {cluster.port}" in status.describe("en")
    with psycopg.connect(plain(cluster.url()), autocommit=True) as conn:
        assert conn.execute("SELECT PostGIS_Lib_Version()").fetchone()[0].startswith("3.")
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")

    cluster.start()  # idempotent while running
    assert cluster.stop() is True
    assert not cluster.running() and cluster.stop() is False
    assert "stopped" in cluster.status().describe("en")

    cluster.start()
    with psycopg.connect(plain(cluster.url()), autocommit=True) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone()[0] == "still here"


def test_password_is_required_and_kept_private(scratch_cluster):
    scratch_cluster.start()
    assert oct(scratch_cluster.password_file.stat().st_mode & 0o777) == "0o600"
    wrong = plain(scratch_cluster.url()).replace(scratch_cluster.password(), "wrong")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong)


def test_missing_binaries_give_an_install_hint(tmp_path):
    with pytest.raises(DatabaseUnavailable) as err:
        find_postgres_bin(str(tmp_path / "no-postgres" / "bin"))
    assert "apt-get install postgresql-15" in err.value.uk
    assert "PostgreSQL binaries not found" in err.value.en


def test_port_taken_is_a_clear_error(scratch_cluster):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", scratch_cluster.port))
    blocker.listen()
    try:
        with pytest.raises(DatabaseUnavailable) as err:
            scratch_cluster.start()
        assert f"Port {scratch_cluster.port}" in err.value.en and "HROMADA_PGPORT" in err.value.en
        assert "зайнятий" in err.value.uk
        assert not scratch_cluster.running()
    finally:
        blocker.close()
    scratch_cluster.start()  # the same folder starts once the port is free
    assert scratch_cluster.running()


def test_folder_of_another_version_is_refused(scratch_cluster):
    scratch_cluster.init()
    (scratch_cluster.data_dir / "PG_VERSION").write_text("11\n")
    with pytest.raises(DatabaseUnavailable) as err:
        scratch_cluster.start()
    assert "belongs to PostgreSQL 11" in err.value.en
    assert f"PostgreSQL {scratch_cluster.binaries_major} is installed" in err.value.en


def test_non_empty_folder_that_is_no_cluster_is_refused(scratch_cluster):
    scratch_cluster.data_dir.mkdir(parents=True)
    (scratch_cluster.data_dir / "notes.txt").write_text("mine")
    with pytest.raises(DatabaseUnavailable, match="not a PostgreSQL cluster"):
        scratch_cluster.start()
    assert (scratch_cluster.data_dir / "notes.txt").read_text() == "mine"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to the postgres user")
def test_started_by_root_runs_as_postgres(scratch_cluster):
    scratch_cluster.start()
    owner = subprocess.run(["ps", "-o", "user=", "-p", str(scratch_cluster.pid())],
                           capture_output=True, text=True).stdout.strip()
    assert owner == "postgres"
    assert Path(scratch_cluster.data_dir).owner() == "postgres"


def run_cli(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "webmap.cli", *args], capture_output=True, text=True, env=env)


def test_cli_status_start_stop_tell_the_truth(scratch_cluster):
    env = {"HROMADA_PGDATA": str(scratch_cluster.data_dir), "HROMADA_PGPORT": str(scratch_cluster.port)}
    before = run_cli("db", "status", env_extra=env)
    assert before.returncode == 3 and "not initialised" in before.stdout

    started = run_cli("db", "start", env_extra=env)
    assert started.returncode == 0, started.stderr
    running = run_cli("db", "status", env_extra=env)
    assert running.returncode == 0 and "running: PostgreSQL" in running.stdout
    url = run_cli("db", "url", env_extra=env)
    assert url.stdout.strip() == scratch_cluster.url()

    assert run_cli("db", "stop", env_extra=env).returncode == 0
    after = run_cli("db", "status", env_extra=env)
    assert after.returncode == 3 and "stopped" in after.stdout


def test_cli_reports_missing_binaries_without_a_traceback(scratch_cluster):
    env = {"HROMADA_PGDATA": str(scratch_cluster.data_dir), "HROMADA_PGBIN": "/nonexistent/bin"}
    result = run_cli("db", "start", env_extra=env)
    assert result.returncode == 1
    assert "Помилка:" in result.stderr and "Error: PostgreSQL binaries not found" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only root's server runs as another user")
def test_closed_project_folder_gets_a_reachable_data_folder(tmp_path, monkeypatch):
    """A clone under /root (0700): the default data folder is out of the postgres user's reach, so
    one of the project's own is chosen under the fallback root — and the cluster really starts there.
    The closed folder's mode is left as it was."""
    import tempfile

    from gis import embedded
    from gis.embedded import free_port, reachable_data_dir, server_user_can_enter

    closed = tmp_path / "closed"  # pytest's tmp_path lies under root's private folders anyway
    closed.mkdir(mode=0o700)
    preferred = closed / "var" / "postgres"
    assert not server_user_can_enter(preferred)
    fallback_root = Path(tempfile.mkdtemp(prefix="hromada-fallback-"))
    monkeypatch.setattr(embedded, "FALLBACK_ROOT", fallback_root)
    chosen = reachable_data_dir(preferred)
    assert chosen != preferred and chosen.is_relative_to(fallback_root) and server_user_can_enter(chosen)
    assert reachable_data_dir(preferred) == chosen  # the same folder on every run
    cluster = EmbeddedPostgres(chosen, free_port(), fast=True)
    try:
        cluster.start()
        with psycopg.connect(plain(cluster.url())) as conn:
            assert conn.execute("SELECT postgis_lib_version()").fetchone()[0]
    finally:
        cluster.stop()
        import shutil

        shutil.rmtree(fallback_root, ignore_errors=True)
    assert (closed.stat().st_mode & 0o777) == 0o700
    # An existing cluster in the preferred folder is used as it is.
    open_folder = Path(tempfile.mkdtemp(prefix="hromada-open-"))
    open_folder.chmod(0o755)
    assert reachable_data_dir(open_folder / "postgres") == open_folder / "postgres"
    open_folder.rmdir()
