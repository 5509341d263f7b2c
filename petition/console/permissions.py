"""Who may see which letter in the console: administrators every letter, leads the
letters they are assigned. Checked on every console URL, not only in menus."""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from petition.accounts import User
from petition.letters import services as letters
from petition.letters.models import Letter


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
