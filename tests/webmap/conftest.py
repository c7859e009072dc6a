"""A live server (waitress, as in production) and Debian's Chromium driven by Playwright."""
from __future__ import annotations

import shutil
import threading

import pytest
from waitress.server import create_server

from gis.embedded import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As the machine notes advise: no background traffic out of a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def live_server(app):
    server = create_server(app, host="127.0.0.1", port=free_port(), threads=4)
    closing = threading.Event()

    def run():
        try:
            server.run()
        except OSError:
            # close() from this thread can pull a socket out from under the loop's select():
            # expected while shutting down, a real failure otherwise.
            if not closing.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    closing.set()
    server.close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def browser_context(browser, **options):
    """A fresh browser profile as every browser test uses it (a test with several people makes several)."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, "locale": "uk-UA", **options})
    # The map's base tiles come from the internet, which tests do not have: answer them empty.
    context.route("https://**/*", lambda route: route.fulfill(status=204, body=""))
    return context


@pytest.fixture
def page(browser):
    context = browser_context(browser)
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    print("browser errors:", errors)
    context.close()
