"""Several app servers sharing one database (and one Redis) behave as one site: a form
from one server is accepted by another, mail is sent by a separate sender process, a
link is confirmed on whichever server gets it, counts agree, rate limits are shared,
and no server keeps anything on its own disk."""
from __future__ import annotations

import re
import secrets

import pytest
from sqlalchemy import func, select

from petition.extensions import db
from petition.mail.models import OutboxMessage
from petition.signing.models import SignRequest, Signature
from tests.helpers import TEST_REDIS_URL, form_values, links_in, plain_body
from tests.production.servers import Client, app_env, start_flask, start_gunicorn

SLUG = "secure-our-socials"


def site_env(app, tmp_path, smtp_server, **extra):
    return app_env(
        app.config["SQLALCHEMY_DATABASE_URI"], tmp_path,
        HASH_KEY="stateless-" + secrets.token_hex(24),  # fresh limiter keys for each test
        MAIL_SERVER=smtp_server.host, MAIL_PORT=str(smtp_server.port),
        MIN_FILL_SECONDS="0", **extra,
    )


def sign_fields(html: str, email: str) -> dict[str, str]:
    data = form_values(html)
    data.update(name="Rania Saleh", email=email, country="JO", affiliation="",
                public_visibility="initials", bundle_visibility="counted")
    return data


def count_on(client: Client, server, lang: str = "en") -> int:
    page = client.get(f"{server.base}/{lang}/letters/{SLUG}/")
    assert page.status == 200
    return int(re.search(r'class="counts big">\s*<strong>([\d,\s]+)</strong>', page.text).group(1).replace(",", "").strip())


@pytest.fixture
def servers(request):
    started = []
    yield started
    for process in started:
        process.stop()


def test_one_signature_across_two_servers_and_a_sender(make_app, tmp_path, smtp_server, servers):
    app = make_app()
    env = site_env(app, tmp_path, smtp_server)
    a = start_gunicorn(env, tmp_path, "server-a")
    servers.append(a)
    b = start_gunicorn(env, tmp_path, "server-b")
    servers.append(b)
    sender = start_flask(env, tmp_path, "sender", "outbox", "work", "--idle", "0.2")
    servers.append(sender)
    client = Client()

    # The form (and its CSRF token, kept in the signed session cookie) from A, sent to B.
    form = client.get(f"{a.base}/en/letters/{SLUG}/sign")
    assert form.status == 200
    sent = client.post(f"{b.base}/en/letters/{SLUG}/sign", sign_fields(form.text, "rania@example.org"))
    assert sent.status == 303, sent.text[:500]
    assert sent.headers["Location"].endswith(f"/en/letters/{SLUG}/sign/check-your-inbox")

    # Sent by the separate sender process, not by either web server.
    [message] = smtp_server.wait_for(1, timeout=20)
    [path] = links_in(plain_body(message), "confirm")

    # The link opened on B, the button pressed on A.
    page = client.get(f"{b.base}{path}")
    assert page.status == 200
    done = client.post(f"{a.base}{path}", form_values(page.text) | {"public_visibility": "initials",
                                                                     "bundle_visibility": "counted"})
    assert done.status == 200, done.text[:500]  # the answer with the withdrawal code
    used = client.get(f"{a.base}{path}")  # used, on every server: its holder is told so
    assert used.status == 200 and 'name="public_visibility"' not in used.text

    assert count_on(client, a) == count_on(client, b) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Signature).where(Signature.status == "confirmed")) == 1
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    # Nothing written to local disk: no mail files, nothing generated.
    assert not (tmp_path / "outbox").exists()


def test_two_servers_without_a_sender_queue_mail_for_later(make_app, tmp_path, smtp_server, servers):
    """With OUTBOX_IN_PROCESS off (production), web servers never send, nor decide what to
    send: the request waits in the intake, and `outbox drain` handles it and mails."""
    app = make_app()
    env = site_env(app, tmp_path, smtp_server)
    a = start_gunicorn(env, tmp_path, "server-a")
    servers.append(a)
    client = Client()
    form = client.get(f"{a.base}/ar/letters/{SLUG}/sign")
    assert client.post(f"{a.base}/ar/letters/{SLUG}/sign", sign_fields(form.text, "queue@example.org")).status == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SignRequest)) == 1
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert smtp_server.messages == []
    drain = start_flask(env, tmp_path, "drain", "outbox", "drain")
    assert drain.proc.wait(timeout=60) == 0, drain.output()
    smtp_server.wait_for(1)


@pytest.mark.redis
@pytest.mark.skipif(not TEST_REDIS_URL, reason="TEST_REDIS_URL is not set")
def test_rate_limits_are_shared_through_redis(make_app, tmp_path, smtp_server, servers):
    app = make_app()
    env = site_env(app, tmp_path, smtp_server, RATELIMIT_ENABLED="1", RATELIMIT_STORAGE_URI=TEST_REDIS_URL,
                   RATELIMIT_SIGN="3/minute")
    a = start_gunicorn(env, tmp_path, "server-a")
    servers.append(a)
    b = start_gunicorn(env, tmp_path, "server-b")
    servers.append(b)
    client = Client()
    health = client.get(f"{b.base}/healthz")
    assert '"redis":"ok"' in health.text.replace(" ", "")

    statuses = []
    for i, server in enumerate([a, b, a, b]):
        form = client.get(f"{server.base}/en/letters/{SLUG}/sign")
        statuses.append(client.post(f"{server.base}/en/letters/{SLUG}/sign",
                                    sign_fields(form.text, f"limit{i}@example.org")).status)
    # Three sign submissions per minute per client, counted across both servers.
    assert statuses == [303, 303, 303, 429]
