"""Messages are written as bytes by petition.mail.mime.render: they must read back, with
the email package, exactly as the email package's own messages did (headers, RFC 2047
subjects and names, quoted-printable or base64 bodies), and nothing in a field may add a
header."""
from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from petition.mail.mime import Message, render, to_email

SENDER = "Open letters <letters@example.org>"

TEXTS = {
    "en": ("Confirm your signature: Secure Our Socials: protect LGBT people on Facebook and Instagram",
           "Hello,\n\nTo confirm, open this link and press the button on the page:\n"
           "https://letters.example.org/en/confirm/AbC_d-e.F1234567890abcdefghijklmnopqrstuvwxyz0123456789abcdefghij\n"
           "\nThe link works for 30 days.\n"),
    "fr": ("Confirmez votre signature : Sécurisons nos réseaux sociaux — protéger les personnes LGBT",
           "Bonjour,\n\nQuelqu’un, probablement vous, a demandé à ajouter le propriétaire de cette adresse "
           "comme signataire de la lettre ouverte « Sécurisons nos réseaux sociaux ».\n\n"
           "https://letters.example.org/fr/confirm/AbC_d-e.F1234567890abcdefghijklmnopqrstuvwxyz0123456789\n"),
    "ar": ("أكّد توقيعك: رسالة مفتوحة إلى ميتا من أجل سلامة أفراد مجتمع الميم على فيسبوك وإنستغرام",
           "مرحبًا،\n\nطلب أحدهم، وربما أنت، إضافة صاحب هذا العنوان إلى الموقّعين على الرسالة المفتوحة.\n\n"
           "https://letters.example.org/ar/confirm/AbC_d-e.F1234567890abcdefghijklmnopqrstuvwxyz0123456789\n"),
    "el": ("Επιβεβαιώστε την υπογραφή σας", "Γεια σας,\n\nhttps://letters.example.org/el/confirm/AbC\n"),
}


def message(lang: str = "en", **changes) -> Message:
    subject, text = TEXTS[lang]
    values = dict(to="Nour.Khalil@example.org", subject=subject, text=text,
                  html=f"<!doctype html><html lang=\"{lang}\"><body><p>{text}</p></body></html>\n",
                  sender="Notifications <letters@example.org>", lang=lang,
                  headers={"List-Unsubscribe": "<https://letters.example.org/en/unsubscribe/xyz>"})
    values.update(changes)
    return Message(**values)


def parsed(msg: Message):
    out = render(msg, SENDER)
    assert out.data is not None
    return out, message_from_bytes(out.data, policy=policy.default)


@pytest.mark.parametrize("lang", sorted(TEXTS))
def test_reads_back_as_written(lang):
    msg = message(lang)
    out, email = parsed(msg)
    assert email["From"] == "Notifications <letters@example.org>"
    assert email["To"] == "Nour.Khalil@example.org"
    assert email["Subject"] == msg.subject
    assert email["Content-Language"] == lang
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["MIME-Version"] == "1.0"
    assert email["Date"].datetime is not None
    assert email["Message-ID"].endswith("@example.org>")
    assert email["List-Unsubscribe"] == "<https://letters.example.org/en/unsubscribe/xyz>"
    assert email.get_content_type() == "multipart/alternative"
    plain, html = email.get_body(("plain",)), email.get_body(("html",))
    assert plain.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    assert plain.get_content().replace("\r\n", "\n") == msg.text
    assert html.get_content().replace("\r\n", "\n") == msg.html
    assert (out.envelope_from, out.to) == ("letters@example.org", "Nour.Khalil@example.org")
    # 7-bit on the wire, CRLF line ends, no line over 78 characters.
    assert out.data.isascii()
    lines = out.data.split(b"\r\n")
    assert b"\n" not in out.data.replace(b"\r\n", b"")
    assert max(len(line) for line in lines) <= 78, max(lines, key=len)
    assert not email.defects and not any(part.defects for part in email.walk())


def test_encodings_are_the_shortest_sensible():
    _, en = parsed(message("en", text="Hello,\nplain words only.\n"))
    assert en.get_body(("plain",))["Content-Transfer-Encoding"] == "7bit"
    _, fr = parsed(message("fr"))
    assert fr.get_body(("plain",))["Content-Transfer-Encoding"] == "quoted-printable"
    _, ar = parsed(message("ar"))
    assert ar.get_body(("plain",))["Content-Transfer-Encoding"] == "base64"
    assert "=?utf-8?" in render(message("ar"), SENDER).data.split(b"\r\n\r\n")[0].decode()


def test_text_only_message_is_one_part():
    msg = message("fr", html=None)
    _, email = parsed(msg)
    assert email.get_content_type() == "text/plain"
    assert email.get_content().replace("\r\n", "\n") == msg.text
    assert email["Content-Language"] == "fr"


def test_non_ascii_and_special_display_names():
    _, email = parsed(message(sender="Lettres ouvertes — Équipe <letters@example.org>"))
    assert email["From"].addresses[0].display_name == "Lettres ouvertes — Équipe"
    assert email["From"].addresses[0].addr_spec == "letters@example.org"
    _, email = parsed(message(sender='"Open letters, \\"team\\"" <letters@example.org>'))
    assert email["From"].addresses[0].display_name == 'Open letters, "team"'
    _, email = parsed(message(sender="Open Letters Inc. <letters@example.org>"))
    assert email["From"].addresses[0].display_name == "Open Letters Inc."
    _, email = parsed(message(sender=None))  # the default sender
    assert email["From"] == SENDER


def test_long_ascii_subject_is_folded_and_unfolds_to_itself():
    subject = "Confirm your signature: " + " ".join(["word"] * 40)
    out, email = parsed(message(subject=subject))
    assert email["Subject"] == subject
    assert max(len(line) for line in out.data.split(b"\r\n")) <= 78


def test_lines_starting_with_dots_and_from_survive():
    text = ".\n..two\nFrom here\n.hidden\n" + "x" * 200 + "\n"
    _, email = parsed(message(text=text, html=None))
    assert email.get_content().replace("\r\n", "\n") == text


def test_newlines_never_reach_headers():
    injected = "x\r\nX-Injected: 1"
    msg = message(subject=injected, sender="Name\nX-Injected: 2 <letters@example.org>",
                  headers={"X-Test": "a\nX-Injected: 3", "Bcc": "hidden@example.org",
                           "Content-Type": "text/html", "Bad Name": "x", "X-Ok": "fine"})
    out, email = parsed(msg)
    assert "X-Injected" not in email
    assert email.get("Bcc") is None and email.get("Cc") is None
    assert len(email.get_all("To")) == 1 and len(email.get_all("Subject")) == 1
    assert email.get_content_type() == "multipart/alternative"
    assert email["X-Ok"] == "fine"
    assert out.to == "Nour.Khalil@example.org"


def test_addresses_that_are_not_ascii_go_through_the_email_package():
    out = render(message(to="josé@exämple.org"), SENDER)
    assert out.data is None and out.email is not None
    assert out.email["To"] == "josé@exämple.org"
    assert out.to == "josé@exämple.org"


def test_to_email_is_what_is_sent():
    email = to_email(message("ar"), SENDER)
    assert email["Subject"] == TEXTS["ar"][0]
    assert "/ar/confirm/" in email.get_body(("plain",)).get_content()
