"""Timing oracle benchmark: can a prober tell, by the time a sign request takes, whether
an address has signed?

    .venv/bin/python bench/oracle.py                 # n = 300 probes per class, PostgreSQL
    .venv/bin/python bench/oracle.py -n 600 --sqlite

The production stack of bench/load.py (gunicorn with deploy/gunicorn.conf.py, PostgreSQL,
the limiter in Redis, a sender delivering to an SMTP sink). Before probing, addresses are
put in each state a prober would like to tell apart, through the app's own services:
  new         never seen;
  pending     asked to sign, not confirmed;
  confirmed   signed;
  withdrawn   signed, then withdrew;
  over-quota  asked more often today than the per-mailbox cap allows.
Then probes are interleaved (one of each class in a random order, n rounds), each a
complete form submission with its own fresh form and CSRF token; only the POST is timed.

Printed, one JSON line per class: median and p90 in ms, and the AUC against "new": the
probability that a probe of that class is slower than a probe of a new address (0.5 is
no information; the target is 0.45-0.55 for every class).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from load import Stack, hidden_fields  # noqa: E402

SLUG = "secure-our-socials"
CLASSES = ("new", "pending", "confirmed", "withdrawn", "over-quota")


def auc(slower: list[float], faster: list[float]) -> float:
    """P(a value of `slower` > a value of `faster`), ties counting half (Mann-Whitney U)."""
    ranked = sorted([(v, 0) for v in slower] + [(v, 1) for v in faster])
    ranks, i = [0.0] * len(ranked), 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, (_v, group) in zip(ranks, ranked) if group == 0)
    n1, n2 = len(slower), len(faster)
    return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n2)


def prepare(stack: Stack, n: int, run: str) -> dict[str, list[str]]:
    """n addresses in each state, made through the services the site itself uses."""
    from sqlalchemy import delete, update

    from petition.extensions import db
    from petition.letters import services as letters
    from petition.signing import intake, services
    from petition.signing.models import Signature

    # The same length for every class: the address's length must not be what differs.
    addresses = {kind: [f"oracle-{run}-{k}{i:06d}@example.org" for i in range(n)] for k, kind in enumerate(CLASSES)}
    app = stack.app()
    with app.test_request_context("/en/"):
        row = letters.letter_row(SLUG)
        version = letters.loaded(SLUG).text_for("en").version_hash

        def ask(address: str) -> None:
            services.sign(db.session, row, services.SignatureRequest(
                name="Oracle Probe", email=address, country="LB", affiliation="", public_visibility="none",
                bundle_visibility="counted", updates_opt_in=False, lang="en", version_hash=version))

        for kind in ("pending", "confirmed", "withdrawn"):
            for address in addresses[kind]:
                ask(address)
        db.session.commit()
        intake.drain()
        hashes = lambda kind: [services.email_hash(row.id, a) for a in addresses[kind]]  # noqa: E731
        db.session.execute(update(Signature).where(Signature.email_hash.in_(hashes("confirmed")))
                           .values(status="confirmed", confirmed_at=db.func.now()))
        db.session.execute(delete(Signature).where(Signature.email_hash.in_(hashes("withdrawn"))))
        cap = app.config["PETITION"].MAIL_PER_ADDRESS_PER_DAY
        for address in addresses["over-quota"]:
            for _ in range(cap):
                intake.take_mailbox_quota(db.session, row.id, address)
        db.session.commit()
    return addresses


class Prober:
    def __init__(self, port: int):
        self.port = port

    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response, data

    def probe(self, address: str) -> float:
        path = f"/en/letters/{SLUG}/sign"
        response, page = self._request("GET", path)
        cookie = "; ".join(c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or [])
        fields = hidden_fields(page.decode()) | {
            "name": "Oracle Probe", "email": address, "country": "LB", "affiliation": "",
            "public_visibility": "none", "bundle_visibility": "counted",
        }
        body = urllib.parse.urlencode(fields).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        start = time.perf_counter()
        response, _ = self._request("POST", path, body, headers)
        elapsed = time.perf_counter() - start
        if response.status != 303:
            raise SystemExit(f"probe answered {response.status}, not 303")
        return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="probes per class (default 300)")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--pg-admin-url", default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    # What bench/load.py's Stack reads.
    args.threads, args.worker_class, args.senders, args.sender_idle = 1, None, 1, 0.05
    args.sink, args.keep_database, args.keep_logs = "lean", False, False
    rng = random.Random(args.seed)
    with Stack(args) as stack:
        addresses = prepare(stack, args.n, stack.run)
        prober = Prober(stack.port)
        for _ in range(20):  # warm the workers
            prober.probe(f"warm-{rng.random()}@example.org")
        times: dict[str, list[float]] = {kind: [] for kind in CLASSES}
        for i in range(args.n):
            order = list(CLASSES)
            rng.shuffle(order)
            for kind in order:
                times[kind].append(prober.probe(addresses[kind][i]))
    new = times["new"]
    ok = True
    for kind in CLASSES:
        values = sorted(times[kind])
        line = {"class": kind, "n": len(values), "median_ms": round(statistics.median(values) * 1000, 3),
                "p90_ms": round(values[int(0.9 * (len(values) - 1))] * 1000, 3)}
        if kind != "new":
            line["auc_vs_new"] = round(auc(times[kind], new), 3)
            line["met"] = 0.45 <= line["auc_vs_new"] <= 0.55
            ok = ok and line["met"]
        print(json.dumps(line), flush=True)
    print(json.dumps({"target_auc_0.45_0.55": ok, "database": "sqlite" if args.sqlite else "postgresql"}), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
