"""What the areas use to mail: build a Message from templates and queue it in their own
transaction. Nothing here sends: the outbox row commits (or not) with the change that
caused it, so a signature is never stored without its email, nor the reverse."""
from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale

from petition import page_cache
from petition.i18n import text_direction
from petition.mail.mime import Message, no_newlines
from petition.mail.outbox import queue  # noqa: F401  (the areas queue their mail as mail.services.queue)


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


def subject_for(discreet: bool, title: str, discreet_subject: str, plain_subject: str) -> str:
    """A discreet letter's mail says nothing of its topic; others name the letter."""
    return discreet_subject if discreet else f"{plain_subject}: {title}"


def default_sender(discreet: bool) -> str:
    config = current_app.config["PETITION"]
    return config.MAIL_DISCREET_SENDER if discreet else config.MAIL_DEFAULT_SENDER
