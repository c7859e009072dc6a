"""A live server (waitress, as in production) and Debian's Chromium driven by Playwright."""
from __future__ import annotations

import os
import shutil
import threading
import time

import pytest
from waitress.server import create_server

from gis.embedded import free_port

# Chromium's headless shell (Debian's chromium-headless-shell), as Playwright itself prefers for headless
# runs: the same Blink without the full browser's user interface, it took a third less time over the
# page tests than `chromium --headless`. TEST_CHROMIUM names another build.
CHROMIUM = (os.environ.get("TEST_CHROMIUM") or shutil.which("chromium-headless-shell")
            or shutil.which("chromium") or "/usr/bin/chromium")
# As the machine notes advise: no background traffic out of a closed network. The map's base tiles
# come from the internet, which tests do not have: every name but the test server's fails to resolve
# at once. (Intercepting them with context.route instead sent every request of every page through
# Playwright: the browser tests took 10 % longer.)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


@pytest.fixture
def live_server(app):
    server = create_server(app, host="127.0.0.1", port=free_port(), threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    # Closed inside the server's own loop, which the trigger wakes at once: closed from this thread,
    # the loop noticed only at its next poll timeout (waitress's 1 s), a second of every page test.
    try:
        server.trigger.pull_trigger(lambda: _close_every_connection(server))
    except OSError:
        # The trigger's pipe already closed (EBADF): seen twice in some 3,000 page tests under -n 3, not
        # explained yet (the stop 33 note of issue #15). Closed from here, the loop ends at its next poll.
        _close_every_connection(server)
    thread.join(timeout=5)
    server.task_dispatcher.shutdown(timeout=5)  # its worker threads too, not one set left per test


def _close_every_connection(server) -> None:
    """The listening socket, the loop's trigger and every client connection still open: the loop
    ends when none is left."""
    for dispatcher in list(server._map.values()):
        dispatcher.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class InFlight:
    """How many of a browser context's requests have not finished yet, and how many events about
    them have come in all (for :func:`settle`)."""

    def __init__(self, context):
        self.count = 0
        self.events = 0
        context.on("request", self._started)
        context.on("requestfinished", self._ended)
        context.on("requestfailed", self._ended)

    def _started(self, _request) -> None:
        self.count += 1
        self.events += 1

    def _ended(self, _request) -> None:
        self.count -= 1
        self.events += 1


IN_FLIGHT: dict[int, InFlight] = {}  # by id() of a context made by browser_context
QUIET_SECONDS = 0.15


def settle(page, timeout: float = 30) -> None:
    """Wait until the page has loaded, fetched what its scripts ask for and drawn it: no request in
    flight for QUIET_SECONDS, and then still none once the page's main thread has run everything
    queued (a script that fetches again after drawing an answer has started that fetch by then).

    Playwright's "networkidle" waits for 500 ms of quiet after every page: a quarter of a page
    test's time, spent idle. The quiet is slept through here rather than watched: every call into
    Playwright costs some 2.5 ms of CPU in this process, its driver and Chromium (a 20 ms
    wait_for_timeout, measured), and a page's settling took eight of them. Events that come in
    meanwhile wait in Playwright's pipe; the call after the sleep takes them in, and any event at
    all means the window was not quiet."""
    tracker = IN_FLIGHT.get(id(page.context))
    if tracker is None:  # a context made elsewhere: the slower wait
        page.wait_for_load_state("networkidle")
        return
    page.wait_for_load_state("load")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tracker.count > 0:
            page.wait_for_timeout(20)  # lets Playwright deliver the request events meanwhile
            continue
        events = tracker.events
        time.sleep(QUIET_SECONDS)
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => setTimeout(done)))")
        if tracker.count == 0 and tracker.events == events:
            return
    raise TimeoutError(f"{page.url}: requests still in flight after {timeout} s")


def browser_context(browser, **options):
    """A fresh browser profile as every browser test uses it (a test with several people makes several).
    Its pages' script errors and console errors are printed when it closes: a failing test shows them."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, "locale": "uk-UA", **options})
    IN_FLIGHT[id(context)] = InFlight(context)
    errors = []
    context.on("weberror", lambda e: errors.append(f"{e.page.url if e.page else ''}: {e.error}"))
    context.on("console", lambda m: errors.append(f"{m.page.url if m.page else ''}: {m.text}")
               if m.type == "error" else None)

    def closed(ctx) -> None:
        IN_FLIGHT.pop(id(ctx), None)
        print("browser errors:", errors)

    context.on("close", closed)
    return context


@pytest.fixture
def page(browser):
    context = browser_context(browser)
    yield context.new_page()
    context.close()
