"""A streaming read replica (gis.replica) and the app's routing of reads to it (webmap.database).

The replica is made once for the module from the session's own cluster (pg_basebackup of the running
test cluster, on the demo hromada) and dropped at the end, with its slot. Which database answered a
request shows in its ``X-Database`` header; a view of the test's own (``/test/recovery``) says what the
server it read from thinks it is.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from gis import replica as replicas
from gis.embedded import EmbeddedPostgres
from tests.helpers import inside
from webmap import database

pytestmark = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")),
                                reason="makes a replica of the embedded test cluster (DATABASE_URL is external)")


@pytest.fixture(scope="module")
def pair(session_databases, engine):
    session_databases.restore(engine, demo=True)
    admin = session_databases._admin
    data_dir = Path(admin.execute("SHOW data_directory").fetchone()[0])
    primary = EmbeddedPostgres(data_dir, sa.engine.make_url(session_databases.url).port,
                               dbname=session_databases.name, fast=True)
    assert admin.execute("SHOW wal_level").fetchone()[0] == "replica"  # no restart of the session's cluster
    started = time.monotonic()
    replica = replicas.start_replica(primary)
    print(f"replica made in {time.monotonic() - started:.1f} s")
    try:
        yield primary, replica, inside(engine, "Зарванці")
    finally:
        replicas.drop_replica(primary, replica)
        engine.dispose()
    assert not admin.execute("SELECT slot_name FROM pg_replication_slots").fetchall()  # no WAL kept for it


def make_app(replica: EmbeddedPostgres, database_url: str, **settings):
    from flask import jsonify

    from webmap import create_app

    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test-secret",
                      "DATABASE_REPLICA_URL": replica.url(), "HROMADA_REPLICA_CHECK_SECONDS": 0.1,
                      **settings})

    @app.get("/test/recovery")
    @database.public_read
    def recovery():
        conn = database.connection()
        in_recovery = conn.execute(sa.text("SELECT pg_is_in_recovery()")).scalar()
        if in_recovery and app.config.get("FAIL_ON_REPLICA"):  # the replica's connection dies mid-request
            conn.execute(sa.text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return jsonify(in_recovery=in_recovery)

    return app


@pytest.fixture
def replica_app(pair, database_url):
    app = make_app(pair[1], database_url)
    yield app
    database.dispose(app)


def on_replica(response) -> bool:
    response.get_data()  # a streamed export: read to its end, which ends its request
    response.close()
    assert response.status_code == 200, (response.request.path, response.status_code,
                                         response.get_data(as_text=True)[:300])
    assert response.headers.get("X-Database"), (response.request.path, "read no database")
    return response.headers["X-Database"] == "replica"


def wait_for(check, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def replica_sql(replica: EmbeddedPostgres, statement: str):
    with psycopg.connect(replica.url().replace("+psycopg", ""), autocommit=True) as conn:
        return conn.execute(statement).fetchall()


PUBLIC_READS = ["/api/layers/settlements/items?limit=2", "/ogc/collections/settlements/items?limit=2",
                "/hromadas", "/open311/v2/services.json",
                "/api/layers/settlements/export.geojson"]


def test_public_reads_come_from_the_replica(pair, replica_app):
    client = replica_app.test_client()
    lon, lat = pair[2]
    assert on_replica(client.get(f"/api/reports/categories?lon={lon}&lat={lat}"))
    answer = client.get("/test/recovery")
    assert on_replica(answer) and answer.get_json() == {"in_recovery": True}
    for path in PUBLIC_READS:
        assert on_replica(client.get(path)), path
    # Not public reads: the primary.
    assert client.get("/api/csrf-token").headers.get("X-Database", "primary") == "primary"
    assert client.get("/staff/").headers.get("X-Database", "primary") == "primary"
    # Anyone carrying credentials reads from the primary, even a public read.
    assert not on_replica(client.get(PUBLIC_READS[0], headers={"Authorization": "Bearer nothing-valid"}))


def test_a_filed_report_is_read_back_from_the_primary_at_once(pair, replica_app):
    primary, replica, point = pair
    resident, neighbour = replica_app.test_client(), replica_app.test_client()
    token = resident.get("/api/csrf-token").get_json()["csrf_token"]
    replica_sql(replica, "SELECT pg_wal_replay_pause()")  # the replica cannot have the report yet
    try:
        filed = resident.post("/api/reports", json={"lon": point[0], "lat": point[1], "category": "overflowing_bin",
                                                     "description": f"replica {uuid.uuid4()}"},
                              headers={"X-CSRFToken": token})
        assert filed.status_code == 201, filed.get_data(as_text=True)
        assert "hromada_wrote=1" in filed.headers["Set-Cookie"]
        code = filed.get_json()["code"]
        for path in (f"/reports/{code}", f"/api/reports/{code}"):
            page = resident.get(path)
            assert page.status_code == 200 and page.headers["X-Database"] == "primary", path
        assert code in resident.get(f"/reports/{code}").get_data(as_text=True)
        assert replica_sql(replica, f"SELECT count(*) FROM report WHERE code = '{code}'") == [(0,)]
    finally:
        replica_sql(replica, "SELECT pg_wal_replay_resume()")
    wait_for(lambda: replica_sql(replica, f"SELECT count(*) FROM report WHERE code = '{code}'") == [(1,)])
    # Someone else, who wrote nothing, reads the public page from the replica, which has it now.
    time.sleep(0.15)
    page = neighbour.get(f"/reports/{code}")
    assert on_replica(page) and code in page.get_data(as_text=True)


def test_a_stopped_replica_sends_reads_to_the_primary(pair, replica_app, database_url):
    primary, replica, _ = pair
    client = replica_app.test_client()
    assert on_replica(client.get("/api/layers/settlements/items?limit=2"))
    tile = client.get("/tiles/settlements/10/596/347.mvt")  # the fast path, on the replica's connections
    assert tile.status_code in (200, 204)
    replica.stop()
    try:
        for _ in range(3):
            for path in ["/test/recovery", *PUBLIC_READS]:
                assert not on_replica(client.get(path)), path
            assert client.get("/tiles/settlements/10/597/347.mvt").status_code in (200, 204)
        # A process started while the replica is down works as well.
        other = make_app(replica, database_url)
        try:
            assert not on_replica(other.test_client().get("/api/layers/settlements/items?limit=2"))
        finally:
            database.dispose(other)
    finally:
        replicas.start_replica(primary, replica.data_dir, replica.port)
    # Back: the reads return to it after the next check.
    wait_for(lambda: on_replica(client.get("/api/layers/settlements/items?limit=2")))


def test_a_replica_failing_during_a_request_answers_from_the_primary(pair, database_url):
    app = make_app(pair[1], database_url, FAIL_ON_REPLICA=True)
    try:
        answer = app.test_client().get("/test/recovery")
        assert answer.status_code == 200 and answer.headers["X-Database"] == "primary"
        assert answer.get_json() == {"in_recovery": False}
    finally:
        database.dispose(app)


def test_a_lagging_replica_is_skipped_and_an_idle_one_is_not(pair, database_url, engine):
    primary, replica, _ = pair
    app = make_app(replica, database_url, HROMADA_REPLICA_MAX_LAG=1)
    client = app.test_client()
    try:
        # Idle: nothing written for longer than the limit, everything received is replayed: still used.
        time.sleep(1.3)
        assert on_replica(client.get("/api/layers/settlements/items?limit=2")), app.extensions["hromada_replica"].lag
        replica_sql(replica, "SELECT pg_wal_replay_pause()")
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("CREATE TABLE replica_lag_probe (x int)"))
            time.sleep(1.3)
            assert replica_sql(replica, "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()") == [(True,)]
            assert not on_replica(client.get("/api/layers/settlements/items?limit=2"))
            assert app.extensions["hromada_replica"].lag > 1
        finally:
            replica_sql(replica, "SELECT pg_wal_replay_resume()")
            with engine.begin() as conn:
                conn.execute(sa.text("DROP TABLE replica_lag_probe"))
        wait_for(lambda: on_replica(client.get("/api/layers/settlements/items?limit=2")))
    finally:
        database.dispose(app)


def test_without_a_replica_everything_reads_the_primary(demo_db, client):  # demo: later tests read it
    answer = client.get("/api/layers/settlements/items?limit=2")
    assert answer.status_code == 200 and answer.headers["X-Database"] == "primary"
    assert client.application.extensions["hromada_replica"] is None
    # The routing's lists name views and blueprints that exist (a renamed view would silently leave it).
    app = client.application
    assert database.PUBLIC_READ_ENDPOINTS | database.NOT_PUBLIC_READ_ENDPOINTS <= set(app.view_functions)
    assert database.PUBLIC_READ_BLUEPRINTS <= set(app.blueprints)


def test_pgbouncer_setting_turns_prepared_statements_off(database_url, monkeypatch):
    url, options = database.engine_options(database_url + "?prepare_threshold=none")
    assert "prepare_threshold" not in url and options == {"connect_args": {"prepare_threshold": None}}
    assert database.engine_options(database_url + "?prepare_threshold=3")[1] == {
        "connect_args": {"prepare_threshold": 3}}
    assert database.engine_options(database_url) == (database_url, {})
    monkeypatch.setenv("HROMADA_PGBOUNCER", "1")
    assert database.engine_options(database_url)[1] == {"connect_args": {"prepare_threshold": None}}
    eng = database._engine(database_url)
    try:
        with eng.connect() as conn:
            assert conn.connection.driver_connection.prepare_threshold is None
            assert json.loads(json.dumps(conn.execute(sa.text("SELECT 1")).scalar())) == 1
    finally:
        eng.dispose()


def test_the_cluster_reads_from_its_replica_and_survives_losing_it(pair, database_url, tmp_path_factory, monkeypatch):
    """Through nginx and an app process of `hromada cluster up`: public reads on the replica; the replica
    stopped, the same reads answer 200 from the primary — no 5xx."""
    import http.client

    from gis.embedded import free_port
    from webmap import cluster as cluster_module
    from webmap.cluster import LocalCluster

    if any(cluster_module.find_binary(name) is None for name in ("nginx", "memcached")):
        pytest.skip("nginx and memcached not installed (make test-system-deps)")
    primary, replica, _ = pair
    folder = tmp_path_factory.mktemp("replica-cluster")
    local = LocalCluster(folder)
    port = free_port()
    # The embedded replica of the state's database (what `--replica` starts): here the module's own.
    state = {"embedded_database": {"data_dir": str(primary.data_dir), "port": primary.port}}
    monkeypatch.setenv("HROMADA_REPLICA_PGPORT", str(replica.port))
    monkeypatch.setattr(local, "_save", lambda _state: None)
    assert local._start_replica(state, True, database_url) == replica.url()
    assert state["replica_database"] == {"data_dir": str(replica.data_dir), "port": replica.port}
    monkeypatch.undo()

    def get(path: str):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            return response.status, response.getheader("X-Database")
        finally:
            connection.close()

    local.up(port=port, apps=1, workers=0, database_url=database_url, replica=replica.url(),
             env={"HROMADA_REPLICA_CHECK_SECONDS": "0.5", "HROMADA_RASTER_DIR": str(folder / "rasters")})
    try:
        parts = {part.name: part for part in local.status()}
        assert parts["replica"].answers, [p.describe() for p in parts.values()]
        assert {get(path) for path in PUBLIC_READS} == {(200, "replica")}
        replica.stop()
        try:
            assert not {part.name: part for part in local.status()}["replica"].answers
            answers = [get(path) for _ in range(3) for path in PUBLIC_READS]
            assert set(answers) == {(200, "primary")}, answers
        finally:
            replicas.start_replica(primary, replica.data_dir, replica.port)
        wait_for(lambda: get(PUBLIC_READS[0]) == (200, "replica"))
    finally:
        local.down(stop_database=False)


@pytest.fixture
def pgbouncer(session_databases, tmp_path_factory):
    """pgbouncer (Debian's) in transaction mode in front of the session's cluster, one server connection."""
    import shutil
    import subprocess
    import tempfile

    from gis.embedded import free_port
    from webmap.cluster import find_binary

    binary = find_binary("pgbouncer")
    if binary is None:
        pytest.skip("pgbouncer not installed (apt-get install pgbouncer)")
    url = sa.engine.make_url(session_databases.url)
    folder = Path(tempfile.mkdtemp(prefix="hromada-pgbouncer-"))
    folder.chmod(0o711)
    port = free_port()
    (folder / "userlist.txt").write_text(f'"{url.username}" "{url.password}"\n')
    (folder / "pgbouncer.ini").write_text(f"""[databases]
* = host=127.0.0.1 port={url.port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {folder}/userlist.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 20
logfile = {folder}/pgbouncer.log
""")
    as_user = {}
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        import pwd

        pw = pwd.getpwnam("postgres")
        for path in folder.iterdir():
            os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chown(folder, pw.pw_uid, pw.pw_gid)
        as_user = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    proc = subprocess.Popen([binary, str(folder / "pgbouncer.ini")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd="/", **as_user)
    try:
        from webmap.cluster import port_answers

        wait_for(lambda: port_answers(port) or proc.poll() is not None)
        assert proc.poll() is None, (folder / "pgbouncer.log").read_text()
        yield url.set(port=port).render_as_string(hide_password=False)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def test_through_pgbouncer_in_transaction_mode_nothing_is_prepared(pgbouncer, engine, monkeypatch):
    """Two clients share pgbouncer's one server connection: with psycopg's default prepare_threshold the
    second one's PREPARE of the same statement name collides; with HROMADA_PGBOUNCER=1 nothing is prepared."""
    query = sa.text("SELECT count(*) FROM pg_class WHERE relpages >= :n")

    def alternate(url: str):
        first, second = database._engine(url), database._engine(url)
        try:
            with first.connect() as a, second.connect() as b:
                a, b = (c.execution_options(isolation_level="AUTOCOMMIT") for c in (a, b))
                for n in range(8):
                    a.execute(query, {"n": n}).scalar()
                    b.execute(query, {"n": n}).scalar()
        finally:
            first.dispose()
            second.dispose()

    with pytest.raises(sa.exc.DBAPIError, match="prepared statement"):
        alternate(pgbouncer)
    monkeypatch.setenv("HROMADA_PGBOUNCER", "1")
    alternate(pgbouncer)
    monkeypatch.delenv("HROMADA_PGBOUNCER")
    alternate(pgbouncer + "?prepare_threshold=none")
