"""Micro-benchmark of the mail path alone: the outbox sender and the benchmark's SMTP sink.

    .venv/bin/python bench/mail_bench.py                      # 3000 messages, PostgreSQL
    .venv/bin/python bench/mail_bench.py --sqlite --messages 1000
    .venv/bin/python bench/mail_bench.py --sink aiosmtpd      # the sink for comparison
    .venv/bin/python bench/mail_bench.py --profile 30         # cProfile of the sender
    .venv/bin/python bench/mail_bench.py --mode work --rate 150   # a trickle, as in a surge
    .venv/bin/python bench/mail_bench.py --mode mime              # the MIME writer alone

Queues realistic confirmation emails (rendered once per language from the real templates,
then varied per recipient) in a throwaway database (helper_<random> on the local
PostgreSQL, dropped at the end, or a SQLite file) and starts the SMTP sink of
bench/load.py (bench/smtp_sink.py) in its own process. Then either
  drain  queues --messages at once and sends them with petition.mail.worker.drain() in
         this process (batches of 200; --profile shows where the time goes), or
  work   runs `flask outbox work --idle <--sender-idle>` in its own process, as the load
         benchmark does, while this process queues --messages at --rate a second
         (small batches, each committed; the sender polls), or
  mime   writes the same messages with petition.mail.mime.render and with the email
         package (no database, no sink): CPU milliseconds a message of each writer.
Prints one JSON line: CPU milliseconds per message of the sender (time.process_time in
drain mode, /proc in work mode), of the sink and of PostgreSQL (from /proc), and checks
that the sink saw every recipient once with its confirm link.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from cpu import CLOCK_TICKS, pids_by_comm, process_ticks  # noqa: E402


def settings(database_url: str, smtp_port: int, tmp: Path) -> dict[str, str]:
    """The environment of this run's app, here and in a `flask outbox work` process."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PETITION", "MAIL_", "OUTBOX", "RATELIMIT"))}
    env.update(
        PETITION_ENV="production", SECRET_KEY=secrets.token_urlsafe(48), HASH_KEY=secrets.token_urlsafe(48),
        DATA_KEYS=Fernet.generate_key().decode(), DATABASE_URL=database_url,
        PUBLIC_URL="https://letters.bench.invalid", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp_port),
        OUTBOX_IN_PROCESS="0", OUTBOX_DIR=str(tmp / "outbox"), RATELIMIT_ENABLED="0", LOG_LEVEL="WARNING",
    )
    return env


def build_app(env: dict[str, str]):
    from petition import create_app
    from petition.config import Config

    return create_app(Config.from_env(env=env))


def prepare(app, count: int, langs: list[str]) -> tuple[list[str], list]:
    """Migrate; return the recipients and their messages (confirmation emails, languages
    in turn), not queued yet."""
    from flask_migrate import upgrade

    from petition.extensions import db
    from petition.letters import services as letters
    from petition.mail import services as mail

    with app.app_context():
        upgrade()
        letters.sync(db.session, letters.registry())
        db.session.commit()
        templates = {}
        with app.test_request_context():
            for lang in langs:
                title = letters.loaded("secure-our-socials").text_for(lang).front.title
                templates[lang] = mail.build(
                    "signing/confirm", to="TO@example.org", lang=lang, subject=f"Confirm your signature: {title}",
                    sender=app.config["PETITION"].MAIL_DISCREET_SENDER, title=title, name="Bench Signer",
                    receipt="AAAA-BBBB-CCCC", confirm_url=f"https://letters.bench.invalid/{lang}/confirm/TOKEN",
                    withdraw_url=f"https://letters.bench.invalid/{lang}/withdraw/TOKEN",
                    letter_url=f"https://letters.bench.invalid/{lang}/letters/secure-our-socials/", max_age_days=30)
        db.session.remove()
    recipients, messages = [], []
    for i in range(count):
        lang = langs[i % len(langs)]
        base = templates[lang]
        token = secrets.token_urlsafe(60)
        recipients.append(f"bench-{i:07d}@example.org")
        messages.append(mail.Message(
            to=recipients[-1], subject=base.subject, sender=base.sender, lang=lang, headers=dict(base.headers),
            text=base.text.replace("TOKEN", token, 1), html=base.html.replace("TOKEN", token, 1)))
    return recipients, messages


def queue(app, messages, rate: float = 0.0) -> None:
    """Queue the messages: all at once, or rate a second in small committed batches."""
    from petition.extensions import db
    from petition.mail import services as mail

    with app.app_context():
        started = time.perf_counter()
        step = max(1, int(rate / 50)) if rate else 500
        for start in range(0, len(messages), step):
            if rate:
                delay = started + start / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            for message in messages[start:start + step]:
                mail.queue(db.session, message, purpose="confirm")
            db.session.commit()
        db.session.remove()


def mime_bench(args) -> int:
    """CPU a message of the hand-written writer and of the email package, on the same
    confirmation emails (best of two rounds each)."""
    from petition.mail import mime

    tmp = Path(tempfile.mkdtemp(prefix="petition-mailbench-"))
    try:
        app = build_app(settings(f"sqlite:///{tmp / 'mail.db'}", 25, tmp))
        _recipients, messages = prepare(app, args.messages, args.langs.split(","))
        default_sender = app.config["PETITION"].MAIL_DEFAULT_SENDER

        def hand_written() -> None:
            for message in messages:
                mime.render(message, default_sender)

        def email_package() -> None:
            for message in messages:
                email = mime.email_package_message(message, default_sender)
                email.as_bytes(policy=email.policy.clone(linesep="\r\n"))

        best: dict[str, float] = {}
        for writer in (hand_written, email_package) * 2:
            started = time.process_time()
            writer()
            ms = (time.process_time() - started) * 1000 / len(messages)
            best[writer.__name__] = min(best.get(writer.__name__, ms), ms)
        print(json.dumps({"scenario": "mime", "messages": len(messages), "langs": args.langs,
                          "cpu_ms_per_message": {name: round(ms, 3) for name, ms in best.items()}}), flush=True)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--langs", default="en,fr,ar", help="languages of the emails, in turn")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--pg-admin-url", default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--sink", choices=["lean", "aiosmtpd"], default="lean")
    parser.add_argument("--mode", choices=["drain", "work", "mime"], default="drain")
    parser.add_argument("--rate", type=float, default=150.0, help="messages queued a second in work mode")
    parser.add_argument("--sender-idle", type=float, default=0.05, help="`outbox work --idle` in work mode")
    parser.add_argument("--profile", type=int, default=0, help="drain mode: print the N top functions by cumulative time")
    args = parser.parse_args(argv)
    if args.mode == "mime":
        return mime_bench(args)

    from smtp_sink import start_sink

    tmp = Path(tempfile.mkdtemp(prefix="petition-mailbench-"))
    database_name = None
    if args.sqlite:
        database_url = f"sqlite:///{tmp / 'mail.db'}"
    else:
        import psycopg

        database_name = f"helper_{secrets.token_hex(4)}"
        with psycopg.connect(args.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database_name}"')
        database_url = args.pg_admin_url.rsplit("/", 1)[0] + "/" + database_name
    ctx = mp.get_context("spawn")
    sink = start_sink(ctx, args.sink)
    worker = None
    try:
        env = settings(database_url, sink.port, tmp)
        app = build_app(env)
        recipients, messages = prepare(app, args.messages, args.langs.split(","))
        seen: dict[str, str] = {}
        feed = sink.subscribe()
        done = threading.Event()

        def collect() -> None:
            for address, path in feed:
                seen[address] = path
                if len(seen) >= len(recipients):
                    done.set()

        threading.Thread(target=collect, daemon=True).start()

        from petition.extensions import db
        from petition.mail.worker import drain

        if args.mode == "work":
            worker = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "outbox", "work", "--idle", str(args.sender_idle)],
                                      cwd=HERE.parent, env=env, stdout=subprocess.DEVNULL)
            time.sleep(3)  # imported and polling
        else:
            queue(app, messages)
        sender_pids = [worker.pid] if worker else []
        before = {"sink": process_ticks([sink.pid]), "postgres": process_ticks(pids_by_comm("postgres")),
                  "sender": process_ticks(sender_pids)}
        profiler = None
        if args.profile and not worker:
            import cProfile

            profiler = cProfile.Profile()
        started_cpu = time.process_time()
        started = time.perf_counter()
        if worker:
            queue(app, messages, args.rate)
            done.wait(120)
            sent, failed = len(seen), 0
        else:
            with app.app_context():
                if profiler:
                    profiler.enable()
                sent, failed = drain()
                if profiler:
                    profiler.disable()
                db.session.remove()
        sender_cpu = time.process_time() - started_cpu
        elapsed = time.perf_counter() - started
        done.wait(30)
        time.sleep(0.3)  # the sink's last replies and accounting
        after = {"sink": process_ticks([sink.pid]), "postgres": process_ticks(pids_by_comm("postgres")),
                 "sender": process_ticks(sender_pids)}
        per = lambda key: round((after[key] - before[key]) * 1000 / CLOCK_TICKS / max(sent, 1), 3)  # noqa: E731
        wrong = [r for r in recipients if "/confirm/" not in seen.get(r, "")]
        line = {
            "scenario": "mail", "database": "sqlite" if args.sqlite else "postgresql", "sink": args.sink,
            "mode": args.mode, "messages": args.messages, "sent": sent, "failed": failed,
            "per_s": round(sent / elapsed, 1),
            "cpu_ms_per_message": {
                "sender": per("sender") if worker else round(sender_cpu * 1000 / max(sent, 1), 3),
                "smtp_sink": per("sink"),
                "postgres": per("postgres"),
            },
            "sink_received": len(seen), "missing_or_no_link": len(wrong), "ok": not wrong and failed == 0,
        }
        if worker:
            line.update(rate=args.rate, sender_idle=args.sender_idle)
        print(json.dumps(line), flush=True)
        if profiler:
            import pstats

            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
        return 0 if line["ok"] else 1
    finally:
        if worker:
            worker.terminate()
            worker.wait(20)
        sink.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if database_name:
            import psycopg

            with psycopg.connect(args.pg_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
