"""`hromada serve`: the app on granian (its worker process) or waitress, answering; SIGTERM stops it whole."""
import http.client
import os
import signal
import subprocess
import sys
import time

import pytest

from gis.embedded import free_port


def _get(port: int, path: str, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_serve_answers_and_stops_whole_on_sigterm(demo_db, database_url, tmp_path, server):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "HROMADA_SECRET_KEY": "test-secret"}
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "webmap.cli", "serve", "--port", str(port), "--no-worker",
                                "--server", server], env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, headers, body = _get(port, "/api/layers/settlements/items?limit=2")
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        assert status == 200 and b'"numberReturned":2' in body
        status, headers, body = _get(port, "/", headers={"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Encoding"] == "gzip" and headers["Content-Security-Policy"]
        # A client's own X-Forwarded-For changes nothing without HROMADA_PROXY_HOPS.
        status, _, body = _get(port, "/api/layers/settlements/items?limit=1", {"X-Forwarded-Host": "evil.example"})
        assert status == 200 and b"evil.example" not in body
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        time.sleep(0.5)
        assert not _group_alive(process.pid), "a worker of the server outlived it"
        assert "зупинено / stopped" in (tmp_path / "serve.log").read_text()
    finally:
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()
