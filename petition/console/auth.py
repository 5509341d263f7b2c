"""Campaign leads' accounts: Flask-Login wiring, argon2id passwords, TOTP, login limits.

The session cookie holds only "user id:session version" (Flask-Login), the login time
(for the absolute expiry) and, between the two login steps, an encrypted note for the
code step (pending_token): never a password, never a TOTP secret. Logging out, a new
password or a new TOTP secret bump the session version, which ends every session.
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from petition.accounts import ROLES, User
from petition.crypto import decrypt, encrypt
from petition.extensions import db, login_manager
from petition.models_common import utcnow
from petition.security import ephemeral

MAX_FAILURES = 5
LOCK_MINUTES = 15
PENDING_SECONDS = 300  # time allowed between the password step and the code step
MIN_PASSWORD = 12
TOTP_ISSUER = "Open letters console"

# argon2id (memory-hard) with the library's RFC 9106 "low memory" profile.
_hasher = PasswordHasher()
# Verified against when the address is unknown, so both cases cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(24))


class AccountError(ValueError):
    """A user cannot be created or changed as asked (the message says why)."""


@login_manager.user_loader
def load_user(identifier: str) -> User | None:
    try:
        user_id, version = (int(part) for part in identifier.split(":", 1))
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


# ---- passwords ------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise AccountError("the password is too long")


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# ---- TOTP -----------------------------------------------------------------------------

def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def set_totp(user: User) -> str:
    """Give the user a new TOTP secret; returns it (shown once, stored encrypted)."""
    secret = new_totp_secret()
    user.totp_secret_enc = encrypt(secret)
    user.last_totp_step = None
    return secret


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (30 s) the code belongs to, within one step either side."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // totp.interval)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None


# ---- accounts (used by the CLI) ----------------------------------------------------------

def create_user(session: Session, *, email: str, name: str, role: str, password: str) -> tuple[User, str]:
    """Returns the user and their TOTP secret (to show once)."""
    email = email.strip().lower()
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if "@" not in email or len(email) > 254:
        raise AccountError("the email address does not look right")
    name = " ".join(name.split())
    if not name or len(name) > 120:
        raise AccountError("the name must be 1 to 120 characters")
    check_password_strength(password)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError("a user with this email already exists")
    user = User(email=email, display_name=name, role=role, password_hash=hash_password(password), active=True,
                failed_logins=0, session_version=1)
    secret = set_totp(user)
    session.add(user)
    session.flush()
    return user, secret


def find_user(session: Session, email: str) -> User | None:
    if "\x00" in email:  # PostgreSQL refuses NUL in text: no such user (found by tests/hostile)
        return None
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def end_sessions(user: User) -> None:
    """Log out every session of this user (their cookies stop matching)."""
    user.session_version = (user.session_version or 1) + 1


# ---- logging in ------------------------------------------------------------------------

# A stranger must not be able to lock a lead out, so wrong passwords never lock an
# account. They are counted (in the limiter's shared storage, under keyed hashes) per
# client and account, per account and for the whole site; past any of these budgets the
# password step withholds its verdict: right or wrong, the attempt goes on to the code
# step, and only a right password with a valid, unused code opens the console. Guessing
# then needs the password and a current code together, while the lead, whatever the
# flood, still gets in with both. Only wrong codes after a right password lock the
# account (MAX_FAILURES), and only someone who has the password can send those.
FAILURE_WINDOW_SECONDS = 15 * 60
CLIENT_FAILURES = 5            # wrong passwords from one client for one account
ACCOUNT_FAILURE_BUDGET = 20    # wrong passwords for one account, from everywhere
SITE_FAILURE_BUDGET = 200      # wrong passwords for all accounts together


@dataclass(frozen=True)
class PasswordResult:
    # The password was right and the account usable. Callers go on to the code step
    # when `pending` is set, whatever `user` says (the verdict may be withheld).
    user: User | None
    pending: str | None = None  # opaque: for the code step only (read_pending)
    withheld: bool = False


def _normal_email(email: str | None) -> str:
    return (email or "").strip().lower()[:254]


def _under_pressure(email: str, client: str) -> bool:
    return (ephemeral.count("login-client", f"{client}\x00{email}") >= CLIENT_FAILURES
            or ephemeral.count("login-account", email) >= ACCOUNT_FAILURE_BUDGET
            or ephemeral.count("login-site", "all") >= SITE_FAILURE_BUDGET)


def _count_wrong_password(email: str, client: str) -> None:
    ephemeral.incr("login-client", f"{client}\x00{email}", FAILURE_WINDOW_SECONDS)
    ephemeral.incr("login-account", email, FAILURE_WINDOW_SECONDS)
    ephemeral.incr("login-site", "all", FAILURE_WINDOW_SECONDS)


def pending_token(user: User | None, password_ok: bool, withheld: bool) -> str:
    """What the code step needs, encrypted: the session cookie is signed, not secret,
    and must not tell a client whether its password was right or the address known.
    Fixed width, so the length tells nothing either."""
    uid = user.id if user is not None else 0
    version = (user.session_version or 0) if user is not None else 0
    return encrypt(f"{uid:012d}.{version:012d}.{int(password_ok)}.{int(withheld)}")


@dataclass(frozen=True)
class Pending:
    user_id: int
    session_version: int
    password_ok: bool
    withheld: bool


def read_pending(token: object) -> Pending | None:
    if not isinstance(token, str) or len(token) > 500:
        return None
    try:
        uid, version, ok, withheld = decrypt(token).split(".")
        return Pending(int(uid), int(version), ok == "1", withheld == "1")
    except Exception:  # noqa: BLE001  tampered, old key, old format: start again
        return None


def check_password(session: Session, email: str, password: str, client: str = "",
                   now: datetime | None = None) -> PasswordResult:
    """Step one. Every failure looks the same to the caller and takes the same time:
    unknown address, wrong password, locked or deactivated account. Under pressure (see
    above) failures and successes look the same too: both go on to the code step.
    client is the caller's rate-limit key (security.keys.client_key)."""
    now = now or utcnow()
    email = _normal_email(email)
    user = find_user(session, email) if email else None
    if user is None:
        _verify(_DUMMY_HASH, password or "")
        correct = False
    else:
        correct = _verify(user.password_hash, password or "")
    withheld = _under_pressure(email, client)
    if not correct:
        _count_wrong_password(email, client)
    usable = user is not None and correct and user.active and not is_locked(user, now)
    if usable or withheld:
        return PasswordResult(user if usable else None, pending_token(user, usable, withheld), withheld)
    return PasswordResult(None)


def forget_failures(user: User, client: str) -> None:
    """After a complete login: this client's wrong passwords for the account are forgiven."""
    ephemeral.clear("login-client", f"{client}\x00{_normal_email(user.email)}")


def record_failure(session: Session, user: User, now: datetime | None = None) -> None:
    """Count a wrong code given after a right password; the fifth locks the account for
    15 minutes (only someone who has the password can get here)."""
    now = now or utcnow()
    session.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
                    .execution_options(synchronize_session=False))
    session.refresh(user)
    if user.failed_logins >= MAX_FAILURES:
        user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        user.failed_logins = 0


def is_locked(user: User, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return user.locked_until is not None and user.locked_until > now


def check_code(session: Session, user: User, code: str, now: datetime | None = None) -> bool:
    """Step two. A code is accepted once: its time step must be newer than the last one
    used (one conditional UPDATE, so two requests with one code cannot both pass)."""
    now = now or utcnow()
    if not user.active or is_locked(user, now) or not user.totp_secret_enc:
        return False
    step = _matching_step(decrypt(user.totp_secret_enc), code or "", now.timestamp())
    if step is not None:
        result = session.execute(
            update(User)
            .where(User.id == user.id, or_(User.last_totp_step.is_(None), User.last_totp_step < step))
            .values(last_totp_step=step, failed_logins=0, locked_until=None, last_login_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            session.refresh(user)
            return True
    record_failure(session, user, now)
    return False


def check_withheld_code(session: Session, user: User | None, password_ok: bool, code: str,
                        now: datetime | None = None) -> bool:
    """Step two after a withheld verdict: check_code when the password was right, and
    otherwise the same kind of work (a secret decrypted, a code computed, an UPDATE and a
    SELECT that touch no row), so its time does not tell the two apart."""
    if password_ok and user is not None:
        return check_code(session, user, code, now)
    now = now or utcnow()
    _matching_step(decrypt(encrypt(pyotp.random_base32())), code or "", now.timestamp())
    session.execute(update(User).where(User.id == -1).values(failed_logins=User.failed_logins + 1)
                    .execution_options(synchronize_session=False))
    session.execute(select(User.failed_logins).where(User.id == -1))
    return False


def unlock(user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None


# ---- the app side ------------------------------------------------------------------------

def init_app(app: Flask) -> None:
    config = app.config["PETITION"]
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=config.SESSION_HOURS)
    app.config.setdefault("REMEMBER_COOKIE_DURATION", timedelta(seconds=0))
    login_manager.login_view = "console.login"
    login_manager.login_message = None
    # Flask-Login's "session protection" hashes the client address into the cookie; we
    # never read client addresses. The session expiry and version do that job instead.
    login_manager.session_protection = None
    login_manager._session_identifier_generator = lambda: "-"

