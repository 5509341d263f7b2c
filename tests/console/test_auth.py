"""Accounts from the command line, login with password + TOTP, limits, session expiry."""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
import pytest

from petition.console import auth
from petition.console.models import AuditEntry, User
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
    assert set(data["console_pending"]) == {"uid", "sv", "exp", "next"}
    assert PASSWORD not in value and PASSWORD not in str(data)


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


def test_five_failures_lock_the_account_for_fifteen_minutes(app, client):
    account = make_user(app)
    for _ in range(auth.MAX_FAILURES):
        assert _password_step(client, account.email, "wrong password 123").status_code == 401
    # Locked: even the right password gets the same generic answer.
    response = _password_step(client, account.email, PASSWORD)
    assert response.status_code == 401 and GENERIC in response.text
    user = db.session.get(User, account.id)
    db.session.refresh(user)
    assert user.locked_until > utcnow() + timedelta(minutes=14)
    # Fifteen minutes later it works again.
    assert auth.check_password(db.session, account.email, PASSWORD, now=utcnow() + timedelta(minutes=16)).user


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
