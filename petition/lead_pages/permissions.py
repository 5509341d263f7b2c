"""Who may see which letter in the console: administrators every letter, leads the
letters they are assigned. Checked on every console URL, not only in menus."""
from __future__ import annotations

from flask import abort
from flask_login import current_user
from sqlalchemy import select

from petition.accounts import User
from petition.extensions import db
from petition.letters import services as letters
from petition.letters.models import Letter


def visible_letters(user: User) -> list[Letter]:
    """The letters user's console lists, in the order of the letter files."""
    if user.is_admin:
        rows = list(db.session.scalars(select(Letter)))
    else:
        rows = list(user.letters)
    order = {slug: i for i, slug in enumerate(letters.registry())}
    return sorted(rows, key=lambda r: (order.get(r.slug, len(order)), r.slug))


def can_access(user: User, row: Letter) -> bool:
    if not user or not user.is_authenticated or not user.active:
        return False
    return user.is_admin or any(letter.id == row.id for letter in user.letters)


def letter_for_current_user(slug: str) -> Letter:
    """The letter row if the logged-in user may manage it; 404 otherwise (a lead must not
    learn that a letter they are not assigned to exists, drafts included)."""
    row = letters.letter_row(slug)
    if row is None or not can_access(current_user, row):
        abort(404)
    return row


def require_admin() -> None:
    if not current_user.is_authenticated or not current_user.is_admin:
        abort(403)
