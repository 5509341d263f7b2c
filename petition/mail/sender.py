"""Sending the outbox: claim due rows, send them over one SMTP connection, delete each
row the moment the server has accepted its message, back off on what it refused.

At least once, and twice only for what was in flight: several senders may run at once,
and rows are claimed with a short lease (locked_until; OUTBOX_LEASE_SECONDS, a minute),
on PostgreSQL in one statement with FOR UPDATE SKIP LOCKED. A message is sent only
while its sender holds the lease: the lease of the rows still to send is renewed (one
UPDATE, only if it is still this sender's) once half of it has gone, and every SMTP
read and write is cut off before the lease ends, so however slow the relay, no other
sender takes a row that is being sent. Each accepted message's row is deleted at once
(one DELETE): a sender killed or cut from the database at any instant sends again at
most the one message the relay had accepted and it had not yet deleted, and its other
rows go to the next sender when the lease ends.

A long-running sender (`flask outbox work`, the in-process thread) keeps its database
connection and its SMTP connection from one batch to the next: a connection left idle a
few seconds is checked with RSET before reuse, one idle for a minute is closed, and a
message whose content had not left when the connection failed (a kept connection the
server had closed) is sent again at once on a new one. Messages are written as bytes
directly (MIME, quoted-printable or base64 bodies, RFC 2047 headers; the email package
builds only the rare message whose addresses are not ASCII, sent with SMTPUTF8), and
when the server offers PIPELINING (RFC 2920) each message costs one round trip: its
content goes in the same write as the next message's MAIL, RCPT and DATA."""
from __future__ import annotations

import binascii
import logging
import os
import re
import secrets
import smtplib
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from functools import lru_cache
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import bindparam, delete, or_, select, update

from petition import outages, workers
from petition.extensions import db
from petition.logs import redact
from petition.mail.models import OutboxMessage
from petition.mail.services import Message, message_from, no_newlines
from petition.models_common import utcnow

log = logging.getLogger("petition.mail")

MAX_BACKOFF = timedelta(hours=1)
BATCH = 200
# When this process's sender last made progress (time.monotonic()): see stuck_for().
_progress = [time.monotonic()]


def stuck_for() -> float:
    """Seconds since the sender last made progress. Every SMTP step has a timeout and
    every wait a limit, but libpq has no read timeout: a database server that hangs with
    its connection open holds a sender forever. `flask outbox work` exits when this grows
    past a few leases (its rows are the next sender's when its lease ends) and systemd
    starts it again."""
    return time.monotonic() - _progress[0]


# Work that produces mail and runs in the sender's loop just before each batch, so that
# one sender (in-process or `flask outbox work`) is all a site needs: each is a factory
# of a per-worker callable returning how much it did (the signing intake registers one).
_stages: list = []


def register_stage(factory) -> None:
    if factory not in _stages:
        _stages.append(factory)


def _run_stages(stages) -> int:
    done = 0
    for stage in stages:
        try:
            done += stage()
            outages.recovered("outbox stage", log)
        except Exception as exc:  # the database went away: the stage retries next round
            outages.report("outbox stage", exc, log)
            db.session.rollback()
    return done


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour: SMTP outages are waited out, not lost."""
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


# ---- building messages ------------------------------------------------------------------

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
        email = _email_package(message, default_sender)
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


def _email_package(message: Message, default_sender: str) -> EmailMessage:
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


# ---- backends ----------------------------------------------------------------------------

class Results(dict):
    """{row id: None if accepted, else an error}: each result, as it is set, is handed to
    on_result (the sender marks the row there, before the next message goes)."""

    def __init__(self, on_result=None):
        super().__init__()
        self.on_result = on_result

    def __setitem__(self, row_id: int, error: str | None) -> None:
        super().__setitem__(row_id, error)
        if self.on_result is not None:
            self.on_result(row_id, error)


class LeaseEnded(TimeoutError):
    """The sender's lease on its rows is about to end: stop sending (another sender may
    take them)."""


class SMTPBackend:
    CHECK_AFTER = 5.0  # seconds idle after which a kept connection is checked with RSET
    MAX_IDLE = 60.0  # seconds idle after which it is closed
    MAX_MESSAGES = 1000  # per connection, then a new one

    def __init__(self, config):
        self.config = config
        self.conn: smtplib.SMTP | None = None
        self.pipelining = False
        self.last_used = 0.0
        self.count = 0
        self.data_sent = False
        # time.monotonic() after which nothing may be sent (the end of the sender's lease).
        self.deadline: float | None = None

    def _clock(self) -> None:
        """Before each SMTP read or write: the socket may wait no longer than MAIL_TIMEOUT,
        and never past the deadline."""
        if self.deadline is None:
            return
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise LeaseEnded("lease deadline")
        if self.conn is not None and self.conn.sock is not None:
            self.conn.sock.settimeout(min(float(self.config.MAIL_TIMEOUT), left))

    def open(self) -> smtplib.SMTP:
        c = self.config
        if c.MAIL_USE_SSL:
            conn = smtplib.SMTP_SSL(c.MAIL_SERVER, c.MAIL_PORT, timeout=c.MAIL_TIMEOUT, context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(c.MAIL_SERVER, c.MAIL_PORT, timeout=c.MAIL_TIMEOUT)
            if c.MAIL_USE_TLS:
                conn.starttls(context=ssl.create_default_context())
        if c.MAIL_USERNAME:
            conn.login(c.MAIL_USERNAME, c.MAIL_PASSWORD)
        conn.ehlo_or_helo_if_needed()
        return conn

    def _connect(self) -> None:
        self.conn = self.open()
        self.pipelining = self.conn.has_extn("pipelining")
        self.count = 0

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None

    def close(self) -> None:
        """QUIT politely (a long-running sender calls this when it stops or idles)."""
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._drop()

    def close_if_idle(self) -> None:
        if self.conn is not None and time.monotonic() - self.last_used > self.MAX_IDLE:
            self.close()

    def _ready(self) -> None:
        """A connection to send on: the kept one (checked with RSET if it idled a while)
        or a new one."""
        if self.conn is not None:
            idle = time.monotonic() - self.last_used
            if idle > self.MAX_IDLE or self.count >= self.MAX_MESSAGES:
                self.close()
            elif idle > self.CHECK_AFTER:
                try:
                    if self.conn.rset()[0] == 250:
                        return
                except OSError:
                    pass
                self._drop()
            else:
                return
        self._connect()

    def send_batch(self, batch: list[Outgoing], on_result=None) -> dict[int, str | None]:
        """Send each; return {row id: None if accepted, else an error without personal data},
        calling on_result(row id, error) as each result is known. An exception from
        on_result ends the batch (the connection is dropped: a message whose content had
        not gone is not delivered) and is raised.

        A message whose content had not left when the connection failed (a kept connection
        the server had closed, say) is retried once on a new connection: the server cannot
        have accepted it. One whose content had left is not: it may have been accepted.
        Past the deadline nothing more is sent: the rest has no result."""
        results = Results(on_result)
        retried: set[int] = set()
        pending = batch
        while pending:
            if self.deadline is not None and time.monotonic() >= self.deadline:
                self._drop()
                break
            try:
                self._ready()
                self._clock()
            except OSError as exc:  # smtplib's exceptions are OSErrors too
                self._drop()
                for out in pending:
                    results[out.row_id] = f"connect: {exc.__class__.__name__}"
                break
            except BaseException:
                self._drop()
                raise
            try:
                self._send_all(pending, results)
            except BaseException as exc:
                self._drop()
                if not isinstance(exc, OSError):
                    raise
                # Disconnected or timed out (refusals are in results).
                out = next((o for o in pending if o.row_id not in results), None)
                if out is not None and not isinstance(exc, LeaseEnded):
                    if self.data_sent or out.row_id in retried:
                        results[out.row_id] = f"send: {exc.__class__.__name__}"
                    else:
                        retried.add(out.row_id)
                elif out is not None and self.data_sent:
                    results[out.row_id] = "send: lease ended"  # in flight: may have been accepted
            pending = [o for o in pending if o.row_id not in results]
        self.last_used = time.monotonic()
        return results

    def _send_all(self, pending: list[Outgoing], results: dict[int, str | None]) -> None:
        run: list[Outgoing] = []
        for out in pending:
            if out.data is not None and self.pipelining:
                run.append(out)
                continue
            if run:
                self._pipelined(run, results)
                run = []
            self._one(out, results)
        if run:
            self._pipelined(run, results)

    def _one(self, out: Outgoing, results: dict[int, str | None]) -> None:
        """A command at a time: servers without PIPELINING, and SMTPUTF8 mail (which
        smtplib's send_message writes and sends)."""
        conn = self.conn
        self.count += 1
        self.data_sent = False
        self._clock()
        if out.data is None:
            self.data_sent = True  # send_message does not say how far it got
            try:
                conn.send_message(out.email)
                results[out.row_id] = None
            except OSError as exc:
                if not isinstance(exc, smtplib.SMTPException) or isinstance(exc, smtplib.SMTPServerDisconnected):
                    raise
                code = getattr(exc, "smtp_code", "")
                results[out.row_id] = f"send: {exc.__class__.__name__} {code}".strip()
                self.data_sent = False  # a failure from here on concerns the next message
                conn.rset()
            return
        options = [f"SIZE={len(out.data)}"] if conn.has_extn("size") else []
        code = conn.mail(out.envelope_from, options)[0]
        self._clock()
        if code != 250:
            results[out.row_id] = f"send: SMTPSenderRefused {code}"
        elif conn.rcpt(out.to)[0] not in (250, 251):
            results[out.row_id] = "send: SMTPRecipientsRefused"
        else:
            self._clock()
            conn.putcmd("data")
            code, _reply = conn.getreply()
            if code != 354:
                results[out.row_id] = f"send: SMTPDataError {code}"
            else:
                self._clock()
                self.data_sent = True
                conn.send(_content(out.data))
                code, _reply = conn.getreply()
                results[out.row_id] = None if code == 250 else f"send: SMTPDataError {code}"
                return
        conn.rset()

    def _pipelined(self, run: list[Outgoing], results: dict[int, str | None]) -> None:
        """RFC 2920: a message's MAIL, RCPT and DATA go in one write, and its content in
        the next one together with the following message's MAIL, RCPT and DATA: one
        round trip a message. Refusals are recorded; a lost connection raises."""
        conn = self.conn
        self._clock()
        conn.send(_envelope(run[0]))
        for i, out in enumerate(run):
            self.data_sent = False
            self.count += 1
            self._clock()
            mail, rcpt, data = conn.getreply(), conn.getreply(), conn.getreply()
            following = _envelope(run[i + 1]) if i + 1 < len(run) else b""
            if mail[0] == 250 and rcpt[0] in (250, 251) and data[0] == 354:
                self._clock()
                self.data_sent = True
                conn.send(_content(out.data) + following)
                code, _reply = conn.getreply()
                results[out.row_id] = None if code == 250 else f"send: SMTPDataError {code}"
                continue
            if data[0] == 354:  # a server that opened DATA anyway: close it empty
                conn.send(b".\r\n")
                conn.getreply()
            if mail[0] != 250:
                results[out.row_id] = f"send: SMTPSenderRefused {mail[0]}"
            elif rcpt[0] not in (250, 251):
                results[out.row_id] = "send: SMTPRecipientsRefused"
            else:
                results[out.row_id] = f"send: SMTPDataError {data[0]}"
            conn.send(b"RSET\r\n" + following)
            conn.getreply()


def _envelope(out: Outgoing) -> bytes:
    # Addresses here are ASCII without spaces, brackets or line breaks (see _mailbox).
    return f"MAIL FROM:<{out.envelope_from}>\r\nRCPT TO:<{out.to}>\r\nDATA\r\n".encode("ascii")


def _content(data: bytes) -> bytes:
    """Dot-stuffed (RFC 5321 4.5.2) and ended by the lone dot."""
    data = data.replace(b"\r\n.", b"\r\n..")
    if data.startswith(b"."):
        data = b"." + data
    return data + b".\r\n"


class ConsoleBackend:
    """The embedded default: each message printed to the terminal and written to
    instance/outbox/, so a person running the site locally can click the link."""

    def __init__(self, config):
        self.directory = Path(config.OUTBOX_DIR)

    def send_batch(self, batch: list[Outgoing], on_result=None) -> dict[int, str | None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        results = Results(on_result)
        for out in batch:
            path = self._new_file(out.as_bytes())
            sys.stdout.write(
                f"\n----- development mail (written to {path}) -----\n"
                f"To: {out.message.to}\nSubject: {out.message.subject}\n\n"
                f"{out.message.text}\n-----\n"
            )
            sys.stdout.flush()
            results[out.row_id] = None
        return results

    def _new_file(self, data: bytes) -> Path:
        """<time>-<random>.eml, never an existing file: row ids are reused on SQLite and
        several messages share a second, so neither names a message alone."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        while True:
            path = self.directory / f"{stamp}-{secrets.token_hex(4)}.eml"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            return path

    def close(self) -> None:
        pass

    def close_if_idle(self) -> None:
        pass


def backend(config):
    return SMTPBackend(config) if config.MAIL_SERVER else ConsoleBackend(config)


# ---- the outbox table ---------------------------------------------------------------------

_O = OutboxMessage


def _due():
    return (_O.next_attempt_at <= bindparam("now"),
            or_(_O.locked_until.is_(None), _O.locked_until < bindparam("now")))


@dataclass(frozen=True)
class Statements:
    claim: object  # lease due rows nobody holds and return them
    sent: object  # delete one row whose message the server accepted
    renew: object  # extend this sender's lease on rows it still holds, returning them
    failed: object  # reschedule a refused row (only while this sender holds it)
    release: object  # give back rows never tried (only those this sender holds)


@lru_cache(maxsize=None)
def _statements(dialect: str) -> Statements:
    """The sender's statements, built once per dialect (SQLAlchemy caches their SQL).

    A lease is ours while locked_until still holds the value we wrote: another sender can
    only claim a row once that time has passed, and writes a later one."""
    columns = (_O.id, _O.payload_enc, _O.attempts)
    if dialect == "postgresql":
        # One statement: pick due rows nobody holds, lease them, return them.
        picked = (select(_O.id).where(*_due()).order_by(_O.id).limit(bindparam("limit"))
                  .with_for_update(skip_locked=True).cte("picked"))
        claim = update(_O).where(_O.id == picked.c.id).values(locked_until=bindparam("lease")).returning(*columns)
    else:
        # SQLite: one writer at a time (the transaction began with BEGIN IMMEDIATE).
        picked = select(_O.id).where(*_due()).order_by(_O.id).limit(bindparam("limit")).scalar_subquery()
        claim = update(_O).where(_O.id.in_(picked)).values(locked_until=bindparam("lease")).returning(*columns)
    ours = _O.locked_until == bindparam("held")
    return Statements(
        claim=claim,
        sent=delete(_O).where(_O.id == bindparam("row_id")),
        renew=(update(_O).where(_O.id.in_(bindparam("ids", expanding=True)), ours)
               .values(locked_until=bindparam("lease")).returning(_O.id)),
        failed=(update(_O).where(_O.id == bindparam("row_id"), ours)
                .values(attempts=bindparam("attempts"), next_attempt_at=bindparam("next_at"),
                        locked_until=None, last_error=bindparam("error"))),
        release=update(_O).where(_O.id.in_(bindparam("ids", expanding=True)), ours).values(locked_until=None),
    )


class MarkingFailed(Exception):
    """An accepted message's row could not be deleted (the database went away)."""


class LeaseLost(Exception):
    """Rows this sender claimed are no longer its own: it stops sending them."""


class _Claim:
    """One batch's lease: the rows still to send, the lease value that proves they are
    ours, and when to renew it and when to stop sending (time.monotonic())."""

    def __init__(self, ids, held, started: float, lease: timedelta):
        self.unsent = set(ids)
        self.held = held
        self.accepted: list[int] = []
        self.unmarked: list[int] = []
        self.errors: dict[int, str] = {}
        self.extend(held, started, lease)

    def extend(self, held, started: float, lease: timedelta) -> None:
        seconds = lease.total_seconds()
        self.held = held
        self.renew_at = started + seconds / 2
        self.deadline = started + seconds * 5 / 6


class Sender:
    """One sender's database connection and mail backend, kept from batch to batch."""

    def __init__(self, config=None):
        self.config = config or current_app.config["PETITION"]
        self.backend = backend(self.config)
        self.connection = None
        self.engine = db.engine
        self.postgres = self.engine.dialect.name == "postgresql"
        self.statements = _statements(self.engine.dialect.name)
        # A killed sender's rows are free again this long after its last claim or
        # renewal. Renewed once half of it has gone; nothing is sent in its last sixth
        # (clock differences between machines, the renewal's own round trip).
        self.lease = timedelta(seconds=self.config.OUTBOX_LEASE_SECONDS)

    def _conn(self):
        if self.connection is None or self.connection.closed or self.connection.invalidated:
            self.close_database()
            connection = self.engine.connect()
            if self.postgres:
                # Every statement here stands alone (the claim is one statement), so no
                # BEGIN/COMMIT round trips. SQLite keeps transactions (BEGIN IMMEDIATE).
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            self.connection = connection
        return self.connection

    def _execute(self, statement, params):
        """Run one statement and commit (a no-op on PostgreSQL's autocommit connection);
        a failure drops the connection, so the next call opens a new one."""
        from petition.database import writing

        with writing():
            try:
                conn = self._conn()
                result = conn.execute(statement, params)
                rows = result.all() if result.returns_rows else None
                conn.commit()
                return rows
            except Exception:
                self.close_database()
                raise

    def deliver_due(self, limit: int = BATCH) -> tuple[int, int]:
        """Send one batch of due messages. Returns (sent, failed)."""
        started, now = time.monotonic(), utcnow()
        rows = self._execute(self.statements.claim, {"now": now, "lease": now + self.lease, "limit": limit})
        if not rows:
            return 0, 0
        claim = _Claim((row_id for row_id, _p, _a in rows), now + self.lease, started, self.lease)
        default_sender = self.config.MAIL_DEFAULT_SENDER
        batch = []
        for row_id, payload_enc, _attempts in sorted(rows):
            try:
                batch.append(render(message_from(payload_enc), default_sender, row_id))
            except Exception as exc:  # a key removed too early, a malformed row: retried later
                claim.unsent.discard(row_id)
                claim.errors[row_id] = f"build: {exc.__class__.__name__}"
        self.backend.deadline = claim.deadline
        try:
            if batch:
                self.backend.send_batch(batch, lambda row_id, error: self._result(claim, row_id, error))
        except MarkingFailed:
            self._mark_until_deadline(claim)
        except LeaseLost:
            log.warning("outbox: a lease was lost (this sender was held up); its rows are left to the other sender")
        finally:
            self.backend.deadline = None
        self._reschedule(claim, rows)
        if claim.errors:
            log.warning("outbox: %d sent, %d failed and rescheduled", len(claim.accepted), len(claim.errors))
        return len(claim.accepted), len(claim.errors)

    def _result(self, claim: _Claim, row_id: int, error: str | None) -> None:
        """Called as the server answers each message, before the next one goes."""
        _progress[0] = time.monotonic()
        claim.unsent.discard(row_id)
        if error is None:
            claim.accepted.append(row_id)
            try:
                self._execute(self.statements.sent, {"row_id": row_id})
            except Exception as exc:
                claim.unmarked.append(row_id)
                raise MarkingFailed() from exc
        else:
            claim.errors[row_id] = error
        if claim.unsent and time.monotonic() >= claim.renew_at:
            self._renew(claim)

    def _renew(self, claim: _Claim) -> None:
        started, now = time.monotonic(), utcnow()
        ids = sorted(claim.unsent)
        try:
            kept = {row_id for (row_id,) in self._execute(
                self.statements.renew, {"ids": ids, "held": claim.held, "lease": now + self.lease})}
        except Exception as exc:  # no database: stop before the lease runs out
            raise MarkingFailed() from exc
        claim.extend(now + self.lease, started, self.lease)
        self.backend.deadline = claim.deadline
        if kept != claim.unsent:
            claim.unsent &= kept
            raise LeaseLost()

    def _mark_until_deadline(self, claim: _Claim) -> None:
        """The database went away while marking: keep trying to delete the rows of the
        accepted messages until the lease ends, so a short outage sends nothing twice."""
        while claim.unmarked:
            try:
                for row_id in list(claim.unmarked):
                    self._execute(self.statements.sent, {"row_id": row_id})
                    claim.unmarked.remove(row_id)
            except Exception:
                if time.monotonic() + 0.5 >= claim.deadline:
                    log.warning("outbox: %d sent messages could not be marked before their lease ended; "
                                "they will be sent again", len(claim.unmarked))
                    return
                time.sleep(0.25)

    def _reschedule(self, claim: _Claim, rows) -> None:
        """Back off on refused rows; give back at once the rows never tried. Both only
        while the lease is ours; if the database is away they wait for the lease to end."""
        now = utcnow()
        attempts = {row_id: count for row_id, _payload, count in rows}
        retry = [{"row_id": row_id, "attempts": attempts[row_id] + 1, "held": claim.held,
                  "next_at": now + backoff(attempts[row_id] + 1), "error": redact(error)[:300]}
                 for row_id, error in claim.errors.items()]
        untried = sorted(claim.unsent)
        try:
            if retry:
                self._execute(self.statements.failed, retry)
            if untried:
                self._execute(self.statements.release, {"ids": untried, "held": claim.held})
        except Exception:
            log.warning("outbox: could not reschedule %d rows; they are retried when their lease ends",
                        len(retry) + len(untried))

    def idle(self) -> None:
        self.backend.close_if_idle()

    def close_database(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # already broken: nothing to give back
                pass
            self.connection = None

    def close(self) -> None:
        self.backend.close()
        self.close_database()


def deliver_due(limit: int = BATCH) -> tuple[int, int]:
    """Send one batch of due messages over a connection of its own. Returns (sent, failed)."""
    sender = Sender()
    try:
        return sender.deliver_due(limit)
    finally:
        sender.close()


def drain(max_rounds: int = 10_000) -> tuple[int, int]:
    """Send everything due now, in batches. Returns totals (sent, failed)."""
    total_sent = total_failed = 0
    sender = Sender()
    stages = [factory() for factory in _stages]
    try:
        for _ in range(max_rounds):
            produced = _run_stages(stages)
            sent, failed = sender.deliver_due()
            total_sent += sent
            total_failed += failed
            if produced == 0 and (sent + failed == 0 or sent == 0):
                break
    finally:
        sender.close()
    return total_sent, total_failed


def work(stop: threading.Event, idle_seconds: float = 1.0) -> None:
    """Run until stop is set: send as soon as woken, otherwise poll every idle_seconds."""
    sender = Sender()
    stages = [factory() for factory in _stages]
    waiter = workers.Waiter()
    try:
        while not stop.is_set():
            produced = _run_stages(stages)
            _progress[0] = time.monotonic()
            try:
                sent, failed = sender.deliver_due()
                outages.recovered("outbox database", log)
            except Exception as exc:  # the database went away: keep the sender alive and retry
                outages.report("outbox database", exc, log)
                sender.close_database()
                sent = failed = 0
            # A full batch means more may be due: go on at once. Otherwise (or when nothing
            # could be sent: the SMTP server is down) wait to be woken or for the next poll.
            if produced == 0 and (sent == 0 or sent + failed < BATCH):
                sender.idle()
                waiter.wait(idle_seconds)
    finally:
        sender.close()
        db.session.remove()


def init_app(app: Flask) -> None:
    workers.add(app, "outbox-sender", work)
