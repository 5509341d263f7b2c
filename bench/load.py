"""Load benchmark: the whole production stack on this machine, one JSON line per scenario.

    .venv/bin/python bench/load.py                  # PostgreSQL (a throwaway database)
    .venv/bin/python bench/load.py --sqlite         # the embedded database instead
    .venv/bin/python bench/load.py --duration 30 --users 48 --signatures 1000000
    .venv/bin/python bench/load.py --only signatures --client aiohttp --sink aiosmtpd   # the old tools

What runs, each in its own process(es):
  * gunicorn with deploy/gunicorn.conf.py serving wsgi:app on 127.0.0.1, in production
    mode, on a database created for this run (bench_<random> on the local PostgreSQL,
    dropped at the end) and, when Redis answers, with the rate limiter's storage in Redis
    (limits raised so the benchmark is not refused, but every check still runs);
  * `flask --app wsgi outbox work --idle 0.05` sender(s) delivering to
  * an SMTP sink (bench/smtp_sink.py: a minimal asyncio SMTP server, or aiosmtpd with
    --sink aiosmtpd), which hands each confirmation link to
  * the load generator (asyncio and bench/http_client.py: one connection per virtual
    user, kept alive as long as gunicorn allows, which sync workers never do; or
    aiohttp with --client aiohttp; bounded concurrency and duration).
The load generator and the sink run on uvloop when it is installed (bench/fastloop.py).

Scenarios, in order:
  baseline        GET /healthz (a SELECT 1 and a Redis PING): what the stack can do at all;
  signatures      each virtual signer: GET the form (CSRF token and cookie), POST it,
                  wait for the email at the SMTP sink, GET the confirm page, POST it;
                  every signer has their own address. Counted as complete signatures/s;
  letter_page_0   a letter page with no signatures (another letter than the surge's);
  letter_page_1m  the same letter page after --signatures synthetic signatures were added
                  (`flask signatures fake`, COPY on PostgreSQL).
Then a check: every confirmed address is in the database once, confirmed, and the
sharded counters add up to the number of confirmed rows.

Where the CPU goes: during each measured window the benchmark reads utime + stime of
every process involved from /proc (bench/cpu.py) and adds to the scenario's line
"cpu_ms_per_unit", CPU milliseconds per complete signature (signatures) or per request
(pages) for gunicorn (master and workers), postgres, redis, sender, smtp_sink,
load_generator, bench (this process) and their total, and "cpu_busy", the fraction of
all the machine's cores busy in the window (anything else running shows there, and in
"cpu_busy" being above "cpu_busy_stack").

Targets (issue "production at scale"): >= 150 complete signatures/s with request p99
< 250 ms and no errors or lost signatures; the 1M page at >= 80 % of the empty page's rate.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from fastloop import run_fast  # noqa: E402

BIN = Path(sys.executable).parent
SURGE_LETTER = "secure-our-socials"
BIG_LETTER = "protect-women-hrds"
UNLIMITED = "1000000/minute"

HIDDEN_RE = re.compile(r'<input\b[^>]*\btype="hidden"[^>]*>')
ATTR_RE = re.compile(r'\b(name|value)="([^"]*)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def hidden_fields(html: str) -> dict[str, str]:
    import html as html_lib

    values = {}
    for tag in HIDDEN_RE.findall(html):
        attrs = dict(ATTR_RE.findall(tag))
        if "name" in attrs:
            values[attrs["name"]] = html_lib.unescape(attrs.get("value", ""))
    return values


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


# ---- the load generator (its own process) --------------------------------------------

@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    requests: int = 0

    def record(self, kind: str, seconds: float, ok: bool, why: str = "") -> None:
        self.requests += 1
        self.latencies.append(seconds)
        self.by_kind.setdefault(kind, []).append(seconds)
        if not ok:
            self.error(why or kind)

    def error(self, why: str) -> None:
        self.errors += 1
        self.error_kinds[why] = self.error_kinds.get(why, 0) + 1


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def _keep_cookies(jar: dict[str, str], set_cookies: list[str]) -> None:
    # Production cookies are Secure and __Host- prefixed; over plain http on 127.0.0.1 a
    # browser would drop them, so the generator keeps them by hand.
    for value in set_cookies:
        name, _, rest = value.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]


class LeanHTTP:
    """bench/http_client.py: one connection per virtual user, reopened when the server closes it."""

    def __init__(self, base: str, users: int):
        from urllib.parse import urlsplit

        url = urlsplit(base)
        self.host, self.port = url.hostname, url.port

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        pass

    def user(self):
        from http_client import Client

        return Client(self.host, self.port, timeout=30)

    async def fetch(self, user, method: str, path: str, headers: dict, form: dict | None):
        response = await user.request(method, path, headers=headers, form=form)
        return response.status, response.header_all("set-cookie"), response.text()

    def done(self, user) -> None:
        user.close()


class AiohttpHTTP:
    """aiohttp, one session and connection pool for all virtual users (--client aiohttp)."""

    def __init__(self, base: str, users: int):
        self.base, self.users = base, users

    async def __aenter__(self):
        import aiohttp

        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.users, force_close=False),
            timeout=aiohttp.ClientTimeout(total=30), cookie_jar=aiohttp.DummyCookieJar())
        return self

    async def __aexit__(self, *exc):
        await self.session.close()

    def user(self):
        return None

    async def fetch(self, user, method: str, path: str, headers: dict, form: dict | None):
        async with self.session.request(method, self.base + path, data=form, headers=headers,
                                        allow_redirects=False) as response:
            body = await response.text()
            return response.status, response.headers.getall("Set-Cookie", []), body

    def done(self, user) -> None:
        pass


CLIENTS = {"lean": LeanHTTP, "aiohttp": AiohttpHTTP}


async def _request(http, user, stats: Stats, kind: str, method: str, path: str, jar: dict[str, str],
                   expect: int, data: dict | None = None) -> str | None:
    headers = {"Cookie": _cookie_header(jar)} if jar else {}
    started = time.perf_counter()
    try:
        status, set_cookies, body = await http.fetch(user, method, path, headers, data)
        _keep_cookies(jar, set_cookies)
        ok = status == expect
        stats.record(kind, time.perf_counter() - started, ok, f"{kind}:{status}")
        return body if ok else None
    except Exception as exc:  # connection refused, reset, timeout: an error, counted
        stats.record(kind, time.perf_counter() - started, False, f"{kind}:{exc.__class__.__name__}")
        return None


async def _pages(base: str, path: str, users: int, duration: float, warmup: float, client: str, window) -> dict:
    stats = Stats()
    async with CLIENTS[client](base, users) as http:
        async def user(stop_at: float, into: Stats, agent):
            jar: dict[str, str] = {}
            while time.perf_counter() < stop_at:
                await _request(http, agent, into, "page", "GET", path, jar, 200)

        agents = [http.user() for _ in range(users)]
        await asyncio.gather(*(user(time.perf_counter() + warmup, Stats(), agent) for agent in agents))
        window[0].set()
        started = time.perf_counter()
        await asyncio.gather(*(user(started + duration, stats, agent) for agent in agents))
        elapsed = time.perf_counter() - started
        window[1].set()
        for agent in agents:
            http.done(agent)
    return {"elapsed": elapsed, "requests": stats.requests, "errors": stats.errors,
            "error_kinds": stats.error_kinds, "latencies": stats.latencies}


class _Feed(asyncio.Protocol):
    """The sink's lines "recipient<TAB>path\\n", handed to deliver() as they come."""

    def __init__(self, deliver):
        self.deliver = deliver
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        for line in lines:
            address, _, path = line.partition(b"\t")
            self.deliver(address.decode(), path.decode())


async def _signatures(base: str, users: int, duration: float, feed_port: int, run: str,
                      mail_timeout: float, lang: str, client: str, window) -> dict:
    loop = asyncio.get_running_loop()
    waiting: dict[str, asyncio.Future] = {}
    arrived: dict[str, str] = {}

    def deliver(address: str, path: str) -> None:
        future = waiting.pop(address, None)
        if future is not None and not future.done():
            future.set_result(path)
        else:
            arrived[address] = path

    feed, _ = await loop.create_connection(lambda: _Feed(deliver), "127.0.0.1", feed_port)

    stats = Stats()
    signed: list[str] = []
    confirmed: list[str] = []
    lost: list[str] = []
    counter = iter(range(10**9))
    sign_path = f"/{lang}/letters/{SURGE_LETTER}/sign"

    async with CLIENTS[client](base, users * 2) as http:
        async def one_signature(agent) -> bool:
            jar: dict[str, str] = {}
            email = f"bench-{run}-{next(counter):07d}@example.org"
            html = await _request(http, agent, stats, "sign_form", "GET", sign_path, jar, 200)
            if html is None:
                return False
            data = hidden_fields(html)
            data.update(name="Bench Signer", email=email, country="LB", affiliation="",
                        public_visibility="initials", bundle_visibility="counted")
            future = loop.create_future()
            waiting[email] = future
            if email in arrived:
                future.set_result(arrived.pop(email))
            if await _request(http, agent, stats, "sign_post", "POST", sign_path, jar, 303, data) is None:
                waiting.pop(email, None)
                return False
            signed.append(email)
            try:
                path = await asyncio.wait_for(future, timeout=mail_timeout)
            except asyncio.TimeoutError:
                waiting.pop(email, None)
                lost.append(email)
                stats.error("mail:lost")
                return False
            if not path:
                stats.error("mail:no-link")
                return False
            page = await _request(http, agent, stats, "confirm_page", "GET", path, jar, 200)
            if page is None:
                return False
            data = hidden_fields(page)
            data.update(public_visibility="initials", bundle_visibility="counted")
            # 200: the confirmation answers with the one-time withdrawal code, not a redirect.
            if await _request(http, agent, stats, "confirm_post", "POST", path, jar, 200, data) is None:
                return False
            confirmed.append(email)
            return True

        async def user(stop_at: float):
            agent = http.user()
            while time.perf_counter() < stop_at:
                await one_signature(agent)
            http.done(agent)

        window[0].set()
        started = time.perf_counter()
        await asyncio.gather(*(user(started + duration) for _ in range(users)))
        elapsed = time.perf_counter() - started
        window[1].set()

    feed.close()
    return {"elapsed": elapsed, "requests": stats.requests, "errors": stats.errors,
            "error_kinds": stats.error_kinds, "latencies": stats.latencies,
            "by_kind": {k: [percentile(v, 50), percentile(v, 99)] for k, v in stats.by_kind.items()},
            "signed": signed, "confirmed": confirmed, "lost": lost}


def load_process(kind: str, kwargs: dict, results: mp.Queue, window, profile: str | None = None) -> None:
    scenario = _pages if kind == "pages" else _signatures
    if profile:  # --profile-load: where the load generator's own CPU goes
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(run_fast, scenario(window=window, **kwargs))
        profiler.dump_stats(f"{profile}.{kind}")
    else:
        result = run_fast(scenario(window=window, **kwargs))
    results.put(result)



def drive(stack: "Stack", kind: str, **kwargs) -> dict:
    """Run one scenario in a load process; measure the CPU of everything during its window."""
    from cpu import CpuSampler

    ctx = stack.ctx
    results = ctx.Queue()
    window = (ctx.Event(), ctx.Event())
    kwargs["client"] = stack.args.client
    process = ctx.Process(target=load_process, args=(kind, kwargs, results, window, stack.args.profile_load),
                          name=f"load-{kind}")
    process.start()
    sampler = None
    while not window[0].wait(0.5):
        if not process.is_alive():
            raise SystemExit(f"the load process for {kind} died")
    sampler = CpuSampler({
        "gunicorn": [stack.gunicorn.pid],
        "sender": [p.pid for p in stack.senders],
        "smtp_sink": [stack.sink.pid],
        "load_generator": [process.pid],
        "bench": [os.getpid()],
    }).start()
    while not window[1].wait(0.5):
        if not process.is_alive():
            raise SystemExit(f"the load process for {kind} died")
    cpu = sampler.stop()
    result = results.get()
    process.join()
    result["cpu"] = cpu
    return result


# ---- the stack --------------------------------------------------------------------------

class Stack:
    def __init__(self, args):
        self.args = args
        self.run = secrets.token_hex(4)
        self.tmp = Path(tempfile.mkdtemp(prefix="petition-bench-"))
        self.processes: list[subprocess.Popen] = []
        self.ctx = mp.get_context("spawn")
        self.sink = None
        self.gunicorn: subprocess.Popen | None = None
        self.senders: list[subprocess.Popen] = []
        self.database_name: str | None = None
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    # database -----------------------------------------------------------------
    def create_database(self) -> str:
        if self.args.sqlite:
            return f"sqlite:///{self.tmp / 'bench.db'}"
        import psycopg

        self.database_name = f"bench_{self.run}"
        with psycopg.connect(self.args.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database_name}"')
        return self.args.pg_admin_url.rsplit("/", 1)[0] + "/" + self.database_name

    def drop_database(self) -> None:
        if not self.database_name or self.args.keep_database:
            return
        import psycopg

        with psycopg.connect(self.args.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')

    def redis_url(self) -> str | None:
        if self.args.no_redis:
            return None
        try:
            import redis

            redis.Redis.from_url(self.args.redis_url, socket_timeout=1).ping()
            return self.args.redis_url
        except Exception:
            print(f"note: Redis at {self.args.redis_url} does not answer; limiter in memory", file=sys.stderr)
            return None

    # processes ----------------------------------------------------------------
    def env(self, database_url: str, redis_url: str | None, smtp_port: int) -> dict[str, str]:
        from cryptography.fernet import Fernet

        env = {k: v for k, v in os.environ.items() if not k.startswith(("PETITION", "GUNICORN", "MAIL_", "RATELIMIT"))}
        env.update(
            PETITION_ENV="production",
            SECRET_KEY=secrets.token_urlsafe(48),
            HASH_KEY=secrets.token_urlsafe(48),
            DATA_KEYS=Fernet.generate_key().decode(),
            DATABASE_URL=database_url,
            PUBLIC_URL="https://letters.bench.invalid",
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=str(smtp_port),
            OUTBOX_IN_PROCESS="0",
            OUTBOX_DIR=str(self.tmp / "outbox"),
            RATELIMIT_ENABLED="1",
            RATELIMIT_STORAGE_URI=redis_url or "memory://",
            RATELIMIT_SIGN=UNLIMITED, RATELIMIT_ORG_SIGN=UNLIMITED, RATELIMIT_CONFIRM=UNLIMITED,
            RATELIMIT_LOGIN=UNLIMITED, RATELIMIT_API=UNLIMITED, INTAKE_PER_LETTER_PER_MINUTE="100000000",
            MIN_FILL_SECONDS="0",
            LOG_LEVEL="WARNING",
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            GUNICORN_WORKERS=str(self.args.workers),
            GUNICORN_THREADS=str(self.args.threads),
            **({"GUNICORN_WORKER_CLASS": self.args.worker_class} if self.args.worker_class else {}),
            GUNICORN_ACCESS_LOG="",  # no access log: it would be the benchmark's bottleneck
            GUNICORN_LOG_LEVEL="warning",
        )
        if redis_url:
            env["REDIS_URL"] = redis_url
        return env

    def start(self, command: list[str], name: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")
        process = subprocess.Popen(command, cwd=ROOT, env=self.environ, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def flask(self, *args: str, env: dict[str, str] | None = None, timeout: float = 900) -> str:
        done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env or self.environ,
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def __enter__(self):
        from smtp_sink import start_sink

        self.sink = start_sink(self.ctx, self.args.sink)
        database_url = self.create_database()
        self.environ = self.env(database_url, self.redis_url(), self.sink.port)
        self.flask("db", "upgrade")
        self.flask("letters", "sync")
        self.gunicorn = self.start([str(BIN / "gunicorn"), "--config", str(ROOT / "deploy" / "gunicorn.conf.py"),
                                    "wsgi:app"], "gunicorn")
        for i in range(self.args.senders):
            self.senders.append(self.start([str(BIN / "flask"), "--app", "wsgi", "outbox", "work", "--idle",
                                            str(self.args.sender_idle)], f"sender-{i}"))
        self.wait_until_up()
        return self

    def wait_until_up(self, timeout: float = 240) -> None:  # four workers starting on a busy machine
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise SystemExit("gunicorn did not come up:\n" + (self.tmp / "gunicorn.log").read_text())

    def __exit__(self, *exc):
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.sink:
            self.sink.stop()
        self.drop_database()
        if not self.args.keep_logs:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print(f"logs kept in {self.tmp}", file=sys.stderr)

    # the app, in this process, for seeding checks and verification ------------
    def app(self):
        if not hasattr(self, "_app"):
            from petition import create_app
            from petition.config import Config

            self._app = create_app(Config.from_env(env=self.environ))
        return self._app


# ---- scenarios and report -------------------------------------------------------------

GROUPS = ("gunicorn", "postgres", "redis", "sender", "smtp_sink", "load_generator", "bench")


def cpu_fields(cpu: dict, units: int, unit: str) -> dict:
    """CPU milliseconds per unit of work by group of processes, and how busy the cores were."""
    from cpu import CPUS

    per = {group: round(cpu["ms"].get(group, 0.0) / max(units, 1), 3) for group in GROUPS}
    total = sum(cpu["ms"].values())
    per["total"] = round(total / max(units, 1), 3)
    return {"cpu_ms_per_unit": per, "cpu_unit": unit, "cpu_busy": round(cpu["busy"], 3),
            "cpu_busy_stack": round(total / (cpu["seconds"] * 1000 * CPUS), 3)}


def summarise(name: str, result: dict, extra: dict | None = None, units: int | None = None,
              unit: str = "request") -> dict:
    latencies = result["latencies"]
    line = {
        "scenario": name,
        "rps": round(result["requests"] / result["elapsed"], 1),
        "requests": result["requests"],
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "errors": result["errors"],
        "seconds": round(result["elapsed"], 1),
    }
    if result.get("error_kinds"):
        line["error_kinds"] = result["error_kinds"]
    line.update(extra or {})
    if result.get("cpu"):
        line.update(cpu_fields(result["cpu"], result["requests"] if units is None else units, unit))
    print(json.dumps(line, ensure_ascii=False), flush=True)
    return line


def seed(stack: Stack, slug: str, count: int) -> float:
    """Add count synthetic confirmed signatures (refused in production, so the command
    runs with the development flag against the same database and keys)."""
    started = time.perf_counter()
    env = dict(stack.environ, PETITION_ENV="development")
    stack.flask("signatures", "fake", slug, "--count", str(count), "--seed", "1", env=env, timeout=3600)
    if not stack.args.sqlite:
        import psycopg

        url = stack.environ["DATABASE_URL"]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE signatures")  # what autovacuum would do shortly after
            # Write the bulk load's dirty pages out now: otherwise the checkpointer does
            # it during the next scenario, on the same two cores, and the page with a
            # million signatures is measured against PostgreSQL's catching up.
            conn.execute("CHECKPOINT")
    return time.perf_counter() - started


def verify(stack: Stack, surge: dict) -> dict:
    """Every confirmed address in the database once, confirmed; counters add up."""
    from sqlalchemy import func, select

    from petition.extensions import db
    from petition.letters import services as letters
    from petition.mail.models import OutboxMessage
    from petition.signing.models import Signature, SignatureCounter
    from petition.signing.services import email_hash

    app = stack.app()
    with app.app_context():
        problems: list[str] = []
        row = letters.letter_row(SURGE_LETTER)
        confirmed_hashes = [email_hash(row.id, e) for e in surge["confirmed"]]
        found: dict[str, list[str]] = {}
        for start in range(0, len(confirmed_hashes), 1000):
            chunk = confirmed_hashes[start:start + 1000]
            for h, status in db.session.execute(
                select(Signature.email_hash, Signature.status).where(Signature.letter_id == row.id, Signature.email_hash.in_(chunk))
            ):
                found.setdefault(h, []).append(status)
        missing = sum(1 for h in confirmed_hashes if h not in found)
        duplicated = sum(1 for v in found.values() if len(v) > 1)
        not_confirmed = sum(1 for v in found.values() if v != ["confirmed"])
        if missing or duplicated or not_confirmed:
            problems.append(f"missing {missing}, duplicated {duplicated}, not confirmed {not_confirmed}")
        real_confirmed = db.session.scalar(select(func.count()).select_from(Signature).where(
            Signature.letter_id == row.id, Signature.status == "confirmed", Signature.synthetic.is_(False)))
        if real_confirmed != len(surge["confirmed"]):
            problems.append(f"{real_confirmed} confirmed rows for {len(surge['confirmed'])} confirmations")
        for letter_row in (row, letters.letter_row(BIG_LETTER)):
            counted = db.session.scalar(select(func.coalesce(func.sum(SignatureCounter.confirmed), 0))
                                        .where(SignatureCounter.letter_id == letter_row.id))
            rows = db.session.scalar(select(func.count()).select_from(Signature).where(
                Signature.letter_id == letter_row.id, Signature.status == "confirmed", Signature.hidden.is_(False)))
            if int(counted) != int(rows):
                problems.append(f"{letter_row.slug}: counters say {counted}, table has {rows}")
        queued = db.session.scalar(select(func.count()).select_from(OutboxMessage))
        result = {
            "scenario": "verify",
            "confirmed_by_load": len(surge["confirmed"]),
            "confirmed_in_db": real_confirmed,
            "counter_total": int(db.session.scalar(select(func.coalesce(func.sum(SignatureCounter.confirmed), 0))
                                                   .where(SignatureCounter.letter_id == row.id))),
            "signed_not_confirmed": len(surge["signed"]) - len(surge["confirmed"]),
            "lost_mail": len(surge["lost"]),
            "outbox_left": queued,
            "ok": not problems,
        }
        if problems:
            result["problems"] = problems
        db.session.remove()
    print(json.dumps(result), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", action="store_true", help="use a SQLite file instead of PostgreSQL")
    parser.add_argument("--pg-admin-url", default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
                        help="a PostgreSQL database to connect to for CREATE/DROP DATABASE")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--no-redis", action="store_true", help="keep the limiter's counters in memory")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per scenario (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before page scenarios")
    parser.add_argument("--users", type=int, default=48, help="concurrent signers in the surge (default 48)")
    parser.add_argument("--page-users", type=int, default=16, help="concurrent page viewers (default 16)")
    parser.add_argument("--signatures", type=int, default=1_000_000, help="synthetic signatures on the big letter")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("GUNICORN_WORKERS", 4)))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("GUNICORN_THREADS", 1)),
                        help="threads per worker (above 1, gunicorn uses gthread workers)")
    parser.add_argument("--worker-class", default=os.environ.get("GUNICORN_WORKER_CLASS"),
                        help="gunicorn worker class (default: deploy/gunicorn.conf.py's)")
    parser.add_argument("--senders", type=int, default=1, help="`flask outbox work` processes")
    parser.add_argument("--sender-idle", type=float, default=0.05,
                        help="senders' poll interval when idle, seconds (default 0.05: mail waits 25 ms on average)")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="lean",
                        help="the load generator's HTTP client (default lean: bench/http_client.py)")
    parser.add_argument("--sink", choices=["lean", "aiosmtpd"], default="lean",
                        help="the SMTP sink (default lean: bench/smtp_sink.py)")
    parser.add_argument("--mail-timeout", type=float, default=30.0)
    parser.add_argument("--lang", default="en", help="language of the signing pages (default en)")
    parser.add_argument("--only", choices=["baseline", "pages", "signatures"], help="run one part only")
    parser.add_argument("--profile-load", metavar="PATH",
                        help="run the load generator under cProfile, stats to PATH.<scenario kind>")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args(argv)

    with Stack(args) as stack:
        print(json.dumps({"scenario": "setup", "database": "sqlite" if args.sqlite else "postgresql",
                          "redis": stack.environ["RATELIMIT_STORAGE_URI"].startswith("redis"),
                          "workers": args.workers, "threads": args.threads, "worker_class": args.worker_class,
                          "senders": args.senders,
                          "sender_idle": args.sender_idle, "client": args.client, "sink": args.sink,
                          "cpus": os.cpu_count()}), flush=True)
        ok = True
        baseline = summarise("baseline", drive(stack, "pages", base=stack.base, path="/healthz",
                                                users=args.page_users, duration=args.duration, warmup=args.warmup))
        ratio = lambda line: round(line["rps"] / baseline["rps"], 3) if baseline["rps"] else None  # noqa: E731
        page_path = f"/en/letters/{BIG_LETTER}/"
        if args.only in (None, "signatures"):
            surge = drive(stack, "signatures", feed_port=stack.sink.feed_port, base=stack.base, users=args.users,
                          duration=args.duration, run=stack.run, mail_timeout=args.mail_timeout, lang=args.lang)
            complete = len(surge["confirmed"]) / surge["elapsed"]
            line = summarise("signatures", surge, {
                "complete_per_s": round(complete, 1),
                "complete_per_min": round(complete * 60),
                "completed": len(surge["confirmed"]),
                "lost": len(surge["lost"]),
                "per_request_p50_p99_ms": {k: [round(v[0] * 1000, 1), round(v[1] * 1000, 1)] for k, v in surge["by_kind"].items()},
            }, units=len(surge["confirmed"]), unit="signature")
            line["vs_baseline"] = ratio(line)
            target = complete >= 150 and line["p99_ms"] < 250 and line["errors"] == 0 and not surge["lost"]
            print(json.dumps({"scenario": "target_signatures", "complete_per_s": line["complete_per_s"],
                              "p99_ms": line["p99_ms"], "errors": line["errors"], "met": target}), flush=True)
            checked = verify(stack, surge)
            ok = ok and checked["ok"]
        if args.only in (None, "pages"):
            # Measured after the surge (which signs the other letter), so that the empty
            # and the full page are both measured on a warm server.
            empty = drive(stack, "pages", base=stack.base, path=page_path, users=args.page_users,
                          duration=args.duration, warmup=args.warmup)
            summarise("letter_page_0", empty, {"vs_baseline": round(empty["requests"] / empty["elapsed"] / baseline["rps"], 3)})
            seconds = seed(stack, BIG_LETTER, args.signatures)
            print(json.dumps({"scenario": "seed", "signatures": args.signatures, "seconds": round(seconds, 1)}), flush=True)
            big = drive(stack, "pages", base=stack.base, path=page_path, users=args.page_users,
                        duration=args.duration, warmup=args.warmup)
            vs_empty = (big["requests"] / big["elapsed"]) / (empty["requests"] / empty["elapsed"])
            summarise("letter_page_1m", big, {"signatures": args.signatures, "vs_empty": round(vs_empty, 3),
                                              "vs_baseline": round(big["requests"] / big["elapsed"] / baseline["rps"], 3)})
            print(json.dumps({"scenario": "target_letter_page", "vs_empty": round(vs_empty, 3), "met": vs_empty >= 0.8}), flush=True)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
