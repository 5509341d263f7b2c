"""A scriptable SMTP server for the sender's tests, in a thread: it can advertise
PIPELINING or not, refuse chosen recipients or contents, hang up after a message's
content, and drop its open connections behind the client's back (as a server does with
idle ones). It records every connection and every accepted message."""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes  # dot-unstuffed, CRLF line ends, without the final "."


@dataclass
class FakeSMTP:
    pipelining: bool = True
    refuse_rcpt: set[str] = field(default_factory=set)  # 550 to RCPT TO
    refuse_data: set[str] = field(default_factory=set)  # 451 after the content
    hang_up_after_data: set[str] = field(default_factory=set)  # content read, no reply, closed
    messages: list[Received] = field(default_factory=list)
    connections: int = 0
    reads_with_commands: list[int] = field(default_factory=list)  # commands per read, as pipelined
    port: int = 0

    def start(self) -> "FakeSMTP":
        self.loop = asyncio.new_event_loop()
        self.transports: set[asyncio.Transport] = set()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(self.loop.create_server(lambda: _Session(self), "127.0.0.1", 0))
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(5)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def drop_connections(self) -> None:
        """Close every open connection without a word, as a server ending idle sessions."""
        done = threading.Event()

        def drop():
            for transport in list(self.transports):
                transport.abort()
            done.set()

        self.loop.call_soon_threadsafe(drop)
        done.wait(5)
        time.sleep(0.05)

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)


class _Session(asyncio.Protocol):
    def __init__(self, server: FakeSMTP):
        self.server = server
        self.buffer = b""
        self.in_data = False
        self.sender = None
        self.recipients: list[str] = []

    def connection_made(self, transport):
        self.transport = transport
        self.server.connections += 1
        self.server.transports.add(transport)
        transport.write(b"220 fake ESMTP\r\n")

    def connection_lost(self, exc):
        self.server.transports.discard(self.transport)

    def data_received(self, data):
        self.buffer += data
        replies = []
        commands = 0
        while True:
            if self.in_data:
                if self.buffer.startswith(b".\r\n"):
                    end, content = 0, b""
                    self.buffer = self.buffer[3:]
                else:
                    end = self.buffer.find(b"\r\n.\r\n")
                    if end < 0:
                        break
                    content = self.buffer[:end + 2]
                    self.buffer = self.buffer[end + 5:]
                self.in_data = False
                content = content.replace(b"\r\n..", b"\r\n.")
                if content.startswith(b".."):
                    content = content[1:]
                recipients, self.sender_was, self.recipients = self.recipients, self.sender, []
                if set(recipients) & self.server.hang_up_after_data:
                    self.server.hang_up_after_data -= set(recipients)
                    self.transport.write(b"".join(replies))
                    self.transport.abort()
                    return
                if set(recipients) & self.server.refuse_data:
                    replies.append(b"451 try again later\r\n")
                else:
                    self.server.messages.append(Received(self.sender_was, recipients, content))
                    replies.append(b"250 OK\r\n")
                continue
            newline = self.buffer.find(b"\r\n")
            if newline < 0:
                break
            line, self.buffer = self.buffer[:newline].decode(), self.buffer[newline + 2:]
            commands += 1
            replies.append(self.command(line))
            if replies[-1].startswith(b"221"):
                self.transport.write(b"".join(replies))
                self.transport.close()
                return
        if commands:
            self.server.reads_with_commands.append(commands)
        if replies:
            self.transport.write(b"".join(replies))

    def command(self, line: str) -> bytes:
        verb, _, rest = line.partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            extensions = ["fake", "8BITMIME", "SIZE 10000000"] + (["PIPELINING"] if self.server.pipelining else [])
            return "".join(f"250{'-' if i < len(extensions) - 1 else ' '}{e}\r\n" for i, e in enumerate(extensions)).encode()
        if verb == "HELO":
            return b"250 fake\r\n"
        if verb == "MAIL":
            self.sender, self.recipients = rest[5:].split(">")[0].strip("<"), []
            return b"250 OK\r\n"
        if verb == "RCPT":
            address = rest[3:].split(">")[0].strip("<")
            if address in self.server.refuse_rcpt:
                return b"550 no such user\r\n"
            self.recipients.append(address)
            return b"250 OK\r\n"
        if verb == "DATA":
            if not self.recipients:
                return b"503 no valid recipients\r\n"
            self.in_data = True
            return b"354 go ahead\r\n"
        if verb in ("RSET", "NOOP"):
            self.sender, self.recipients = None, []
            return b"250 OK\r\n"
        if verb == "QUIT":
            return b"221 bye\r\n"
        return b"500 what\r\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
