"""A minimal HTTP/1.1 client for the load generator: asyncio Protocol, one keep-alive
connection per virtual user, nothing else. Written because aiohttp's generality cost
more CPU per request than the server work the benchmark measures.

    client = Client("127.0.0.1", 8000)
    response = await client.request("GET", "/healthz", headers={"Cookie": "a=b"})
    response.status, response.header("content-type"), response.header_all("set-cookie"), response.text()

What it does: Host and Content-Length written for you; a form body from a dict; the
status line, headers (repeated ones such as Set-Cookie kept), and a body delimited by
Content-Length, chunked transfer encoding, or the end of the connection; no body for
HEAD, 1xx, 204 and 304. The connection is kept until the server closes it (gunicorn's
keep-alive timeout, "Connection: close") and opened again for the next request; a
request sent on a kept connection that the server closed before answering a single byte
is sent again once on a new one, as browsers do. No TLS, no redirects, no cookies jar,
no compression, no proxies.
"""
from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import socket
from urllib.parse import urlencode

HEAD, LENGTH, CHUNKED, UNTIL_CLOSE = range(4)


class ClosedBeforeResponse(ConnectionError):
    """The server closed the connection before a byte of the response: safe to resend."""


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes):
        self.status = status
        self.headers = headers  # (lower-case name, value), in order
        self.body = body

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _Protocol(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.received = False
        self.state = HEAD

    # asyncio callbacks ----------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # nothing asked: a server talking out of turn
            self.transport.close()
            return
        self.received = True
        self.buffer += data
        try:
            self._parse()
        except (ValueError, IndexError) as exc:
            self._fail(ConnectionError(f"malformed response: {exc}"))
            self.transport.close()

    def eof_received(self):
        return False  # close our side too

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self.waiter is None:
            return
        if self.state == UNTIL_CLOSE:
            self._finish(bytes(self.buffer))
        elif not self.received:
            self._fail(ClosedBeforeResponse("connection closed before the response"))
        else:
            self._fail(exc or ConnectionResetError("connection closed during the response"))

    # requests -------------------------------------------------------------------
    def send(self, raw: bytes, head_only: bool, timeout: float) -> asyncio.Future:
        self.waiter = self.loop.create_future()
        self.received = False
        self.state = HEAD
        self.head_only = head_only
        self.buffer.clear()
        self.timer = self.loop.call_later(timeout, self._timeout)
        self.transport.write(raw)
        return self.waiter

    def _timeout(self) -> None:
        self._fail(asyncio.TimeoutError())
        self.transport.abort()

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if self.timer:
            self.timer.cancel()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _finish(self, body: bytes) -> None:
        waiter, self.waiter = self.waiter, None
        if self.timer:
            self.timer.cancel()
        if self.keep_alive is False:
            self.closed = True
            self.transport.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(Response(self.status, self.headers, body))

    def _parse(self) -> None:
        buffer = self.buffer
        while self.waiter is not None:
            if self.state == HEAD:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
                del buffer[:end + 4]
                version, status = lines[0][:8], int(lines[0][9:12])
                headers = []
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers.append((name.strip().lower(), value.strip()))
                if 100 <= status < 200:  # 100 Continue and the like: the real answer follows
                    continue
                self.status, self.headers = status, headers
                connection = length = encoding = None
                for name, value in headers:
                    if name == "content-length":
                        length = int(value)
                    elif name == "transfer-encoding":
                        encoding = value.lower()
                    elif name == "connection":
                        connection = value.lower()
                self.keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
                if self.head_only or status in (204, 304):
                    self._finish(b"")
                elif encoding and "chunked" in encoding:
                    self.state, self.chunks = CHUNKED, []
                elif length is not None:
                    self.state, self.remaining = LENGTH, length
                else:
                    self.state, self.keep_alive = UNTIL_CLOSE, False
                    return
            elif self.state == LENGTH:
                if len(buffer) < self.remaining:
                    return
                body = bytes(buffer[:self.remaining])
                del buffer[:self.remaining]
                self._finish(body)
            elif self.state == CHUNKED:
                line_end = buffer.find(b"\r\n")
                if line_end < 0:
                    return
                size = int(bytes(buffer[:line_end]).split(b";", 1)[0], 16)
                if size == 0:
                    trailer_end = buffer.find(b"\r\n\r\n", line_end)  # after the trailers, if any
                    if trailer_end < 0:
                        return
                    del buffer[:trailer_end + 4]
                    self._finish(b"".join(self.chunks))
                    continue
                if len(buffer) < line_end + 2 + size + 2:
                    return
                self.chunks.append(bytes(buffer[line_end + 2:line_end + 2 + size]))
                del buffer[:line_end + 2 + size + 2]
            else:  # UNTIL_CLOSE: connection_lost finishes
                return


class Client:
    """One keep-alive HTTP/1.1 connection to host:port, reopened when the server closes it."""

    def __init__(self, host: str, port: int, timeout: float = 30.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.host_header = f"{host}:{port}"
        try:
            self.family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
            self.numeric = True
        except ValueError:
            self.numeric = False
        self.protocol: _Protocol | None = None
        self.connections = 0

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        if not self.numeric:
            _transport, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(loop), self.host, self.port), self.timeout)
        else:
            # A numeric address (the benchmark's 127.0.0.1): the socket is connected here,
            # without asyncio's resolver and connect task; on loopback the connection is
            # usually made before connect_ex() returns. Matters when the server closes
            # every connection (gunicorn's sync workers): one connection per request.
            sock = socket.socket(self.family, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                error = sock.connect_ex((self.host, self.port))
                if error in (errno.EINPROGRESS, errno.EAGAIN):
                    await self._writable(loop, sock)
                    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    raise OSError(error, os.strerror(error))
                _transport, protocol = await loop.create_connection(lambda: _Protocol(loop), sock=sock)
            except BaseException:
                sock.close()
                raise
        self.protocol = protocol
        self.connections += 1
        return protocol

    async def _writable(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        ready = loop.create_future()
        fd = sock.fileno()
        loop.add_writer(fd, lambda: ready.done() or ready.set_result(None))
        timer = loop.call_later(self.timeout, lambda: ready.done() or ready.set_exception(asyncio.TimeoutError()))
        try:
            await ready
        finally:
            loop.remove_writer(fd)
            timer.cancel()

    def _raw(self, method: str, path: str, headers: dict[str, str] | None, body: bytes | None) -> bytes:
        head = [f"{method} {path} HTTP/1.1\r\nHost: {self.host_header}\r\n"]
        if headers:
            for name, value in headers.items():
                head.append(f"{name}: {value}\r\n")
        if body is not None:
            head.append(f"Content-Length: {len(body)}\r\n")
        head.append("\r\n")
        raw = "".join(head).encode("latin-1")
        return raw + body if body else raw

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                      body: bytes | None = None, form: dict[str, str] | None = None) -> Response:
        if form is not None:
            body = urlencode(form).encode("ascii")
            headers = dict(headers or {}, **{"Content-Type": "application/x-www-form-urlencoded"})
        raw = self._raw(method, path, headers, body)
        for attempt in (1, 2):
            protocol = self.protocol
            fresh = protocol is None or protocol.closed
            if fresh:
                protocol = await self._connect()
            try:
                return await protocol.send(raw, method == "HEAD", self.timeout)
            except ClosedBeforeResponse:
                self.protocol = None
                if fresh or attempt == 2:
                    raise
            except BaseException:
                self.close()
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.protocol is not None and self.protocol.transport is not None:
            self.protocol.transport.close()
        self.protocol = None
