"""Fault benchmark for the outbox: the production set-up of bench/load.py (gunicorn,
PostgreSQL, Redis, `flask outbox work` senders, the SMTP sink in its own process), mail
queued, then faults, and every message the sink receives counted. One JSON line per
scenario with the messages lost and duplicated:

    .venv/bin/python bench/faults.py                     # both scenarios, PostgreSQL
    .venv/bin/python bench/faults.py --only kill --runs 30 --messages 20000
    .venv/bin/python bench/faults.py --only blip --blip-seconds 2
    .venv/bin/python bench/faults.py --sqlite --only kill

Scenarios:
  kill   --runs times: start a sender, wait until mail flows, SIGKILL it at a random
         instant (0 to --kill-window seconds later); then one last sender sends what is
         left. Expected: lost 0, duplicated at most one per kill (the message the relay
         had accepted and the sender not yet marked), and the dead senders' rows taken
         over once their lease (--lease seconds) ends.
  blip   a sender reaching PostgreSQL through a TCP proxy (tests/proxy.py); while it
         sends, the proxy drops every connection and refuses new ones for
         --blip-seconds, --blips times. Expected: lost 0, duplicated 0 when the outage is
         shorter than the lease (marking is retried until the lease ends), at most one per
         blip otherwise. PostgreSQL only.

The lease is short here (--lease, default 5 s; production uses 60) so that a run does
not wait a minute for each killed sender's rows.
"""
from __future__ import annotations

import argparse
import collections
import json
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from load import BIN, Stack  # noqa: E402


class Counter:
    """Counts the sink's feed lines (one per recipient of each accepted message)."""

    def __init__(self, sink):
        self.received: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        threading.Thread(target=self._listen, args=(sink,), daemon=True).start()

    def _listen(self, sink) -> None:
        for address, _path in sink.subscribe():
            with self.lock:
                self.received[address] += 1

    def total(self, prefix: str) -> int:
        with self.lock:
            return sum(n for a, n in self.received.items() if a.startswith(prefix))

    def tally(self, addresses: list[str]) -> tuple[int, int]:
        with self.lock:
            lost = sum(1 for a in addresses if self.received[a] == 0)
            duplicated = sum(max(0, self.received[a] - 1) for a in addresses)
        return lost, duplicated


def wait_until(condition, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def queue(stack: Stack, count: int, prefix: str) -> list[str]:
    from petition.extensions import db
    from petition.mail import services as mail

    addresses = [f"{prefix}-{i:07d}@example.org" for i in range(count)]
    with stack.app().app_context():
        for start in range(0, count, 1000):
            for address in addresses[start:start + 1000]:
                mail.queue(db.session, mail.Message(to=address, subject="Confirm your signature",
                                                    text=f"Hello,\nhttps://letters.bench.invalid/en/confirm/x{address[:12]}\n",
                                                    lang="en"), purpose="confirm")
            db.session.commit()
        db.session.remove()
    return addresses


def outbox_left(stack: Stack) -> int:
    from sqlalchemy import func, select

    from petition.extensions import db
    from petition.mail.models import OutboxMessage

    with stack.app().app_context():
        left = db.session.scalar(select(func.count()).select_from(OutboxMessage))
        db.session.remove()
        return int(left)


def sender(stack: Stack, name: str, env: dict | None = None) -> subprocess.Popen:
    log = open(stack.tmp / f"{name}.log", "wb")
    process = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "outbox", "work", "--idle", "0.05"],
                               cwd=ROOT, env=env or stack.environ, stdout=log, stderr=subprocess.STDOUT)
    stack.processes.append(process)
    return process


def scenario_kill(stack: Stack, counter: Counter, args) -> dict:
    prefix = f"kill{stack.run}"
    addresses = queue(stack, args.messages, prefix)
    rng = random.Random(args.seed)
    kills = 0
    for run in range(args.runs):
        before = counter.total(prefix)
        process = sender(stack, f"kill-sender-{run}")
        if not wait_until(lambda: counter.total(prefix) > before or outbox_left(stack) == 0, 60):
            raise SystemExit("the sender sent nothing within 60 s")
        time.sleep(rng.uniform(0, args.kill_window))
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        if outbox_left(stack) == 0:
            break
    last_kill = time.monotonic()
    final = sender(stack, "kill-sender-last")
    drained = wait_until(lambda: outbox_left(stack) == 0, args.lease + 600, step=0.2)
    drained_after = time.monotonic() - last_kill
    time.sleep(1)
    final.send_signal(signal.SIGTERM)
    final.wait(20)
    lost, duplicated = counter.tally(addresses)
    return {"scenario": "sender_kill", "messages": len(addresses), "kills": kills, "lost": lost,
            "duplicated": duplicated, "duplicated_at_most": kills, "drained": drained,
            "drained_s_after_last_kill": round(drained_after, 1), "lease_s": args.lease,
            "ok": drained and lost == 0 and duplicated <= kills}


def scenario_blip(stack: Stack, counter: Counter, args) -> dict:
    from urllib.parse import urlsplit, urlunsplit

    from tests.proxy import TCPProxy

    url = urlsplit(stack.environ["DATABASE_URL"])
    proxy = TCPProxy(url.hostname or "127.0.0.1", url.port or 5432).start()
    proxied = urlunsplit(url._replace(netloc=url.netloc.replace(f"{url.hostname}:{url.port}" if url.port else url.hostname,
                                                               f"127.0.0.1:{proxy.port}")))
    env = dict(stack.environ, DATABASE_URL=proxied)
    prefix = f"blip{stack.run}"
    addresses = queue(stack, args.messages, prefix)
    process = sender(stack, "blip-sender", env)
    rng = random.Random(args.seed)
    for _ in range(args.blips):
        before = counter.total(prefix)
        if not wait_until(lambda: counter.total(prefix) > before or outbox_left(stack) == 0, 60):
            raise SystemExit("the sender sent nothing within 60 s")
        if outbox_left(stack) == 0:
            break
        time.sleep(rng.uniform(0, args.kill_window))
        proxy.cut(args.blip_seconds)
        time.sleep(args.blip_seconds)
    drained = wait_until(lambda: outbox_left(stack) == 0, args.lease + 600, step=0.2)
    time.sleep(1)
    process.send_signal(signal.SIGTERM)
    process.wait(20)
    proxy.stop()
    lost, duplicated = counter.tally(addresses)
    allowed = 0 if args.blip_seconds < args.lease * 5 / 6 else args.blips
    return {"scenario": "database_blip", "messages": len(addresses), "blips": args.blips,
            "blip_s": args.blip_seconds, "lost": lost, "duplicated": duplicated, "duplicated_at_most": allowed,
            "drained": drained, "lease_s": args.lease, "ok": drained and lost == 0 and duplicated <= allowed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL (kill only)")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--only", choices=["kill", "blip"])
    parser.add_argument("--messages", type=int, default=5000, help="messages queued per scenario (default 5000)")
    parser.add_argument("--runs", type=int, default=20, help="senders killed (default 20)")
    parser.add_argument("--kill-window", type=float, default=1.0, help="kill within this many seconds of mail flowing")
    parser.add_argument("--blips", type=int, default=5)
    parser.add_argument("--blip-seconds", type=float, default=2.0)
    parser.add_argument("--lease", type=int, default=5, help="OUTBOX_LEASE_SECONDS for the run (default 5)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args(argv)
    # What bench/load.py's Stack reads; no sender of its own (each scenario starts its own).
    args.workers, args.threads, args.worker_class = 2, 1, None
    args.senders, args.sender_idle, args.sink, args.keep_database = 0, 0.05, "lean", False

    ok = True
    with Stack(args) as stack:
        stack.environ["OUTBOX_LEASE_SECONDS"] = str(args.lease)
        counter = Counter(stack.sink)
        scenarios = [scenario_kill, scenario_blip]
        if args.only:
            scenarios = [scenario_kill] if args.only == "kill" else [scenario_blip]
        if args.sqlite and scenario_blip in scenarios:
            scenarios.remove(scenario_blip)
            print(json.dumps({"scenario": "database_blip", "skipped": "PostgreSQL only (SQLite has no network)"}))
        for scenario in scenarios:
            line = scenario(stack, counter, args)
            ok = ok and line["ok"]
            print(json.dumps(line), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
