"""The deployment shape on one machine: ``hromada cluster up|down|status`` (README "Running several processes").

    client ── nginx (gzip; /static/ from disk; proxy_cache for /tiles/)
                ├── app 1: hromada serve on 127.0.0.1:<free port> ─┐
                └── app 2: hromada serve on 127.0.0.1:<free port> ─┼── PostgreSQL + PostGIS (embedded,
    memcached 127.0.0.1:<free port>: rate limits, remembered tiles ─┤   or DATABASE_URL)
    outbox worker: hromada worker (e-mails, digests) ───────────────┘

Everything runs from Debian's packages (nginx, memcached, postgresql-15-postgis-3) and lives in a folder
of its own (default ``var/cluster/``): the generated nginx.conf, nginx.pid, logs, nginx's tile cache and
``cluster.json``, which names each part's pid and port for ``status`` and ``down``. The app processes are
``hromada serve`` with HROMADA_SHARED_STORE pointing at the memcached and HROMADA_PROXY_HOPS=1: nginx
appends the address a request came from to X-Forwarded-For, and the app trusts that last entry only, so a
client cannot choose its own address (and its own rate limit) by sending the header itself.

``up --replica`` also starts a streaming read replica of the embedded database (gis.replica, its own folder
``<data>-replica`` and port HROMADA_PGPORT+1 or HROMADA_REPLICA_PGPORT) and gives the app processes its
DATABASE_REPLICA_URL; public reads go to it (webmap.database). ``status`` lists it, ``down`` stops it first.
"""
from __future__ import annotations

import http.client
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from gis.errors import HromadaError

log = logging.getLogger(__name__)

DEFAULT_PORT = 8080
STATE_FILE = "cluster.json"
NGINX_USER = "www-data"  # Debian's; nginx's workers run as it when we are root and it can read what they serve
INSTALL_HINT = "apt-get install nginx-light memcached (або / or: make test-system-deps)"
_children: dict[int, subprocess.Popen] = {}  # processes started by this process: reaped, not left as zombies


class ClusterError(HromadaError):
    http_status = 503


def default_folder() -> Path:
    from gis.config import var_dir

    return var_dir() / "cluster"


def find_binary(name: str) -> str | None:
    return shutil.which(name) or next((str(p) for p in (Path("/usr/sbin", name), Path("/usr/bin", name))
                                       if p.is_file() and os.access(p, os.X_OK)), None)


def required_binaries() -> dict[str, str]:
    """nginx and memcached; a clear message naming the packages when either is missing."""
    found = {name: find_binary(name) for name in ("nginx", "memcached")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise ClusterError(f"Не знайдено {', '.join(missing)}; встановіть: {INSTALL_HINT}",
                           f"{', '.join(missing)} not found; install: {INSTALL_HINT}")
    return found  # type: ignore[return-value]


# -- processes ---------------------------------------------------------------------------------------
def alive(pid: int | None) -> bool:
    if not pid:
        return False
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (its parent has not reaped it) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _spawn(cmd: list[str], log_file: Path, env: dict | None = None, cwd: str | None = None) -> int:
    with open(log_file, "ab") as out:
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                 cwd=cwd, start_new_session=True)  # Ctrl-C on the command does not reach them
    _children[child.pid] = child
    return child.pid


def stop_pid(pid: int | None, sig: int = signal.SIGTERM, wait: float = 20.0) -> None:
    """``sig``, then SIGKILL after ``wait`` seconds."""
    if not alive(pid):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + wait
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        log.warning("process %s did not stop in %ss; killing it", pid, wait)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while alive(pid) and time.monotonic() < deadline + 5:
            time.sleep(0.05)
    child = _children.pop(pid, None)
    if child is not None:
        child.wait(timeout=5)


def kill_group(pid: int) -> None:
    """SIGKILL to whatever is left of the process group ``pid`` led (each part is started in a session of
    its own): an app's granian worker outlives its supervisor killed with SIGKILL, and would go on
    answering on the port."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_answers(port: int, host: str = "127.0.0.1", path: str = "/robots.txt", timeout: float = 3.0) -> int | None:
    """The HTTP status of GET ``path`` (any status means it answers), None when nothing answers."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def memcached_answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.sendall(b"version\r\n")
            return s.recv(64).startswith(b"VERSION")
    except OSError:
        return False


def _wait_until(check, seconds: float, what: str, log_file: Path, pid: int) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        if not alive(pid):
            break
        time.sleep(0.1)
    tail = _tail(log_file)
    raise ClusterError(f"{what} не запустився; журнал {log_file}:\n{tail}",
                       f"{what} did not start; log {log_file}:\n{tail}")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _free_port() -> int:
    from gis.embedded import free_port

    return free_port()


def _user_can_read(user: str, *paths: Path) -> bool:
    """Whether ``user`` can enter (and list) each of ``paths``: nginx's workers must, for the static
    folder and their cache. A clone under /root (mode 0700) they cannot."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return False
    for path in paths:
        probe = subprocess.run(["test", "-x", str(path), "-a", "-r", str(path)], user=pw.pw_uid, group=pw.pw_gid,
                               extra_groups=[], cwd="/", capture_output=True)
        if probe.returncode != 0:
            return False
    return True


# -- the nginx configuration ----------------------------------------------------------------------------
GZIP_TYPES = ("text/css application/javascript text/javascript application/json application/geo+json "
              "application/vnd.mapbox-vector-tile image/svg+xml application/xml text/xml application/atom+xml "
              "application/manifest+json text/csv")


def _indented(lines, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in lines)


UNAVAILABLE_JSON = json.dumps({"error": "service_unavailable", "message": {
    "uk": "Сервер перезапускається; надішліть ще раз за мить (з тим самим Idempotency-Key)",
    "en": "The server is restarting; send again in a moment (with the same Idempotency-Key)"}},
    ensure_ascii=False)


# What nginx tells the app of the request (said again in every location that adds one of its own).
# X-Forwarded-For: the address this request came from, appended; the app (HROMADA_PROXY_HOPS=1) trusts only
# that last entry, so whatever X-Forwarded-For a client sends itself changes nothing.
PROXY_HEADER_LINES = ("proxy_set_header Connection \"\";",
                      "proxy_set_header Host $http_host;",
                      "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
                      "proxy_set_header X-Forwarded-Proto $scheme;",
                      "proxy_set_header X-Forwarded-Host $http_host;  # with the port, as the client wrote it")


def nginx_conf(folder: Path, *, host: str, port: int, app_ports: list[int], static: Path, user: str | None) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in app_ports)
    user_line = f"user {user};\n" if user else ""
    return f"""# Generated by `hromada cluster up`; rewritten on each start.
{user_line}worker_processes auto;
pid {folder}/nginx.pid;
error_log {folder}/logs/nginx-error.log warn;
events {{ worker_connections 1024; }}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format hromada '$remote_addr [$time_local] "$request" $status $body_bytes_sent '
                       'upstream=$upstream_addr upstream_status=$upstream_status cache=$upstream_cache_status '
                       'time=$request_time xff="$http_x_forwarded_for"';
    access_log {folder}/logs/nginx-access.log hromada;
    client_body_temp_path {folder}/nginx/body;
    proxy_temp_path {folder}/nginx/proxy;
    fastcgi_temp_path {folder}/nginx/fastcgi;
    uwsgi_temp_path {folder}/nginx/uwsgi;
    scgi_temp_path {folder}/nginx/scgi;
    sendfile on;
    server_tokens off;
    client_max_body_size 33m;  # the app's own limit is 32 MB (three photos and the form)

    # Compression of what the app sent uncompressed and of the static files; what the app compressed
    # itself (zstd, brotli or gzip, flask-compress) passes through as it is.
    gzip on;
    gzip_vary on;
    gzip_proxied any;
    gzip_comp_level 5;
    gzip_min_length 256;
    gzip_types {GZIP_TYPES};

    # Tiles as the app's Cache-Control allows (public, max-age=300), revalidated with its ETags.
    proxy_cache_path {folder}/cache/tiles levels=1:2 keys_zone=tiles:10m max_size=512m inactive=10m
                     use_temp_path=off;

    # /static/…?v=<content hash> never changes: a year; without ?v, revalidated (ETag, Last-Modified).
    map $arg_v $static_cache_control {{
        ""      "no-cache";
        default "public, max-age=31536000, immutable";
    }}

    upstream hromada_apps {{
{servers}
        keepalive 16;
    }}

    server {{
        listen {host}:{port};
        server_name _;

        proxy_http_version 1.1;
        # X-Forwarded-For appended: the app (HROMADA_PROXY_HOPS=1) trusts only that last entry.
{_indented(PROXY_HEADER_LINES, 8)}
        proxy_connect_timeout 3s;
        proxy_read_timeout 120s;
        # An app process that does not answer: the request goes to the next one. nginx never sends a
        # POST, PATCH or LOCK again once an app has received it (a report is not made twice); a client
        # retries those itself, with its Idempotency-Key.
        proxy_next_upstream error timeout;
        proxy_next_upstream_tries 3;

        location /static/ {{
            alias {static}/;
            add_header Cache-Control $static_cache_control;
            add_header X-Content-Type-Options nosniff;
            access_log {folder}/logs/nginx-access.log hromada;
        }}

        location /tiles/ {{
            proxy_pass http://hromada_apps;
            proxy_cache tiles;
            proxy_cache_revalidate on;
            proxy_cache_lock on;
            proxy_cache_use_stale error timeout updating http_502 http_503 http_504;
            add_header X-Cache-Status $upstream_cache_status always;
        }}

        # An API request cut off by an app that went away (not sent again: see above) is a 503 in the
        # APIs' own shape, with Retry-After — a client then retries it with the same Idempotency-Key.
        location /api/ {{
            proxy_pass http://hromada_apps;
            error_page 502 504 = @api_unavailable;

            # A page of a layer's features is asked of the app uncompressed and gzipped here: the app's
            # fast path (webmap.fast_items) answers it without Flask then. (A proxy_set_header here
            # replaces the server's, so they are all said again.)
            location ~ ^/api/layers/[^/]+/items$ {{
                proxy_pass http://hromada_apps;
{_indented(PROXY_HEADER_LINES, 16)}
                proxy_set_header Accept-Encoding "";
            }}
        }}

        location @api_unavailable {{
            default_type application/json;
            add_header Retry-After 1 always;
            return 503 '{UNAVAILABLE_JSON}';
        }}

        location / {{
            proxy_pass http://hromada_apps;
        }}
    }}
}}
"""


# -- the shape -------------------------------------------------------------------------------------------
@dataclass
class Part:
    name: str
    pid: int | None
    address: str
    running: bool
    answers: bool

    def describe(self) -> str:
        state = ("працює / answers" if self.answers else "процес є, але не відповідає / running, not answering"
                 ) if self.running else "зупинено / stopped"
        return f"{self.name:<12} {self.address:<28} pid {self.pid or '-':<8} {state}"


class LocalCluster:
    """nginx, ``apps`` app processes, memcached, ``workers`` outbox workers and the database, in ``folder``."""

    def __init__(self, folder: Path | str | None = None):
        self.folder = Path(folder or default_folder()).resolve()

    @property
    def state_file(self) -> Path:
        return self.folder / STATE_FILE

    def state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None

    def _save(self, state: dict) -> None:
        self.state_file.write_text(json.dumps(state, indent=2))

    def is_up(self) -> bool:
        state = self.state()
        return bool(state) and any(alive(p["pid"]) for p in state.get("processes", []))

    # -- up ------------------------------------------------------------------------------------------------
    def up(self, *, port: int = DEFAULT_PORT, host: str = "127.0.0.1", apps: int = 2, workers: int = 1,
           threads: int = 4, database_url: str | None = None, env: dict | None = None,
           start_seconds: float = 90.0, replica: bool | str = False) -> dict:
        """Start every part; on any failure stop what was started and raise ClusterError.

        ``replica``: True starts a streaming replica of the embedded database (gis.replica) beside it;
        a URL names a replica run elsewhere. The app processes get it as DATABASE_REPLICA_URL."""
        from gis.embedded import port_is_free

        binaries = required_binaries()
        if apps < 1:
            raise ClusterError("Потрібен хоча б один процес застосунку (--apps)", "At least one app process (--apps)")
        if self.is_up():
            raise ClusterError(f"Кластер у {self.folder} вже працює: hromada cluster status | down",
                               f"The cluster in {self.folder} is already up: hromada cluster status | down")
        if not port_is_free(port, host):
            raise ClusterError(f"Порт {port} на {host} зайнятий; вкажіть інший: --port",
                               f"Port {port} on {host} is taken; choose another with --port")
        for sub in ("logs", "nginx", "cache/tiles", "run"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        state: dict = {"folder": str(self.folder), "host": host, "port": port, "processes": [],
                       "embedded_database": None, "replica_database": None}
        self._save(state)
        try:
            self._start_all(state, binaries, port=port, host=host, apps=apps, workers=workers, threads=threads,
                            database_url=database_url, env=env or {}, start_seconds=start_seconds, replica=replica)
        except BaseException:
            self.down(stop_database=False)
            raise
        return state

    def _record(self, state: dict, name: str, pid: int, port: int | None, kind: str) -> None:
        state["processes"].append({"name": name, "pid": pid, "port": port, "kind": kind})
        self._save(state)

    def _start_all(self, state: dict, binaries: dict, *, port: int, host: str, apps: int, workers: int,
                   threads: int, database_url: str | None, env: dict, start_seconds: float,
                   replica: bool | str = False) -> None:
        from gis import config, db
        from gis.config import secret_key

        logs = self.folder / "logs"
        if not (database_url or config.database_url_from_env()):
            cluster = db.embedded_cluster()
            state["embedded_database"] = {"data_dir": str(cluster.data_dir), "port": cluster.port}
            self._save(state)
        url = database_url or db.database_url(start_embedded=True)
        self._prepare_database(url)
        replica_url = self._start_replica(state, replica, url)

        memcached_port = _free_port()
        cmd = [binaries["memcached"], "-l", "127.0.0.1", "-p", str(memcached_port), "-U", "0", "-m", "64"]
        if os.geteuid() == 0:
            cmd += ["-u", "memcache" if _user_exists("memcache") else "nobody"]
        pid = _spawn(cmd, logs / "memcached.log")
        self._record(state, "memcached", pid, memcached_port, "memcached")
        _wait_until(lambda: memcached_answers(memcached_port), 10, "memcached", logs / "memcached.log", pid)

        child_env = dict(os.environ, **env)
        child_env.update(DATABASE_URL=url, HROMADA_SHARED_STORE=f"memcached://127.0.0.1:{memcached_port}",
                         HROMADA_PROXY_HOPS="1", HROMADA_SECRET_KEY=child_env.get("HROMADA_SECRET_KEY")
                         or secret_key(), PYTHONUNBUFFERED="1")
        if replica_url:
            child_env["DATABASE_REPLICA_URL"] = replica_url
        child_env.setdefault("HROMADA_PUBLIC_URL", f"http://{host}:{port}")
        python = [sys.executable, "-m", "webmap.cli"]
        app_ports = []
        for number in range(1, apps + 1):
            app_port = _free_port()
            log_file = logs / f"app-{number}.log"
            pid = _spawn([*python, "serve", "--host", "127.0.0.1", "--port", str(app_port), "--threads",
                          str(threads), "--no-worker"], log_file, env=child_env)
            self._record(state, f"app-{number}", pid, app_port, "app")
            app_ports.append(app_port)
        for number in range(1, workers + 1):
            pid = _spawn([*python, "worker"], logs / f"worker-{number}.log", env=child_env)
            self._record(state, f"worker-{number}", pid, None, "worker")
        for proc in state["processes"]:
            if proc["kind"] == "app":
                app_port = proc["port"]
                _wait_until(lambda p=app_port: http_answers(p) is not None, start_seconds, proc["name"],
                            logs / f"{proc['name']}.log", proc["pid"])

        static = Path(__file__).resolve().parent / "static"
        user = None
        if os.geteuid() == 0:
            if _user_can_read(NGINX_USER, static, self.folder):
                user = NGINX_USER
                for sub in ("nginx", "cache"):
                    for path in [self.folder / sub, *(self.folder / sub).rglob("*")]:
                        shutil.chown(path, NGINX_USER, NGINX_USER)
            else:  # a clone under /root: www-data cannot read the static files there
                log.warning("%s cannot read %s or %s; nginx's workers run as root", NGINX_USER, static, self.folder)
                user = "root"
        conf = self.folder / "nginx.conf"
        conf.write_text(nginx_conf(self.folder, host=host, port=port, app_ports=app_ports, static=static, user=user))
        nginx = [binaries["nginx"], "-p", str(self.folder), "-c", str(conf), "-e", str(logs / "nginx-error.log")]
        checked = subprocess.run([*nginx, "-t", "-q"], capture_output=True, text=True)
        if checked.returncode != 0:
            raise ClusterError(f"nginx відкинув налаштування {conf}:\n{checked.stderr}",
                               f"nginx refused the configuration {conf}:\n{checked.stderr}")
        pid = _spawn([*nginx, "-g", "daemon off;"], logs / "nginx.log")
        self._record(state, "nginx", pid, port, "nginx")
        _wait_until(lambda: http_answers(port, host) is not None, 15, "nginx", logs / "nginx-error.log", pid)

    def _start_replica(self, state: dict, replica: bool | str, primary_url: str) -> str | None:
        """The replica's URL: ``replica`` itself when it is one; for True, a streaming replica of the
        embedded database started now (made on the first start, in ``<data>-replica``)."""
        if not replica:
            return None
        if isinstance(replica, str):
            state["replica_database"] = {"url_given": True, "port": sa_url_port(replica)}
            self._save(state)
            return replica
        embedded = state.get("embedded_database")
        if not embedded:
            raise ClusterError(
                "--replica запускає репліку вбудованої бази; для зовнішньої (DATABASE_URL) вкажіть "
                "DATABASE_REPLICA_URL",
                "--replica starts a replica of the embedded database; for an external one (DATABASE_URL) set "
                "DATABASE_REPLICA_URL")
        from sqlalchemy.engine import make_url

        from gis import config
        from gis import replica as replicas
        from gis.embedded import EmbeddedPostgres

        primary = EmbeddedPostgres(embedded["data_dir"], embedded["port"], dbname=make_url(primary_url).database)
        port = int(os.environ.get("HROMADA_REPLICA_PGPORT") or config.pg_port() + 1)
        standby = replicas.start_replica(primary, port=port)
        state["replica_database"] = {"data_dir": str(standby.data_dir), "port": standby.port}
        self._save(state)
        return standby.url()

    @staticmethod
    def _prepare_database(url: str) -> None:
        """Migrated once here, not by each app process at the same time."""
        from gis import db
        from layers.categories import sync_categories
        from layers.plans import sync_zone_classes

        engine = db.make_engine(url)
        try:
            db.upgrade(engine)
            with engine.begin() as conn:
                sync_categories(conn)
                sync_zone_classes(conn)
        finally:
            engine.dispose()

    # -- status and down ---------------------------------------------------------------------------------
    def status(self) -> list[Part]:
        state = self.state()
        if not state:
            return []
        parts = []
        for proc in state.get("processes", []):
            pid, port, kind = proc["pid"], proc["port"], proc["kind"]
            running = alive(pid)
            if kind == "memcached":
                answers = running and memcached_answers(port)
            elif kind == "nginx":
                answers = running and http_answers(port, state["host"]) is not None
            elif kind == "app":
                answers = running and http_answers(port) is not None
            else:
                answers = running
            address = f"{state['host'] if kind == 'nginx' else '127.0.0.1'}:{port}" if port else "-"
            parts.append(Part(proc["name"], pid, address, running, answers))
        embedded = state.get("embedded_database")
        if embedded:
            from gis.embedded import EmbeddedPostgres

            pg = EmbeddedPostgres(embedded["data_dir"], embedded["port"])
            pid = pg.pid()
            parts.append(Part("postgresql", pid, f"127.0.0.1:{embedded['port']}", pid is not None,
                              pid is not None and port_answers(embedded["port"])))
        standby = state.get("replica_database")
        if standby and standby.get("data_dir"):
            from gis.embedded import EmbeddedPostgres

            pid = EmbeddedPostgres(standby["data_dir"], standby["port"]).pid()
            parts.append(Part("replica", pid, f"127.0.0.1:{standby['port']}", pid is not None,
                              pid is not None and port_answers(standby["port"])))
        elif standby and standby.get("port"):  # run by someone else: whether it answers
            answers = port_answers(standby["port"])
            parts.append(Part("replica", None, f"127.0.0.1:{standby['port']}", answers, answers))
        return parts

    def down(self, stop_database: bool = True) -> list[str]:
        """Stop every part (nginx first, so nothing new comes in; the database last). Returns their names."""
        state = self.state()
        if not state:
            return []
        order = {"nginx": 0, "app": 1, "worker": 2, "memcached": 3}
        stopped = []
        for proc in sorted(state.get("processes", []), key=lambda p: order.get(p["kind"], 9)):
            if alive(proc["pid"]):
                stop_pid(proc["pid"], signal.SIGQUIT if proc["kind"] == "nginx" else signal.SIGTERM)
                stopped.append(proc["name"])
            else:
                _children.pop(proc["pid"], None)
            if proc["kind"] == "app":
                kill_group(proc["pid"])
        embedded = state.get("embedded_database")
        standby = state.get("replica_database")
        if stop_database and standby and standby.get("data_dir"):  # the replica before its primary
            from gis.embedded import EmbeddedPostgres

            pg = EmbeddedPostgres(standby["data_dir"], standby["port"])
            if pg.running():
                pg.stop()
                stopped.append("replica")
        if stop_database and embedded:
            from gis.embedded import EmbeddedPostgres

            pg = EmbeddedPostgres(embedded["data_dir"], embedded["port"])
            if pg.running():
                pg.stop()
                stopped.append("postgresql")
        state["processes"] = []
        if stop_database:
            self.state_file.unlink(missing_ok=True)
        else:
            self._save(state)
        return stopped


def sa_url_port(url: str) -> int | None:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).port or 5432
    except Exception:  # noqa: BLE001  (a URL we cannot read: status shows no replica line)
        return None


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
