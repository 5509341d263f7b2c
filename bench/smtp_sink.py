"""The benchmark's SMTP sink: a real SMTP server on a TCP port, in its own process, that
accepts every message and hands (recipient, confirm path) to the load generator.

Two servers, one feed:
  * lean (default): a minimal asyncio SMTP server written for the benchmark: greeting,
    EHLO/HELO (PIPELINING, 8BITMIME, SIZE), MAIL FROM, RCPT TO, DATA (dot-unstuffed, ended
    by a lone "." line), RSET, NOOP, VRFY, QUIT; pipelined commands are answered in order.
    No TLS, no AUTH: smtplib talks to it unchanged, as to any plain relay;
  * aiosmtpd: the aiosmtpd library's server on the same event loop, for comparison.

Each message's confirm link is found in its decoded text (7bit/8bit, quoted-printable or
base64 parts, multipart or not: French, Arabic...) and sent to whoever listens on the
feed port as one line "recipient<TAB>path\\n" per recipient ("" when there is no link).
Lines that arrive while nobody listens are kept and sent to the next listener.
"""
from __future__ import annotations

import asyncio
import binascii
import re
import signal
import socket

CONFIRM_RE = re.compile(rb"https?://[^/\s]+(/[a-z]{2}/confirm/[A-Za-z0-9_\-.]+)")
BOUNDARY_RE = re.compile(rb'boundary\s*=\s*"?([^";\r\n]+)"?', re.I)
CTE_RE = re.compile(rb"^content-transfer-encoding:[ \t]*([A-Za-z0-9-]+)", re.I | re.M)
MAX_SIZE = 32 * 1024 * 1024


def _leaves(entity: bytes, depth: int = 0):
    """The decoded bodies of a MIME entity's leaf parts, in order."""
    split = entity.find(b"\r\n\r\n")
    if split < 0:
        split = entity.find(b"\n\n")
        headers, body = (entity, b"") if split < 0 else (entity[:split], entity[split + 2:])
    else:
        headers, body = entity[:split], entity[split + 4:]
    boundary = BOUNDARY_RE.search(headers) if depth < 5 and b"multipart" in headers.lower() else None
    if boundary:
        delimiter = b"--" + boundary.group(1).strip()
        chunks = body.split(delimiter)
        for chunk in chunks[1:]:  # chunks[0] is the preamble
            if chunk.startswith(b"--"):  # the closing delimiter
                break
            yield from _leaves(chunk.lstrip(b" \t").removeprefix(b"\r\n").removeprefix(b"\n"), depth + 1)
        return
    encoding = CTE_RE.search(headers)
    encoding = encoding.group(1).lower() if encoding else b"7bit"
    try:
        if encoding == b"base64":
            body = binascii.a2b_base64(body)
        elif encoding == b"quoted-printable":
            body = binascii.a2b_qp(body)
    except (binascii.Error, ValueError):
        pass
    yield body


def confirm_path(content: bytes) -> str:
    """The path of the first confirm link in the message's decoded text, or ""."""
    for body in _leaves(content):
        match = CONFIRM_RE.search(body)
        if match:
            return match.group(1).decode()
    return ""


class Feed:
    """Lines to the load generator over a local TCP connection."""

    def __init__(self):
        self.listeners: set[asyncio.Transport] = set()
        self.pending: list[bytes] = []

    def publish(self, recipients, content: bytes) -> None:
        path = confirm_path(content).encode()
        data = b"".join(r.lower().encode() + b"\t" + path + b"\n" for r in recipients)
        if self.listeners:
            for transport in self.listeners:
                transport.write(data)
        else:
            self.pending.append(data)

    def protocol(self) -> asyncio.Protocol:
        feed = self

        class Listener(asyncio.Protocol):
            def connection_made(self, transport):
                self.transport = transport
                feed.listeners.add(transport)
                if feed.pending:
                    transport.write(b"".join(feed.pending))
                    feed.pending.clear()

            def connection_lost(self, exc):
                feed.listeners.discard(self.transport)

        return Listener()


class LeanSMTP(asyncio.Protocol):
    """One SMTP session. Commands are lines; every complete line in a read is answered,
    in order, with one write (so a pipelining client gets its replies in one packet)."""

    GREETING = b"220 sink.bench.invalid ESMTP ready\r\n"
    EHLO = (b"250-sink.bench.invalid\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
            b"250-SIZE %d\r\n250 HELP\r\n" % MAX_SIZE)

    def __init__(self, feed: Feed):
        self.feed = feed
        self.buffer = bytearray()
        self.in_data = False
        self.scanned = 0
        self.sender: bytes | None = None
        self.recipients: list[str] = []
        self.closing = False

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.GREETING)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        replies = []
        while buffer and not self.closing:
            if self.in_data:
                if buffer.startswith(b".\r\n"):  # an empty message
                    end, content = 0, b""
                    del buffer[:3]
                else:
                    end = buffer.find(b"\r\n.\r\n", max(self.scanned - 4, 0))
                    if end < 0:
                        self.scanned = len(buffer)
                        if len(buffer) > MAX_SIZE:
                            replies.append(b"552 message too big\r\n")
                            self.closing = True
                        break
                    content = bytes(buffer[:end + 2])
                    del buffer[:end + 5]
                self.in_data = False
                self.scanned = 0
                if content.startswith(b".."):
                    content = content[1:]
                content = content.replace(b"\r\n..", b"\r\n.")
                self.feed.publish(self.recipients, content)
                self.sender, self.recipients = None, []
                replies.append(b"250 OK queued\r\n")
                continue
            newline = buffer.find(b"\n")
            if newline < 0:
                if len(buffer) > 4096:
                    replies.append(b"500 line too long\r\n")
                    self.closing = True
                break
            line = bytes(buffer[:newline]).rstrip(b"\r")
            del buffer[:newline + 1]
            replies.append(self.command(line))
        if replies:
            self.transport.write(b"".join(replies))
        if self.closing:
            self.transport.close()

    def command(self, line: bytes) -> bytes:
        verb = line[:4].upper()
        if verb == b"MAIL":
            if line[4:10].upper() != b" FROM:":
                return b"501 syntax: MAIL FROM:<address>\r\n"
            self.sender, self.recipients = line[10:], []
            return b"250 OK\r\n"
        if verb == b"RCPT":
            if self.sender is None:
                return b"503 MAIL first\r\n"
            if line[4:8].upper() != b" TO:":
                return b"501 syntax: RCPT TO:<address>\r\n"
            address = line[8:].strip()
            if address.startswith(b"<"):
                address = address[1:address.find(b">")] if b">" in address else address[1:]
            else:
                address = address.split(b" ", 1)[0]
            self.recipients.append(address.decode("utf-8", "replace"))
            return b"250 OK\r\n"
        if verb == b"DATA":
            if not self.recipients:
                return b"503 RCPT first\r\n"
            self.in_data = True
            return b"354 end data with <CR><LF>.<CR><LF>\r\n"
        if verb == b"EHLO":
            self.sender, self.recipients = None, []
            return self.EHLO
        if verb == b"HELO":
            self.sender, self.recipients = None, []
            return b"250 sink.bench.invalid\r\n"
        if verb == b"RSET":
            self.sender, self.recipients = None, []
            return b"250 OK\r\n"
        if verb == b"NOOP":
            return b"250 OK\r\n"
        if verb == b"QUIT":
            self.closing = True
            return b"221 bye\r\n"
        if verb == b"VRFY":
            return b"252 cannot verify, will accept\r\n"
        return b"500 command not recognised\r\n"

    def connection_lost(self, exc):
        self.buffer = bytearray()


def _aiosmtpd_factory(feed: Feed, loop):
    from aiosmtpd.smtp import SMTP

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
            feed.publish(envelope.rcpt_tos, content)
            return "250 OK"

    handler = Handler()
    return lambda: SMTP(handler, hostname="sink.bench.invalid", loop=loop)


async def _serve(kind: str, port: int, feed_port: int, ready) -> None:
    loop = asyncio.get_running_loop()
    feed = Feed()
    factory = _aiosmtpd_factory(feed, loop) if kind == "aiosmtpd" else (lambda: LeanSMTP(feed))
    smtp = await loop.create_server(factory, "127.0.0.1", port, reuse_address=True)
    listeners = await loop.create_server(feed.protocol, "127.0.0.1", feed_port, reuse_address=True)
    stopped = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stopped.done() or stopped.set_result(None))
    ready.set()
    await stopped
    smtp.close()
    listeners.close()


def run(kind: str, port: int, feed_port: int, ready) -> None:
    """The sink process's body: serve until SIGTERM."""
    from fastloop import run_fast

    run_fast(_serve(kind, port, feed_port, ready))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Sink:
    """The running sink process, seen from the benchmark."""

    def __init__(self, process, port: int, feed_port: int):
        self.process = process
        self.port = port
        self.feed_port = feed_port

    @property
    def pid(self) -> int:
        return self.process.pid

    def subscribe(self):
        """Blocking iterator of (recipient, path), for scripts without an event loop."""
        with socket.create_connection(("127.0.0.1", self.feed_port)) as conn, conn.makefile("rb") as lines:
            for line in lines:
                address, _, path = line.rstrip(b"\n").partition(b"\t")
                yield address.decode(), path.decode()

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=5)


def start_sink(ctx, kind: str = "lean") -> Sink:
    port, feed_port = _free_port(), _free_port()
    ready = ctx.Event()
    process = ctx.Process(target=run, args=(kind, port, feed_port, ready), name=f"smtp-sink-{kind}", daemon=True)
    process.start()
    if not ready.wait(20):
        process.terminate()
        raise SystemExit("the SMTP sink did not start")
    return Sink(process, port, feed_port)
