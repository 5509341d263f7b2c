"""Accounts from the command line, login with password + TOTP, limits, session expiry."""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
import pytest

from petition.accounts import User
from petition.audit import AuditEntry
from petition.console import auth
from petition.extensions import db
from petition.models_common import utcnow
from tests.console.support import PASSWORD, fresh_code, logged_in, make_user
from tests.helpers import csrf_token

GENERIC = "The email address, password or code is not right"


def _password_step(client, email, password, lang="en"):
    page = client.get(f"/{lang}/console/login")
    return client.post(f"/{lang}/console/login", data={"csrf_token": csrf_token(page.text), "email": email,
                                                       "password": password})


# ---- the command line -----------------------------------------------------------------

def test_users_create_prints_totp_once_and_hashes_with_argon2id(app, runner):
    result = runner.invoke(args=["users", "create", "--email", "Admin@Example.org", "--name", "Ada Admin",
                                 "--role", "admin", "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    uri = re.search(r"otpauth://totp/\S+", result.output).group(0)
    secret = re.search(r"secret:\s+([A-Z2-7]+)", result.output).group(1)
    assert f"secret={secret}" in uri
    user = db.session.scalar(db.select(User).where(User.email == "admin@example.org"))
    assert user.role == "admin"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert secret not in (user.totp_secret_enc or "")  # encrypted at rest
    assert auth.check_password(db.session, "admin@example.org", PASSWORD).user is not None
    assert db.session.scalar(db.select(AuditEntry.action)) == "users.create"


def test_users_create_prompts_with_confirmation_and_refuses_short_passwords(app, runner):
    result = runner.invoke(args=["users", "create", "--email", "x@example.org", "--name", "X"],
                           input="short\nshort\n")
    assert result.exit_code != 0
    assert "at least 12" in result.output
    result = runner.invoke(args=["users", "create", "--email", "x@example.org", "--name", "X"],
                           input=f"{PASSWORD}\n{PASSWORD}-typo\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output.lower() or "don't match" in result.output.lower()


def test_users_assign_list_deactivate_reset(app, runner):
    runner.invoke(args=["users", "create", "--email", "lead@example.org", "--name", "Lina", "--letter",
                        "secure-our-socials", "--password-stdin"], input=PASSWORD + "\n")
    assert runner.invoke(args=["users", "assign", "--email", "lead@example.org", "--letter",
                               "protect-women-hrds"]).exit_code == 0
    listing = runner.invoke(args=["users", "list"]).output
    assert "lead@example.org\tlead\tactive\tprotect-women-hrds, secure-our-socials" in listing
    assert runner.invoke(args=["users", "assign", "--email", "lead@example.org", "--letter", "nope"]).exit_code != 0
    result = runner.invoke(args=["users", "reset-totp", "--email", "lead@example.org"])
    assert "otpauth://" in result.output
    assert runner.invoke(args=["users", "deactivate", "--email", "lead@example.org"]).exit_code == 0
    assert "deactivated" in runner.invoke(args=["users", "list"]).output
    assert runner.invoke(args=["users", "deactivate", "--email", "ghost@example.org"]).exit_code != 0


# ---- logging in -------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "ar"])
def test_login_needs_password_then_totp(app, client, lang):
    account = make_user(app)
    assert client.get(f"/{lang}/console/").status_code == 302
    response = _password_step(client, account.email, PASSWORD, lang)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/{lang}/console/login/totp")
    # The password step alone opens nothing.
    assert client.get(f"/{lang}/console/").status_code == 302
    page = client.get(f"/{lang}/console/login/totp")
    assert page.status_code == 200 and f'lang="{lang}"' in page.text
    response = client.post(f"/{lang}/console/login/totp", data={"csrf_token": csrf_token(page.text),
                                                                "code": fresh_code(app, account)})
    assert response.status_code == 303
    home = client.get(f"/{lang}/console/")
    assert home.status_code == 200
    assert home.headers["Cache-Control"] == "no-store"
    assert "noindex" in home.headers["X-Robots-Tag"]


def test_session_cookie_holds_no_password_and_is_httponly(app, client):
    account = make_user(app)
    response = _password_step(client, account.email, PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    value = client.get_cookie("session").value
    data = serializer.loads(value)
    assert set(data["console_pending"]) == {"who", "exp", "next"}
    assert PASSWORD not in value and PASSWORD not in str(data)
    # The note for the code step is encrypted: it names neither the account nor the verdict.
    assert str(account.id) not in data["console_pending"]["who"].split(".")[0][:8]
    assert auth.read_pending(data["console_pending"]["who"]).user_id == account.id


def test_secure_cookie_in_production_settings():
    from petition.config import Config

    settings = Config(ENV="production").flask_settings()
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["SESSION_COOKIE_HTTPONLY"] is True
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_unknown_email_and_wrong_password_look_the_same(app, client):
    account = make_user(app)
    wrong = _password_step(client, account.email, "not the password at all")
    unknown = _password_step(client, "nobody@example.org", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert GENERIC in wrong.text and GENERIC in unknown.text
    strip = lambda html: re.sub(r'value="[^"]*"', "", html)  # noqa: E731
    assert strip(wrong.text) == strip(unknown.text).replace("nobody@example.org", account.email)


def _code_step(client, code, lang="en"):
    page = client.get(f"/{lang}/console/login/totp")
    if page.status_code != 200:
        return page
    return client.post(f"/{lang}/console/login/totp", data={"csrf_token": csrf_token(page.text), "code": code})


def _from(client, address):
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_a_flood_of_wrong_passwords_from_elsewhere_does_not_lock_the_lead(bare_app):
    """Attack: five wrong passwords from anywhere locked the lead out for 15 minutes, even
    with the right password and code. Here 30 come from 30 places (past every budget),
    then the lead logs in at once."""
    account = make_user(bare_app)
    for i in range(30):
        stranger = _from(bare_app.test_client(), f"198.51.100.{i + 1}")
        response = _password_step(stranger, account.email, f"wrong password {i}")
        assert response.status_code in (303, 401)
        if response.status_code == 303:  # the verdict is withheld: the code step opens nothing
            assert _code_step(stranger, "123456").status_code == 401
    lead = _from(bare_app.test_client(), "203.0.113.50")
    assert _password_step(lead, account.email, PASSWORD).status_code == 303
    assert _code_step(lead, fresh_code(bare_app, account)).status_code == 303
    assert lead.get("/en/console/").status_code == 200
    with bare_app.app_context():
        user = db.session.get(User, account.id)
        assert user.locked_until is None and not auth.is_locked(user)


def test_wrong_passwords_from_the_lead_s_own_network_do_not_lock_either(bare_app):
    """The stranger shares the lead's client (a Tor exit, a carrier NAT): past five wrong
    passwords from there the verdict is withheld, and the right password with a valid
    code still opens the console."""
    account = make_user(bare_app)
    shared = "203.0.113.60"
    for i in range(auth.CLIENT_FAILURES):
        assert _password_step(_from(bare_app.test_client(), shared), account.email, f"wrong {i}").status_code == 401
    lead = _from(bare_app.test_client(), shared)
    assert _password_step(lead, account.email, PASSWORD).status_code == 303
    assert _code_step(lead, fresh_code(bare_app, account)).status_code == 303
    assert lead.get("/en/console/").status_code == 200


def test_under_pressure_a_wrong_password_looks_like_a_right_one(bare_app):
    """Once the verdict is withheld, the password step no longer tells a guesser anything:
    right, wrong and unknown addresses all go on to the code step, and the code step
    answers them alike. The guess is counted, and a withheld verdict is good for one code."""
    account = make_user(bare_app)
    shared = "203.0.113.70"
    # Pressure is counted per address typed, known or not, so an unknown one behaves alike.
    for email in (account.email, "nobody@example.org"):
        for i in range(auth.CLIENT_FAILURES):
            assert _password_step(_from(bare_app.test_client(), shared), email, f"wrong {i}").status_code == 401
    answers = {}
    for label, email, password in (("right", account.email, PASSWORD), ("wrong", account.email, "not it at all"),
                                   ("unknown", "nobody@example.org", "not it at all")):
        guesser = _from(bare_app.test_client(), shared)
        step = _password_step(guesser, email, password)
        cookie = guesser.get_cookie("session").value
        page = guesser.get("/en/console/login/totp")
        answer = _code_step(guesser, "000000")
        again = guesser.get("/en/console/login/totp")
        answers[label] = (step.status_code, step.headers.get("Location"), len(cookie), page.status_code,
                          answer.status_code, re.sub(r'value="[^"]*"', "", answer.text), again.status_code)
    assert answers["right"] == answers["wrong"] == answers["unknown"], answers
    assert answers["right"][0] == 303 and answers["right"][4] == 401 and answers["right"][6] == 303
    # Wrong codes after a withheld wrong password never count against the account.
    with bare_app.app_context():
        assert db.session.get(User, account.id).failed_logins == 1  # the one wrong code after the right password


def test_login_counters_fail_open_when_their_storage_is_down(bare_app, caplog):
    """Fault: the limiter's storage (Redis) is unreachable. Logging in still works."""
    class Down:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("storage down")
            return fail

    bare_app.extensions["petition.ephemeral"] = Down()
    account = make_user(bare_app)
    client = bare_app.test_client()
    assert _password_step(client, account.email, "wrong password here").status_code == 401
    assert _password_step(client, account.email, PASSWORD).status_code == 303
    assert _code_step(client, fresh_code(bare_app, account)).status_code == 303
    assert "short-lived counters unavailable" in caplog.text


def test_wrong_totp_codes_count_towards_the_lock(app, client):
    account = make_user(app)
    assert _password_step(client, account.email, PASSWORD).status_code == 303
    page = client.get("/en/console/login/totp")
    for _ in range(auth.MAX_FAILURES):
        response = client.post("/en/console/login/totp", data={"csrf_token": csrf_token(page.text), "code": "000000"})
        if response.status_code == 303:  # the pending login ended with the lock
            break
        assert response.status_code == 401
    db.session.expire_all()
    assert auth.is_locked(db.session.get(User, account.id))
    # A right code no longer helps.
    response = _password_step(client, account.email, PASSWORD)
    assert response.status_code == 401


def test_a_code_is_accepted_once(app):
    account = make_user(app)
    user = db.session.get(User, account.id)
    code = pyotp.TOTP(account.secret).now()
    assert auth.check_code(db.session, user, code)
    db.session.commit()
    assert not auth.check_code(db.session, user, code)  # replay of the same step
    assert user.failed_logins == 1


def test_codes_from_adjacent_steps_only(app):
    account = make_user(app)
    user = db.session.get(User, account.id)
    totp = pyotp.TOTP(account.secret)
    now = utcnow()
    far = totp.at(now.timestamp() - 120)
    assert not auth.check_code(db.session, user, far, now=now)
    previous = totp.at(now.timestamp() - 30)
    assert auth.check_code(db.session, user, previous, now=now)
    assert not auth.check_code(db.session, user, "12345", now=now)
    assert not auth.check_code(db.session, user, "abcdef", now=now)


def test_totp_step_expires_and_cannot_be_skipped(app, client):
    account = make_user(app)
    # No password step: the code page sends you back.
    assert client.get("/en/console/login/totp").status_code == 303
    assert _password_step(client, account.email, PASSWORD).status_code == 303
    with client.session_transaction() as session:
        session["console_pending"]["exp"] = time.time() - 1
        session.modified = True
    assert client.get("/en/console/login/totp").status_code == 303


def test_logout_is_a_post_and_ends_the_session(app, client):
    account = make_user(app)
    logged_in(client, app, account)
    assert client.get("/en/console/logout").status_code == 405
    page = client.get("/en/console/")
    assert client.post("/en/console/logout", data={"csrf_token": csrf_token(page.text)}).status_code == 303
    assert client.get("/en/console/").status_code == 302


def test_sessions_expire_absolutely(app, client):
    account = make_user(app)
    logged_in(client, app, account)
    assert client.get("/en/console/").status_code == 200
    assert app.permanent_session_lifetime == timedelta(hours=app.config["PETITION"].SESSION_HOURS)
    with client.session_transaction() as session:
        session["console_auth_at"] = time.time() - app.config["PETITION"].SESSION_HOURS * 3600 - 5
    response = client.get("/en/console/")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]
    assert client.get("/en/console/").status_code == 302


def test_deactivating_ends_open_sessions(app, client, runner):
    account = make_user(app)
    logged_in(client, app, account)
    assert client.get("/en/console/").status_code == 200
    assert runner.invoke(args=["users", "deactivate", "--email", account.email]).exit_code == 0
    assert client.get("/en/console/").status_code == 302


def test_next_parameter_only_follows_local_paths(app, client):
    account = make_user(app, role="admin")
    page = client.get("/en/console/login?next=https://evil.example/")
    client.post("/en/console/login?next=https://evil.example/", data={
        "csrf_token": csrf_token(page.text), "email": account.email, "password": PASSWORD})
    page = client.get("/en/console/login/totp")
    response = client.post("/en/console/login/totp", data={"csrf_token": csrf_token(page.text),
                                                           "code": fresh_code(app, account)})
    assert response.headers["Location"].endswith("/en/console/")


def test_a_copied_cookie_is_dead_after_logout(bare_app):
    """Attack: copy the session cookie, let the lead log out, replay the copy."""
    app = bare_app
    client = app.test_client()
    account = make_user(app)
    logged_in(client, app, account)
    copied = client.get_cookie("session").value
    page = client.get("/en/console/")
    assert client.post("/en/console/logout", data={"csrf_token": csrf_token(page.text)}).status_code == 303

    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/en/console/").status_code == 302
    assert thief.get("/en/console/").headers["Location"].startswith("/en/console/login")
    # The lead can log in again at once, and the old copy stays dead.
    logged_in(app.test_client(), app, account)
    assert thief.get("/en/console/").status_code == 302


@pytest.mark.redis
def test_login_counters_in_redis_hold_no_email_or_address(make_app):
    """With the production storage: the counters are shared through Redis and their keys
    are keyed hashes only."""
    import secrets as _secrets

    import redis

    from tests.helpers import TEST_REDIS_URL

    url = TEST_REDIS_URL or "redis://127.0.0.1:6379/15"
    try:
        connection = redis.Redis.from_url(url, socket_connect_timeout=1)
        connection.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Redis at {url} is not reachable ({exc.__class__.__name__})")
    app = make_app(RATELIMIT_STORAGE_URI=url, HASH_KEY="login-counters-" + _secrets.token_hex(24))
    before = set(connection.keys("*"))
    account = make_user(app)
    try:
        for i in range(auth.CLIENT_FAILURES):
            assert _password_step(_from(app.test_client(), "192.0.2.99"), account.email, f"wrong {i}").status_code == 401
        # A second app process (same Redis) sees the same counts: the verdict is withheld.
        other = make_app(RATELIMIT_STORAGE_URI=url, HASH_KEY=app.config["PETITION"].HASH_KEY)
        assert _password_step(_from(other.test_client(), "192.0.2.99"), account.email, "wrong again").status_code == 303
        created = [key.decode() for key in set(connection.keys("*")) - before]
        assert len(created) == 3, created
        for key in created:
            assert "example.org" not in key and "192.0.2" not in key and "lead" not in key
    finally:
        created = list(set(connection.keys("*")) - before)
        if created:
            connection.delete(*created)


def test_a_failing_counter_storage_is_skipped_after_one_error(bare_app):
    """Fault: a storage that fails (or hangs to its timeout) is asked once, then skipped
    for a while, so it costs one request its timeout, not every step of every login."""
    calls = []

    class Down:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                calls.append(name)
                raise TimeoutError("storage hung")
            return fail

    bare_app.extensions["petition.ephemeral"] = Down()
    account = make_user(bare_app)
    client = bare_app.test_client()
    for _ in range(3):
        assert _password_step(client, account.email, "wrong password here").status_code == 401
    assert _password_step(client, account.email, PASSWORD).status_code == 303
    assert _code_step(client, fresh_code(bare_app, account)).status_code == 303
    assert len(calls) == 1
