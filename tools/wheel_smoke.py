#!/usr/bin/env python3
"""Wheel smoke check (`make wheel-check`, run by .ci/run): is the built wheel complete, and does
the app serve every kind of page from it?

1. Copies the tracked (and untracked, not ignored) files of the checkout to a temporary folder and
   builds the wheel there (`pip wheel --no-deps`), so nothing stale of a build/ folder leaks in.
2. Compares the wheel's file list with the files of the package folders (pyproject.toml's
   `packages.find`): every file there — templates, static files, migrations, data files, modules —
   must be in the wheel, and the wheel must hold nothing else.
3. Installs the wheel (not editable) with its dependencies into a new venv, pinned to the versions
   of .venv when there is one, and checks that `webmap` imports from that venv, not the checkout.
4. From a temporary folder, runs the installed `hromada run` against its own embedded PostGIS (a
   temporary data folder, a free port; DATABASE_URL is ignored): migrations, the demo from the
   shared data folder (HROMADA_SHARED_DATA, else ../shared/data beside the checkout), the demo
   accounts, then waitress.
5. Creates an account with every role (`hromada users add`), and GETs a page of each kind — public
   map, thematic pages, plans, venues, OGC API HTML, staff log-in and queue, admin imports, the
   set-up console, the operator's pages, the account page, a unit link's error page — plus every
   static file of the installed package. Each must answer with the expected status and show its
   template's heading (in English, from the installed package's own translations).

Run it with any Python 3.11+; it never imports the project itself. `--keep` leaves the temporary
folder (logs, venv, database) for a look. Exit code 0: all good; 1: a problem, each one listed.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from email.message import Message
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_KATOTTG = "UA05020310000080026"
SMOKE_EMAIL = "wheel-smoke@example.org"
START = time.monotonic()


def say(message: str) -> None:
    print(f"[wheel-smoke {time.monotonic() - START:6.1f}s] {message}", flush=True)


class Failed(Exception):
    pass


def run(cmd: list[str], log: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; on failure raise with the tail of its output."""
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if log is not None:
        with log.open("a") as f:
            f.write(f"$ {' '.join(map(str, cmd))}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise Failed(f"`{' '.join(map(str, cmd))}` exited with {done.returncode}:\n{tail}")
    return done


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- 1 and 2: build the wheel, compare its files -------------------------------------------------------
def checkout_files() -> list[str]:
    """The checkout's files as git sees them: tracked, plus untracked ones not ignored (work in
    progress of a local run; in CI's fresh clone the two are the same). Deleted ones left out."""
    out = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO).stdout
    return sorted({p for p in out.split("\0") if p and (REPO / p).is_file()})


def package_folders() -> list[str]:
    """The top-level packages pyproject.toml's `packages.find` includes (`gis*` → gis)."""
    conf = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = conf["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({p.split("*")[0].split(".")[0] for p in patterns if (REPO / p.split("*")[0]).is_dir()})


def build_wheel(tmp: Path, python: Path, files: list[str], log: Path) -> Path:
    src = tmp / "src"
    for rel in files:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    dist = tmp / "dist"
    run([str(python), "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(src)], log=log)
    wheels = list(dist.glob("*.whl"))
    if len(wheels) != 1:
        raise Failed(f"expected one wheel in {dist}, found {wheels}")
    return wheels[0]


def compare_files(wheel: Path, files: list[str], folders: list[str]) -> list[str]:
    in_wheel = {n for n in zipfile.ZipFile(wheel).namelist()
                if not n.endswith("/") and not n.split("/", 1)[0].endswith(".dist-info")}
    expected = {f for f in files if f.split("/", 1)[0] in folders}
    problems = [f"missing from the wheel: {f}" for f in sorted(expected - in_wheel)]
    problems += [f"in the wheel but not a file of the package folders: {f}" for f in sorted(in_wheel - expected)]
    data = sum(1 for f in expected if not f.endswith(".py"))
    say(f"wheel {wheel.name}: {len(in_wheel)} files; package folders {', '.join(folders)}: "
        f"{len(expected)} files ({data} not .py)" + ("" if problems else " — all there, nothing else"))
    return problems


# -- 3: install into a clean venv ------------------------------------------------------------------
def constraints(tmp: Path) -> list[str]:
    """Pin the clean install to .venv's versions (the ones `make test` just tested; pip's cache has them)."""
    pip = REPO / ".venv" / "bin" / "pip"
    if not pip.exists():
        return []
    listed = run([str(pip), "list", "--format=freeze", "--exclude-editable", "--disable-pip-version-check"]).stdout
    pins = [line for line in listed.splitlines()
            if "==" in line and not line.lower().startswith(("hromada-gis==", "hromada_gis=="))]
    path = tmp / "constraints.txt"
    path.write_text("\n".join(pins) + "\n")
    return ["-c", str(path)]


# -- 4: serve from the installed package -----------------------------------------------------------
def app_env(tmp: Path, pg_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV") and not k.startswith("HROMADA_")}
    shared = Path(os.environ.get("HROMADA_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not (shared / "ukraine").is_dir():
        raise Failed(f"no shared data folder at {shared} (the demo needs ../shared/data or HROMADA_SHARED_DATA)")
    env.update(
        PYTHONNOUSERSITE="1",
        HROMADA_PGDATA=str(tmp / "pg" / "postgres"),
        HROMADA_PGPORT=str(pg_port),
        HROMADA_SHARED_DATA=str(shared.resolve()),
        HROMADA_SECRET_KEY=secrets.token_hex(32),
        HROMADA_RASTER_DIR=str(tmp / "rasters"),
        HROMADA_LOGIN_RATE_LIMIT="100 per minute",
    )
    return env


def wait_until_serving(server: subprocess.Popen, url: str, log: Path, timeout: float) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise Failed(f"`hromada run` exited with {server.returncode}:\n" + tail(log))
        try:
            with urllib.request.urlopen(url + "/hromadas", timeout=10):
                return
        except OSError:
            time.sleep(1)
    raise Failed(f"`hromada run` did not serve {url} within {timeout:.0f} s:\n" + tail(log))


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def smoke(keep: bool) -> list[str]:
    tmp = Path(tempfile.mkdtemp(prefix="hromada-wheel-smoke-"))
    os.chmod(tmp, 0o755)  # run as root, the embedded PostgreSQL runs as `postgres` and must reach its folder
    log = tmp / "smoke.log"
    server = None
    env = None
    venv = tmp / "venv"
    try:
        say(f"working in {tmp}")
        pg_port, http_port = free_port(), free_port()
        env = app_env(tmp, pg_port)  # first: no shared data folder is a problem to tell at once
        run([sys.executable, "-m", "venv", str(venv)])
        python = venv / "bin" / "python"
        files = checkout_files()
        wheel = build_wheel(tmp, python, files, log)
        problems = compare_files(wheel, files, package_folders())
        if problems:
            return problems  # a server from an incomplete wheel would only repeat them

        say("installing the wheel and its dependencies into a new venv")
        run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             *constraints(tmp), str(wheel)], log=log)
        rundir = tmp / "run"  # the current folder of everything that follows: not the checkout
        rundir.mkdir()
        where = run([str(python), "-I", "-c", "import webmap; print(webmap.__file__)"], cwd=rundir).stdout.strip()
        if not Path(where).resolve().is_relative_to(venv.resolve()):
            return [f"webmap imports from {where}, not from the installed wheel in {venv}"]

        base = f"http://127.0.0.1:{http_port}"
        say(f"hromada run: PostGIS on 127.0.0.1:{pg_port}, demo from {env['HROMADA_SHARED_DATA']}, serving {base}")
        server_log = tmp / "hromada-run.log"
        with server_log.open("w") as out:
            server = subprocess.Popen([str(venv / "bin" / "hromada"), "run", "--port", str(http_port)], cwd=rundir,
                                      env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True)
        wait_until_serving(server, base, server_log, timeout=900)
        say("serving; adding an account with every role")
        password = secrets.token_urlsafe(16)
        run([str(venv / "bin" / "hromada"), "users", "add", SMOKE_EMAIL, "--role", "operator", "--role", "admin",
             "--role", "unit_staff", "--role", "planner", "--unit", "housing", "--name", "Wheel smoke"],
            cwd=rundir, env={**env, "HROMADA_NEW_PASSWORD": password}, log=log)

        say("GET a page of each kind")
        checked = subprocess.run([str(python), "-I", str(Path(__file__).resolve()), "--pages", base],
                                 cwd=rundir, env={**env, "SMOKE_PASSWORD": password}, text=True,
                                 capture_output=True)
        print(checked.stdout, end="", flush=True)
        problems = [line for line in checked.stdout.splitlines() if line.startswith("FAIL ")]
        if checked.returncode != 0 and not problems:
            problems = [f"the page check exited with {checked.returncode}:\n{checked.stderr[-3000:]}"]
        if problems:
            print(f"--- the end of `hromada run`'s log ({server_log}):\n{tail(server_log)}", flush=True)
        return problems
    except Failed as exc:
        return [str(exc)]
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # `hromada serve` stops cleanly on SIGTERM
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        if env is not None and (venv / "bin" / "hromada").exists():
            subprocess.run([str(venv / "bin" / "hromada"), "db", "stop"], cwd=tmp, env=env, capture_output=True)
        if keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# -- 5: the pages, run by the installed venv's Python (`--pages URL`) ---------------------------------
def check_pages(base: str) -> int:
    """GET each kind of page. Imports the installed package only for its own translations."""
    import html
    import http.cookiejar
    import json
    import re
    import urllib.error
    import urllib.parse
    import urllib.request

    import webmap
    from webmap.i18n import t
    from webmap.unit_link import TEXT as UNIT_LINK_TEXT

    package_dir = Path(webmap.__file__).resolve().parent
    jar = http.cookiejar.CookieJar()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None  # a redirect is an answer to check, not to follow

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    failures = 0

    def fetch(path: str, data: dict | None = None) -> tuple[int, Message, bytes]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with opener.open(base + path, data=body, timeout=120) as r:
                return r.status, r.headers, r.read()  # case-insensitive: granian sends names in lower case
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def text_of(fragment: str) -> str:
        return html.unescape(re.sub(r"<[^>]+>", " ", fragment)).replace("\xa0", " ")

    def check(path: str, status: int = 200, h1: str | None = None, title: str | None = None,
              main: str | None = None, location: str | None = None) -> bytes:
        nonlocal failures
        started = time.monotonic()
        code, headers, body = fetch(path)
        page = body.decode("utf-8", errors="replace")
        problems = []
        if code != status:
            problems.append(f"status {code}, expected {status}")
        for where, expected, pattern in (("h1", h1, r"<h1[^>]*>(.*?)</h1>"), ("title", title, r"<title>(.*?)</title>"),
                                         ("main", main, r"<main[^>]*>(.*)</main>")):
            if expected is None:
                continue
            found = re.search(pattern, page, re.S)
            if found is None or expected not in text_of(found.group(1)):
                got = text_of(found.group(1)).strip()[:120] if found else "none"
                problems.append(f"<{where}> lacks {expected!r} (has: {got!r})")
        if location is not None and location not in headers.get("Location", ""):
            problems.append(f"Location {headers.get('Location')!r} lacks {location!r}")
        if problems:
            failures += 1
            print(f"FAIL GET {path}: " + "; ".join(problems), flush=True)
        else:
            print(f"ok   GET {path}: {code} ({len(body):,} bytes, {time.monotonic() - started:.2f} s)", flush=True)
        return body

    def en(key: str) -> str:
        return t(key, "en")

    def first_id(layer: str) -> int | None:
        _, _, body = fetch(f"/api/layers/{layer}/items?limit=1&hromada={DEMO_KATOTTG}")
        features = json.loads(body).get("features") or []
        return features[0]["id"] if features else None

    k = DEMO_KATOTTG
    print(f"pages from {package_dir}", flush=True)
    # The public side, in English (the cookie ?lang=en sets is kept: the OGC API refuses unknown parameters).
    check("/?lang=en", main=en("open_city_map"))
    check(f"/map/{k}", main=en("open_city_map"))
    check("/hromadas", h1=en("hromadas_title"))
    for page, key in (("coverage", "coverage_title"), ("roads", "roads_title"), ("lighting", "lighting_title"),
                      ("land", "land_title"), ("land/qa", "land_qa_title"), ("property", "property_title"),
                      ("reconstruction", "rc_title"), ("heritage", "heritage_title"), ("plans", "plans_title")):
        check(f"/map/{k}/{page}", h1=en(key))
    plan_id, venue_id = first_id("plans"), first_id("venues")
    if plan_id is None or venue_id is None:
        failures += 1
        print(f"FAIL the demo has no public plan ({plan_id}) or venue ({venue_id}) to show", flush=True)
    else:
        check(f"/plans/{plan_id}", title=en("plans_title"))
        check(f"/venues/{venue_id}", main=en("accessibility_for"))
    check("/venues", h1=en("venues_title"))
    check("/venues/new", h1=en("propose_new_venue"))
    check("/ogc/?f=html", h1="OGC API")
    check("/ogc/conformance?f=html", h1="Conformance")
    check("/ogc/collections?f=html", h1="Collections")
    check("/unit-link/not-a-token", status=404, h1=UNIT_LINK_TEXT["link_refused"]["en"])
    check("/account/reset", h1=en("acc_forgot_title"))
    check("/staff/", status=302, location="/staff/login")
    # Every static file of the installed package, byte for byte.
    static = package_dir / "static"
    for path in sorted(p for p in static.rglob("*") if p.is_file()):
        rel = path.relative_to(static).as_posix()
        code, _, body = fetch(f"/static/{rel}")
        if code != 200 or body != path.read_bytes():
            failures += 1
            print(f"FAIL GET /static/{rel}: status {code}, {len(body)} bytes, expected 200 and the file", flush=True)
    print(f"ok   GET /static/…: {sum(1 for p in static.rglob('*') if p.is_file())} static files", flush=True)

    # Signed in with every role.
    page = check("/staff/login", h1=en("log_in")).decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    code, headers, _ = fetch("/staff/login", {"csrf_token": token.group(1) if token else "",
                                              "email": SMOKE_EMAIL, "password": os.environ["SMOKE_PASSWORD"]})
    if code != 302:
        print(f"FAIL POST /staff/login: status {code}, expected 302 (signed in)", flush=True)
        return 1
    print(f"ok   POST /staff/login: {code} → {headers.get('Location')}", flush=True)
    queue = check("/staff/", h1=en("queue")).decode()
    report = re.search(r'href="(/staff/reports/[^"?#]+)"', queue)
    if report:
        check(report.group(1), h1=en("report"))
    check("/admin/imports", h1=en("imports"))
    check(f"/admin/{k}/setup/", h1=en("con_title"))
    for section in ("units", "districts", "assignments", "categories", "preview", "audit"):
        check(f"/admin/{k}/setup/{section}", h1=en(f"con_section_{section}"))
    check(f"/admin/{k}/staff", h1=en("acc_staff_title"))
    check("/operator/", h1=en("acc_operator_console"))
    check(f"/operator/hromadas/{k}", title=en("acc_operator_console"))
    check("/account/", h1=en("acc_my_account"))
    check("/staff/venues/proposals", h1=en("venue_proposals"))
    if plan_id is not None:  # the demo's public plan is approved: its editor shows the zones, read-only
        check(f"/plans/{plan_id}/edit", h1=en("plan_zones"))
    check(f"/map/{k}/plans/new", h1=en("plan_new"))
    check(f"/staff/edit/?hromada={k}", h1=en("fe_title"))
    print(f"{'all pages as expected' if not failures else f'{failures} page(s) failed'}", flush=True)
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, venv, database)")
    parser.add_argument("--pages", metavar="URL", help=argparse.SUPPRESS)  # the page check, in the installed venv
    args = parser.parse_args()
    if args.pages:
        return check_pages(args.pages)
    problems = smoke(args.keep)
    for problem in problems:
        print(f"wheel-smoke: {problem}", file=sys.stderr, flush=True)
    say("FAILED" if problems else "passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
