"""Starting the site as a newcomer does: the banner shows the address to open, and a site
started before `db upgrade` says so once instead of a traceback a second."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from petition import logs
from petition.config import ROOT
from tests.conftest import free_port

FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


def test_banner_addresses_survive_the_filter_client_addresses_do_not(make_app):
    make_app(PUBLIC_URL="http://192.0.2.10:8080")
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "%s", (
        " * Running on all addresses (0.0.0.0)\n * Running on http://127.0.0.1:5000\n"
        " * Running on http://[::1]:5000\n * Running on http://192.0.2.10:8080",), None)
    logs.RedactingFilter().filter(record)
    for kept in ("0.0.0.0", "http://127.0.0.1:5000", "[::1]", "http://192.0.2.10:8080"):
        assert kept in record.msg
    # a stranger's address, written where the site's own would be, is still cut out
    for client in ("203.0.113.9", "2001:db8::7", "192.0.2.11", "10.0.0.1"):
        line = logs.redact(f'{client} - - "GET /en/ HTTP/1.1" 200 from {client}')
        assert client not in line and line.count("<ip>") == 2


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PETITION_", "DATABASE_", "TEST_"))}
    env.update(
        PETITION_ENV="development",
        SECRET_KEY="first-run-secret-" + "s" * 40,
        HASH_KEY="first-run-hash-" + "h" * 40,
        DATA_KEYS=Fernet.generate_key().decode(),
        DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.db'}",
        OUTBOX_DIR=str(tmp_path / "outbox"),
        PYTHONPATH=str(ROOT),
    )
    return env


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.slow
def test_a_site_without_schema_says_once_what_to_run(tmp_path):
    env = _env(tmp_path)
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen([*FLASK, "run", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                                  stdout=log_file, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while f"Running on {base}" not in log_path.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        for lang in ("en", "ar", "en"):
            status, body = _get(f"{base}/{lang}/")
            assert status == 503
            assert "flask --app wsgi db upgrade" in body
        time.sleep(4)  # the in-process workers, had they started, would have logged by now
        text = log_path.read_text()
        assert text.count("db upgrade") == 1, text
        assert "Traceback" not in text and " 500 " not in text

        upgrade = subprocess.run([*FLASK, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, timeout=120)
        assert upgrade.returncode == 0, upgrade.stderr
        status, body = _get(f"{base}/en/")
        assert status == 200
        assert "/en/letters/secure-our-socials/" in body  # the letter files were loaded after the upgrade
        time.sleep(2)
        assert "Traceback" not in log_path.read_text()
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize("command", [["outbox", "work"], ["outbox", "drain"], ["jobs", "work"], ["jobs", "run-pending"]])
def test_a_worker_started_without_schema_says_what_to_run_and_exits(tmp_path, command):
    """A systemd unit started before the upgrade: one clear line and a failure status,
    not a loop logging a traceback every poll."""
    result = subprocess.run([*FLASK, *command], cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "run `flask --app wsgi db upgrade` first" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_letters_synced_while_a_fresh_process_starts_count_their_signatures(tmp_path):
    """`db upgrade` in one process, the site started in another: the letters are synced
    while the app is built. Synced before the signing area had connected to
    letters.synced, a letter got no counter shards and every confirmation counted
    nowhere (the count stayed 0; found by the browser test on a fresh site). Only a fresh
    process shows it: in this one, every area was imported long ago."""
    import sqlite3

    from petition.signing.models import SignatureCounter

    env = _env(tmp_path)
    upgrade = subprocess.run([*FLASK, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    started = subprocess.run([*FLASK, "db", "current"], cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert started.returncode == 0, started.stderr
    with sqlite3.connect(tmp_path / "fresh.db") as database:
        letters = database.execute("SELECT id, slug FROM letters").fetchall()
        shards = dict(database.execute("SELECT letter_id, COUNT(*) FROM signature_counters GROUP BY letter_id"))
    assert letters
    for letter_id, slug in letters:
        assert shards.get(letter_id) == SignatureCounter.SHARDS, slug
