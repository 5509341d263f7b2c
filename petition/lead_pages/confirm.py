"""Irreversible console actions are confirmed on a page of their own (no JavaScript).

The action's form posts to its URL; without `confirmed=yes` the view answers with
confirmation_page(), which repeats the submitted fields as hidden inputs under a plain
statement of what will happen and one button that posts them again with `confirmed=yes`.
Nothing has changed until that second POST."""
from __future__ import annotations

from flask import render_template, request

FIELD = "confirmed"


def confirmed() -> bool:
    return request.form.get(FIELD) == "yes"


def confirmation_page(*, title: str, message: str, action: str, back: str, button: str,
                      fields: dict[str, str] | None = None, details: list[str] | None = None, row=None,
                      letter_title: str | None = None):
    return render_template("console/confirm.html", confirm_title=title, message=message, action=action, back=back,
                           button=button, fields=fields or {}, details=details or [], row=row,
                           title=letter_title or "")
