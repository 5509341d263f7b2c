"""Queueing mail. Nothing here sends: the outbox row commits (or not) with the change
that caused it, so a signature is never stored without its email, nor the reverse."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import insert
from sqlalchemy.orm import Session

from petition import page_cache, workers
from petition.crypto import decrypt, encrypt
from petition.i18n import text_direction
from petition.mail.models import OutboxMessage


@dataclass
class Message:
    to: str
    subject: str
    text: str
    html: str | None = None
    sender: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    lang: str = "en"


def no_newlines(value: str) -> str:
    # Header values come from our own templates and config, but a newline must never
    # reach a header whatever its source.
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def build(template: str, *, to: str, lang: str, subject: str, sender: str | None = None,
          headers: dict[str, str] | None = None, fresh: dict[str, str] | None = None, **context) -> Message:
    """Render templates/mail/<template>.txt and .html in the recipient's language.

    fresh: values that differ with every message (links, codes). When given, the
    bodies are rendered once per template, language, subject and context, and only
    these values are filled in per message (petition.page_cache), so context must
    then hold nothing personal: it becomes part of a cache key."""
    def render(kind: str, values: dict[str, str]) -> str:
        with force_locale(lang):
            return render_template(f"mail/{template}.{kind}", **context, **values,
                                   lang=lang, lang_dir=text_direction(lang), subject=subject)

    if fresh is None:
        text, html = render("txt", {}), render("html", {})
    else:
        key = ("mail", template, lang, subject, tuple(sorted(context.items())))
        text = page_cache.fill(key + ("txt",), lambda **values: render("txt", values), escape_values=False, **fresh)
        html = page_cache.fill(key + ("html",), lambda **values: render("html", values), **fresh)
    return Message(
        to=to,
        subject=no_newlines(subject),
        text=text,
        html=html,
        sender=no_newlines(sender) if sender else None,
        headers={no_newlines(k): no_newlines(v) for k, v in (headers or {}).items()},
        lang=lang,
    )


# Built once; each message's values come as parameters.
_OUTBOX_INSERT = insert(OutboxMessage.__table__)


def queue(session: Session, message: Message, *, purpose: str, letter_id: int | None = None) -> None:
    """Add the message to the outbox in the caller's transaction (one INSERT, no ORM
    object: nothing reads the row back before the sender claims it)."""
    session.execute(_OUTBOX_INSERT, {
        "payload_enc": encrypt(json.dumps(asdict(message), ensure_ascii=False)),
        "purpose": purpose,
        "letter_id": letter_id,
    })
    workers.wake_after_commit(session)


def payload(row: OutboxMessage) -> Message:
    return message_from(row.payload_enc)


def message_from(payload_enc: str) -> Message:
    """The message an outbox row's payload_enc holds (the reverse of queue())."""
    return Message(**json.loads(decrypt(payload_enc)))


def subject_for(discreet: bool, title: str, discreet_subject: str, plain_subject: str) -> str:
    """A discreet letter's mail says nothing of its topic; others name the letter."""
    return discreet_subject if discreet else f"{plain_subject}: {title}"


def default_sender(discreet: bool) -> str:
    config = current_app.config["PETITION"]
    return config.MAIL_DISCREET_SENDER if discreet else config.MAIL_DEFAULT_SENDER
