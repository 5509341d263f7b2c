"""A TCP proxy we control, for fault tests: put it between a process and a dependency
(PostgreSQL, Redis, an SMTP relay) and cut the line, or make it hang, without touching
the shared servers behind it. Threads only; used by tests and bench/faults.py.

    proxy = TCPProxy("127.0.0.1", 5432).start()   # listen on proxy.port
    proxy.cut(3)      # drop every connection and refuse new ones for 3 seconds
    proxy.hang()      # accept connections but never forward a byte either way
    proxy.freeze()    # open connections stay open and stop forwarding (a hung server)
    proxy.resume()
"""
from __future__ import annotations

import socket
import threading
import time


class TCPProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = 0
        self.refuse_until = 0.0
        self.hanging = False
        self.frozen = False
        self.accepted = 0
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._stopped = threading.Event()

    def start(self) -> "TCPProxy":
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self.listener.close()
        self._drop_all()

    def cut(self, seconds: float) -> None:
        """Every open connection reset, new ones closed at once, for `seconds`."""
        self.refuse_until = time.monotonic() + seconds
        self._drop_all()

    def hang(self) -> None:
        """From now on new connections are accepted and then nothing: no byte forwarded."""
        self.hanging = True

    def freeze(self) -> None:
        """Open connections stay open, and from now on nothing more is forwarded."""
        self.frozen = True
        self.hanging = True

    def resume(self) -> None:
        self.hanging = False
        self.frozen = False
        self.refuse_until = 0.0

    def _drop_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                if sock is None:
                    continue
                try:
                    # Reset, as a crashed server or a broken path would: SO_LINGER 0 then
                    # shutdown, which also wakes the pipe thread blocked in recv() on it
                    # (a close() alone from here would leave the connection open).
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            if time.monotonic() < self.refuse_until:
                client.close()
                continue
            if self.hanging:
                with self._lock:
                    self._pairs.append((client, None))  # held open, never read or answered
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                while self.frozen and not self._stopped.is_set():
                    time.sleep(0.05)  # held, as by a server that stopped answering
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
