"""Accounts: the campaign leads and administrators who run letters, and which letters
each one leads. Core, because bundles, deliveries, organisations, privacy and signing
need to know who acts and whom to tell; logging in and managing accounts stay in
console/ (auth.py, cli.py).
"""
from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from petition.extensions import db
from petition.models_common import BigId, UTCDateTime, utcnow

letter_leads = Table(
    "letter_leads",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("letter_id", ForeignKey("letters.id", ondelete="CASCADE"), primary_key=True),
)

ROLES = ("admin", "lead")


class User(UserMixin, db.Model):
    """A campaign lead or administrator. Created from the command line only."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret_enc: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(10), default="lead")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped to log out every session of this user (password change, lock).
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    last_totp_step: Mapped[int | None] = mapped_column(BigId)  # refuses a replayed code
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    letters = relationship("Letter", secondary=letter_leads, lazy="selectin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


def leads_of(session, letter_id: int) -> list[User]:
    """Who hears about a letter: its active leads or, if it has none, the active
    administrators."""
    leads = list(session.scalars(
        select(User).join(letter_leads, letter_leads.c.user_id == User.id)
        .where(letter_leads.c.letter_id == letter_id, User.active.is_(True))
    ))
    return leads or list(session.scalars(select(User).where(User.role == "admin", User.active.is_(True))))
