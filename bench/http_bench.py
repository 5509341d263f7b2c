"""CPU per request of the load generator's HTTP client alone, lean (bench/http_client.py)
or aiohttp, against a trivial keep-alive server in another process.

    .venv/bin/python bench/http_bench.py                   # both clients, 16 users, 5 s each
    .venv/bin/python bench/http_bench.py --client lean --users 48 --seconds 10

The server answers every request with a fixed page (about 6 KB, two Set-Cookie headers,
Content-Length) or, on /chunked, the same page chunked; every 100th response on a
connection says "Connection: close" and closes it, and any connection is closed after 2 s idle, like
gunicorn's keep-alive timeout (--close-every 1: every response, as gunicorn's sync
workers do). Before measuring, each client is checked on both forms
of body, a POST with a form, repeated Set-Cookie headers and a reconnect. Prints one
JSON line per client: requests/s and the client's CPU milliseconds per request
(user and system time of this process, which runs nothing else meanwhile).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpu import CLOCK_TICKS, process_ticks  # noqa: E402

PAGE = ("<!doctype html><html><body>" + "<p>Lorem ipsum dolor sit amet, consectetur adipiscing.</p>\n" * 100
        + "</body></html>\n").encode()


def _server(port: int, ready, close_every: int = 100, delay: float = 0.0) -> None:
    async def main():
        loop = asyncio.get_running_loop()

        class Session(asyncio.Protocol):
            def connection_made(self, transport):
                self.transport, self.buffer, self.count = transport, b"", 0
                self.idle = loop.call_later(2, transport.close)

            def data_received(self, data):
                self.buffer += data
                while True:
                    end = self.buffer.find(b"\r\n\r\n")
                    if end < 0:
                        return
                    head = self.buffer[:end].decode("latin-1")
                    length = 0
                    for line in head.split("\r\n")[1:]:
                        name, _, value = line.partition(":")
                        if name.lower() == "content-length":
                            length = int(value)
                    if len(self.buffer) < end + 4 + length:
                        return
                    self.buffer = self.buffer[end + 4 + length:]
                    self.count += 1
                    close = self.count % close_every == 0
                    common = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                              b"Set-Cookie: session=abc123; Path=/; HttpOnly\r\n"
                              b"Set-Cookie: __Host-csrf=xyz789; Path=/; Secure\r\n"
                              + (b"Connection: close\r\n" if close else b""))
                    if head.split(" ", 2)[1] == "/chunked":
                        half = len(PAGE) // 2
                        body = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, PAGE[:half], len(PAGE) - half, PAGE[half:])
                        response = common + b"Transfer-Encoding: chunked\r\n\r\n" + body
                    else:
                        response = common + b"Content-Length: %d\r\n\r\n" % len(PAGE) + PAGE
                    self.idle.cancel()
                    if delay:
                        loop.call_later(delay, self.respond, response, close)
                    else:
                        self.respond(response, close)

            def respond(self, response: bytes, close: bool) -> None:
                self.transport.write(response)
                if close:
                    self.transport.close()
                else:
                    self.idle = loop.call_later(2, self.transport.close)

        server = await loop.create_server(Session, "127.0.0.1", port, backlog=512)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


async def _lean(port: int, users: int, seconds: float, check: bool) -> int:
    from http_client import Client

    if check:
        client = Client("127.0.0.1", port)
        for path in ("/", "/chunked"):
            response = await client.request("GET", path, headers={"Cookie": "a=b"})
            assert response.status == 200 and response.body == PAGE, path
            assert response.header_all("set-cookie") == ["session=abc123; Path=/; HttpOnly",
                                                         "__Host-csrf=xyz789; Path=/; Secure"]
        response = await client.request("POST", "/form", form={"name": "Nour Khalil", "email": "n@example.org"})
        assert response.status == 200 and response.body == PAGE
        opened = client.connections
        await asyncio.sleep(2.3)  # the server closes the idle connection: the client opens another
        assert (await client.request("GET", "/")).body == PAGE and client.connections == opened + 1
        for _ in range(120):  # through a "Connection: close"
            assert (await client.request("GET", "/")).body == PAGE
        assert client.connections > opened + 1
        client.close()
    stop_at = time.perf_counter() + seconds
    count = 0

    async def user():
        nonlocal count
        client = Client("127.0.0.1", port)
        while time.perf_counter() < stop_at:
            response = await client.request("GET", "/", headers={"Cookie": "session=abc123"})
            response.header_all("set-cookie")
            response.text()
            count += 1
        client.close()

    await asyncio.gather(*(user() for _ in range(users)))
    return count


async def _aiohttp(port: int, users: int, seconds: float, check: bool) -> int:
    import aiohttp

    base = f"http://127.0.0.1:{port}"
    connector = aiohttp.TCPConnector(limit=users, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30),
                                     cookie_jar=aiohttp.DummyCookieJar()) as session:
        if check:
            async with session.get(base + "/chunked") as response:
                assert (await response.read()) == PAGE
        stop_at = time.perf_counter() + seconds
        count = 0

        async def user():
            nonlocal count
            while time.perf_counter() < stop_at:
                async with session.request("GET", base + "/", headers={"Cookie": "session=abc123"},
                                           allow_redirects=False) as response:
                    await response.text()
                    response.headers.getall("Set-Cookie", [])
                count += 1

        await asyncio.gather(*(user() for _ in range(users)))
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", choices=["lean", "aiohttp", "both"], default="both")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--delay-ms", type=float, default=0.0,
                        help="the server answers after this delay, as a real one would (the client then sleeps between responses)")
    parser.add_argument("--close-every", type=int, default=100,
                        help="the server closes a connection after this many responses (1: gunicorn's sync workers)")
    args = parser.parse_args(argv)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    server = ctx.Process(target=_server, args=(port, ready, args.close_every, args.delay_ms / 1000), daemon=True)
    server.start()
    ready.wait(10)
    try:
        for name in (["lean", "aiohttp"] if args.client == "both" else [args.client]):
            run = _lean if name == "lean" else _aiohttp
            asyncio.run(run(port, 4, 0.5, check=True))  # checks and warm-up
            server_before = process_ticks([server.pid])
            times_before, started = os.times(), time.perf_counter()
            count = asyncio.run(run(port, args.users, args.seconds, check=False))
            times, elapsed = os.times(), time.perf_counter() - started
            user, system = times.user - times_before.user, times.system - times_before.system
            server_ms = (process_ticks([server.pid]) - server_before) * 1000 / CLOCK_TICKS
            print(json.dumps({"client": name, "users": args.users, "requests": count, "rps": round(count / elapsed),
                              "client_cpu_ms_per_request": round((user + system) * 1000 / count, 4),
                              "of_which_kernel": round(system * 1000 / count, 4),
                              "server_cpu_ms_per_request": round(server_ms / count, 4),
                              "close_every": args.close_every, "delay_ms": args.delay_ms}), flush=True)
    finally:
        server.terminate()
        server.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
