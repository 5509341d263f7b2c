"""Real processes for production tests: gunicorn app servers, outbox senders, and a
small cookie-keeping HTTP client that does not follow redirects."""
from __future__ import annotations

import http.cookiejar
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port
from tests.helpers import DATA_KEY

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"


def app_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of one site's processes, as an operator would write it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PETITION", "GUNICORN", "MAIL_", "RATELIMIT"))}
    env.update(
        PETITION_ENV="development",  # production insists on https and secure cookies
        SECRET_KEY="prod-test-secret-" + "s" * 40,
        HASH_KEY="prod-test-hash-" + "h" * 40,
        DATA_KEYS=DATA_KEY,
        DATABASE_URL=database_url,
        PUBLIC_URL="http://petition.test",
        OUTBOX_IN_PROCESS="0",
        OUTBOX_DIR=str(tmp_path / "outbox"),
        RATELIMIT_ENABLED="0",
        COUNT_CACHE_SECONDS="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class Process:
    proc: subprocess.Popen
    log: Path
    port: int | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start_gunicorn(env: dict[str, str], tmp_path: Path, name: str, *, workers: int = 1, threads: int = 2,
                   access_log: Path | None = None, port: int | None = None) -> Process:
    port = port or free_port()
    log = tmp_path / f"{name}.log"
    env = dict(env, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS=str(workers), GUNICORN_THREADS=str(threads))
    if access_log is not None:
        env["GUNICORN_ACCESS_LOG"] = str(access_log)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--config", str(GUNICORN_CONF), "wsgi:app"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    server = Process(proc, log, port)
    wait_until_up(server)
    return server


def start_flask(env: dict[str, str], tmp_path: Path, name: str, *args: str) -> Process:
    log = tmp_path / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    return Process(proc, log)


def wait_until_up(server: Process, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"server exited with {server.proc.returncode}:\n{server.output()}")
        try:
            with urllib.request.urlopen(server.base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    server.stop()
    raise AssertionError(f"server did not come up:\n{server.output()}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str


class Client:
    """Keeps cookies like a browser; one client may talk to several servers of one site
    (the cookie jar is keyed on the host, 127.0.0.1, whatever the port)."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def request(self, url: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=15) as response:
                return Response(response.status, dict(response.headers), response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read().decode("utf-8", "replace"))

    def get(self, url: str, **kw) -> Response:
        return self.request(url, **kw)

    def post(self, url: str, data: dict[str, str], **kw) -> Response:
        return self.request(url, data=data, **kw)
