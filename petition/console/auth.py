"""Campaign leads' accounts: Flask-Login wiring, argon2id passwords, TOTP, login limits.

The session cookie holds only "user id:session version" (Flask-Login), the login time
(for the absolute expiry) and, between the two login steps, the user id and a nonce:
never a password, never a TOTP secret.
"""
from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from petition.console.models import ROLES, User
from petition.extensions import db, login_manager
from petition.models_common import utcnow
from petition.privacy.crypto import decrypt, encrypt

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

@dataclass(frozen=True)
class PasswordResult:
    user: User | None  # set only when the password was right and the account usable


def check_password(session: Session, email: str, password: str, now: datetime | None = None) -> PasswordResult:
    """Step one. Every failure looks the same to the caller and takes the same time:
    unknown address, wrong password, locked or deactivated account."""
    now = now or utcnow()
    user = find_user(session, email) if email and len(email) <= 254 else None
    if user is None:
        _verify(_DUMMY_HASH, password or "")
        return PasswordResult(None)
    correct = _verify(user.password_hash, password or "")
    locked = user.locked_until is not None and user.locked_until > now
    if correct and not locked and user.active:
        return PasswordResult(user)
    if not locked:
        record_failure(session, user, now)
    return PasswordResult(None)


def record_failure(session: Session, user: User, now: datetime | None = None) -> None:
    """Count a failed attempt (password or code); the fifth locks the account for 15 minutes."""
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


def now_seconds() -> float:
    return time.time()
