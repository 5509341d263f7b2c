"""Sending written messages: the sender interface and its two backends.

`EmailSender` is what the outbox worker talks to (in the spirit of Warehouse's
IEmailSender): `send_batch` sends messages in order and reports each result the moment it
is known, `deadline` cuts every step off before the worker's lease ends, `close` and
`close_if_idle` manage a kept connection. `backend(config)` picks one:

* SMTPBackend, when MAIL_SERVER is set: one connection kept from batch to batch (checked
  with RSET after a few idle seconds, closed after a minute idle), and when the server
  offers PIPELINING (RFC 2920) one round trip a message: its content goes in the same
  write as the next message's MAIL, RCPT and DATA. A message whose content had not left
  when the connection failed (a kept connection the server had closed) is sent again at
  once on a new one; one whose content had left is not (it may have been accepted).
* ConsoleBackend, the embedded default: each message printed to the terminal and written
  to instance/outbox/ (OUTBOX_DIR), so a person running the site locally can click the link.
"""
from __future__ import annotations

import os
import secrets
import smtplib
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from petition.mail.mime import Outgoing

# Called with (row id, None if accepted else an error) as each result is known.
OnResult = Callable[[int, "str | None"], None]


class EmailSender(Protocol):
    # time.monotonic() after which nothing may be sent (the end of the worker's lease).
    deadline: float | None

    def send_batch(self, batch: list[Outgoing], on_result: OnResult | None = None) -> dict[int, str | None]:
        """Send each in order; return {row id: None if accepted, else an error without
        personal data}, calling on_result as each result is known. An exception from
        on_result ends the batch and is raised."""

    def close(self) -> None:
        """Let go of any connection (the worker stops)."""

    def close_if_idle(self) -> None:
        """Let go of a connection that has been idle too long (the worker waits)."""


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
        self.deadline: float | None = None  # writing a file needs no cut-off

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


def backend(config) -> EmailSender:
    return SMTPBackend(config) if config.MAIL_SERVER else ConsoleBackend(config)

