"""The real site in a subprocess (gunicorn, SQLite, in-process outbox sender, a real SMTP
sink) and Debian's Chromium driven by Playwright. Every test here is marked e2e."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.production.servers import BIN, ROOT, Process, app_env, start_gunicorn

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = ROOT / "tests" / "artifacts"


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.e2e)


@dataclass
class Sink:
    host: str
    port: int
    messages: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for_mail_to(self, address: str, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for message in self.messages:
                    if message["To"] == address:
                        return message
            time.sleep(0.1)
        raise AssertionError(f"no mail to {address} within {timeout}s")


@pytest.fixture(scope="package")
def mail_sink():
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self, sink):
            self.sink = sink

        async def handle_DATA(self, server, session, envelope):
            message = message_from_bytes(envelope.content, policy=policy.default)
            with self.sink.lock:
                self.sink.messages.append(message)
            return "250 OK"

    sink = Sink(host="127.0.0.1", port=free_port())
    controller = Controller(Handler(sink), hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@dataclass
class Site:
    base: str
    env: dict[str, str]
    server: Process
    tmp: Path

    def flask(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        """Run a `flask --app wsgi ...` command against the site's database."""
        return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=self.env,
                              input=input, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="package")
def site(tmp_path_factory, mail_sink):
    tmp = tmp_path_factory.mktemp("e2e-site")
    port_hint = free_port()
    env = app_env(
        f"sqlite:///{tmp / 'site.db'}", tmp,
        PUBLIC_URL=f"http://127.0.0.1:{port_hint}",
        MAIL_SERVER=mail_sink.host, MAIL_PORT=str(mail_sink.port),
        OUTBOX_IN_PROCESS="1", MIN_FILL_SECONDS="0", RATELIMIT_ENABLED="0",
        COUNT_CACHE_SECONDS="0",
        # Each name its own batch, published by `flask signatures publish` (signing/publication.py).
        PUBLICATION_BATCH_OTHERS="0",
    )
    upgrade = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    server = start_gunicorn(env, tmp, "e2e-web", workers=1, threads=4, port=port_hint)
    yield Site(base=server.base, env=env, server=server, tmp=tmp)
    server.stop()


# Package scope, not session: Playwright's sync API allows one running instance per
# process, and other packages' browser tests (tests/security) start their own after these.
@pytest.fixture(scope="package")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        reason = f"Chromium is not installed at {CHROMIUM} (make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)  # in CI a browser test that did not run is a failure
        pytest.skip(reason)
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser profile with JavaScript off: every page must work without it."""
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1100, "height": 900},
                                  locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture(scope="package")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
