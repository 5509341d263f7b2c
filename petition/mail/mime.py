"""A message as it is sent: bytes written directly (MIME, quoted-printable or base64
bodies, RFC 2047 headers), with the email package building only the rare message whose
addresses are not ASCII (sent with SMTPUTF8).

Why not the email package for every message: measured gain. On the real confirmation
mails (text and HTML parts, English, French and Arabic in turn), the email package costs
2.20 ms of CPU a message and this writer 0.044 ms (`bench/mail_bench.py --mode mime`,
2000 messages), while the whole sender spends about 0.46 ms a message
(`bench/mail_bench.py`, drain mode): with the email package it would need about five
times the CPU in a surge of confirmations. What it writes reads back through the email
package as it was meant (tests/mail/test_render.py).
"""
from __future__ import annotations

import binascii
import re
import secrets
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from functools import lru_cache


@dataclass
class Message:
    """What an area wants sent: the outbox stores it, the sender writes it."""
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


@dataclass(slots=True)
class Outgoing:
    """One message ready for a backend: the bytes to send (CRLF line ends, 7-bit), or for
    an address that is not ASCII the email package's message, sent with SMTPUTF8."""
    row_id: int
    message: Message
    envelope_from: str
    to: str
    data: bytes | None = None
    email: EmailMessage | None = None

    def as_bytes(self) -> bytes:
        return self.data if self.data is not None else self.email.as_bytes(policy=self.email.policy.clone(linesep="\r\n"))


_HEADER_NAME = re.compile(r"[!-9;-~]+\Z")  # printable ASCII but ":" (RFC 5322 field name)
_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+\Z")  # atoms and spaces: no quoting needed
# Headers a message may not set itself: they would change its structure or its recipients.
_RESERVED = {"from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version", "sender", "reply-to"}
LINE = 78


def _one_line(value: str) -> str:
    # Values that came through mail.services.build() are one line already: only the
    # others (the configured sender, say) pay for the clean-up.
    return no_newlines(value) if "\r" in value or "\n" in value else value


def _fold(name: str, value: str) -> str:
    """name: value, folded at spaces to lines of LINE characters where it can be; encoded
    words (RFC 2047, utf-8) when the value is not ASCII."""
    value = _one_line(value)
    if not value.isascii():
        return f"{name}: " + Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    line = f"{name}: {value}"
    if len(line) <= LINE:
        return line
    lines, current = [], f"{name}:"
    for word in value.split(" "):
        if len(current) + 1 + len(word) > LINE and current != f"{name}:" and current.strip():
            lines.append(current)
            current = ""
        current += " " + word
    lines.append(current)
    return "\r\n".join(lines)


@lru_cache(maxsize=256)
def _mailbox(value: str) -> tuple[str, str] | None:
    """("Name <addr>" for a header, addr for the envelope), or None when the address is
    not plain ASCII (the email package and SMTPUTF8 handle those)."""
    value = _one_line(value)
    name, address = parseaddr(value)
    if not address or "@" not in address or not address.isascii() or any(c in address for c in ' <>()[]\\,;:"'):
        return None
    if not name:
        return address, address
    if not name.isascii():
        phrase = Header(name, "utf-8").encode(linesep="\r\n")
    elif _PHRASE.match(name):
        phrase = name
    else:
        phrase = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{phrase} <{address}>", address


_fold_cached = lru_cache(maxsize=512)(_fold)


def _body(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, body with CRLF line ends ending in CRLF): 7bit when the
    text allows it, otherwise the shorter of quoted-printable and base64."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    data = text.replace("\n", "\r\n").encode("utf-8")
    if data.isascii() and "\x00" not in text and max(map(len, text.split("\n"))) <= LINE:
        return "7bit", data
    qp = binascii.b2a_qp(data, istext=True)
    base64_length = (len(data) + 2) // 3 * 4 * 78 // 76
    if len(qp) <= base64_length:
        return "quoted-printable", qp if qp.endswith(b"\r\n") else qp + b"=\r\n"
    chunks = [binascii.b2a_base64(data[i:i + 57], newline=False) for i in range(0, len(data), 57)]
    return "base64", b"\r\n".join(chunks) + b"\r\n"


def _part(content_type: str, text: str) -> tuple[bytes, bytes]:
    encoding, body = _body(text)
    return (f'Content-Type: {content_type}; charset="utf-8"\r\nContent-Transfer-Encoding: {encoding}'.encode(), body)


_date_cache: list = [0, ""]


def _date() -> str:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[:] = [now, formatdate(now, localtime=False)]
    return _date_cache[1]


def _message_id_domain(default_sender: str) -> str:
    return default_sender.rsplit("@", 1)[-1].strip(">") or "localhost"


def render(message: Message, default_sender: str, row_id: int = 0) -> Outgoing:
    """The message as it is sent."""
    sender = _mailbox(message.sender or default_sender)
    to = _mailbox(message.to)
    if sender is None or to is None:
        email = email_package_message(message, default_sender)
        return Outgoing(row_id, message, parseaddr(str(email["From"]))[1], parseaddr(str(email["To"]))[1], email=email)
    head = [
        f"From: {sender[0]}",
        f"To: {to[0]}",
        _fold_cached("Subject", message.subject),
        f"Date: {_date()}",
        f"Message-ID: {make_msgid(domain=_message_id_domain(default_sender))}",
        "Auto-Submitted: auto-generated",
    ]
    for name, value in message.headers.items():
        if _HEADER_NAME.match(name) and name.lower() not in _RESERVED and not name.lower().startswith("content-"):
            head.append(_fold_cached(name, value))
    head.append("MIME-Version: 1.0")
    head.append(_fold_cached("Content-Language", message.lang))
    text_headers, text_body = _part("text/plain", message.text)
    if not message.html:
        data = ("\r\n".join(head)).encode() + b"\r\n" + text_headers + b"\r\n\r\n" + text_body
    else:
        html_headers, html_body = _part("text/html", message.html)
        boundary = b"=_" + secrets.token_hex(12).encode()
        while boundary in text_body or boundary in html_body:  # only possible in 7bit text
            boundary = b"=_" + secrets.token_hex(12).encode()
        head.append(f'Content-Type: multipart/alternative; boundary="{boundary.decode()}"')
        data = b"".join((
            "\r\n".join(head).encode(), b"\r\n\r\n",
            b"--", boundary, b"\r\n", text_headers, b"\r\n\r\n", text_body,
            b"\r\n--", boundary, b"\r\n", html_headers, b"\r\n\r\n", html_body,
            b"\r\n--", boundary, b"--\r\n",
        ))
    return Outgoing(row_id, message, sender[1], to[1], data=data)


def email_package_message(message: Message, default_sender: str) -> EmailMessage:
    """The email package's message: for addresses render() leaves to it (not ASCII)."""
    email = EmailMessage()
    email["From"] = message.sender or default_sender
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain=_message_id_domain(default_sender))
    email["Auto-Submitted"] = "auto-generated"
    for name, value in message.headers.items():
        email[name] = value
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    # After set_content(), which drops Content-* headers set before it.
    email["Content-Language"] = message.lang
    return email


def to_email(message: Message, default_sender: str) -> EmailMessage:
    """What the sender sends, parsed back by the email package (for tests and tools)."""
    outgoing = render(message, default_sender)
    if outgoing.email is not None:
        return outgoing.email
    return message_from_bytes(outgoing.data, policy=policy.default)

