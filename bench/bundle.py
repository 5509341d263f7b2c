"""Benchmark of bundle builds: seconds, peak RSS of the whole process tree, pages, bytes.

    .venv/bin/python bench/bundle.py                      # N = 1,000, 10,000, 100,000 on SQLite
    .venv/bin/python bench/bundle.py --sizes 1000 --lang ar       # Arabic bundle (RTL, shaped)
    .venv/bin/python bench/bundle.py --postgres postgresql://postgres@127.0.0.1:5432/test

Each measurement runs in a fresh child process (so one run's memory does not count in
the next) that seeds N synthetic signatures (`signatures fake`: mixed Latin, Arabic and
Greek names) into a throwaway database (a temporary SQLite file, or a new PostgreSQL
schema dropped afterwards), then builds and signs the bundle. The parent samples the RSS
of the child and all its descendants (the render workers) every 50 ms. Seeding is not
timed. For N up to --baseline-max, the same rows also go through the naive baseline: one
HTML table rendered by WeasyPrint in one go. One JSON line per measurement on stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _tree_rss(proc) -> int:
    import psutil

    total = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure(args: list[str]) -> dict:
    """Run this script with args in a child; return its JSON result plus peak tree RSS."""
    import psutil

    load_before = os.getloadavg()[0]
    child = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    proc = psutil.Process(child.pid)
    peak = 0
    marks: dict[str, int] = {}
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(proc))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_lines = []
    for line in child.stdout:
        line = line.strip()
        if line == "START":  # seeding done: the measured part begins
            marks["seed_peak"] = peak
            peak = 0
            continue
        out_lines.append(line)
    child.wait()
    stop.set()
    sampler.join()
    if child.returncode != 0 or not out_lines:
        raise SystemExit(f"child failed ({child.returncode}): {' '.join(args)}")
    result = json.loads(out_lines[-1])
    result["peak_rss_mb"] = round(peak / 1048576)
    # The machine is shared (2 cores): the 1-minute load average before and after the
    # run says how much of it the measurement had.
    result["load_avg"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


# ---- the child side --------------------------------------------------------------------

def _app(database_url: str, tmp: Path, workers: int):
    from cryptography.fernet import Fernet

    from petition import create_app
    from petition.config import Config

    config = Config.from_env(env={}, ENV="testing", SECRET_KEY="bench-secret-" + "x" * 40,
                             HASH_KEY="bench-hash-" + "y" * 40, DATA_KEYS=[Fernet.generate_key().decode()],
                             DATABASE_URL=database_url, PUBLIC_URL="https://letters.example",
                             OUTBOX_IN_PROCESS=False, OUTBOX_DIR=str(tmp / "outbox"), RATELIMIT_ENABLED=False,
                             BUNDLE_PKCS12_PATH=str(tmp / "signing.p12"), BUNDLE_WORKERS=workers)
    return create_app(config)


def _prepare(app) -> None:
    from flask_migrate import upgrade

    from petition.extensions import db
    from petition.letters import services as letters

    with app.app_context():
        upgrade()
        letters.sync(db.session, letters.registry())
        db.session.remove()


def child(ns) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-bundle-"))
    schema = None
    if ns.postgres:
        import psycopg

        schema = "bench_" + secrets.token_hex(4)
        with psycopg.connect(ns.postgres, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in ns.postgres else "?"
        database_url = f"{ns.postgres}{sep}options=-csearch_path%3D{schema}"
    else:
        database_url = f"sqlite:///{tmp / 'bench.db'}"
    try:
        app = _app(database_url, tmp, ns.workers)
        _prepare(app)
        from petition.bundles import services, signing_keys
        from petition.extensions import db
        from petition.letters import services as letters
        from petition.signing.synthetic import fake

        with app.app_context():
            signing_keys.init_keys(app.config["PETITION"], "Benchmark signer")
            row = letters.letter_row(ns.slug)
            fake(db.session, row, ns.n, seed=ns.n)
            db.session.commit()
            print("START", flush=True)
            started = time.perf_counter()
            if ns.baseline:
                pages, size = baseline(row, ns.lang)
            else:
                built = services.build(db.session, row, ns.lang)
                db.session.commit()
                pages, size = built.bundle.pages, built.bundle.size_bytes
            seconds = time.perf_counter() - started
            db.session.remove()
        print(json.dumps({"method": "weasyprint-one-table" if ns.baseline else "pipeline", "n": ns.n,
                          "lang": ns.lang, "db": "postgresql" if ns.postgres else "sqlite",
                          "seconds": round(seconds, 2), "pages": pages, "bytes": size}), flush=True)
    finally:
        if schema:
            import psycopg

            with psycopg.connect(ns.postgres, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
        for path in sorted(tmp.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        tmp.rmdir()


def baseline(row, lang: str) -> tuple[int, int]:
    """The naive way: every named signatory in one HTML table, one WeasyPrint document."""
    from html import escape

    from weasyprint import HTML

    from petition.bundles import spool as spooling
    from petition.countries import name as country_name
    from petition.extensions import db
    from petition.privacy.crypto import decrypt
    from petition.text import initials

    spool = spooling.collect(db.session, row.id)
    cells = []
    for number, (name_enc, affiliation_enc, visibility, country, day) in enumerate(spool.named, 1):
        name = decrypt(name_enc)
        shown = initials(name) if visibility == "initials" else name
        affiliation = decrypt(affiliation_enc) if affiliation_enc else ""
        cells.append(f"<tr><td>{number}</td><td>{escape(shown)}</td><td>{escape(country_name(country, lang))}</td>"
                     f"<td>{escape(affiliation)}</td><td>{day}</td></tr>")
    spooling.remove(spool)
    direction = "rtl" if lang == "ar" else "ltr"
    html = (f'<html lang="{lang}" dir="{direction}"><head><style>@page {{ size: A4; margin: 15mm }} '
            'body { margin: 0; font: 8pt "DejaVu Sans", "Noto Naskh Arabic" } td { padding: 0 2mm }</style></head>'
            f'<body><table>{"".join(cells)}</table></body></html>')
    pdf = HTML(string=html).write_pdf()
    import io

    import pypdf

    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages), len(pdf)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--lang", default="en",
                        help="bundle language (en, ar, ...): ar sets every country name in Arabic, shaped")
    parser.add_argument("--slug", default="secure-our-socials")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", metavar="URL", default="")
    parser.add_argument("--baseline-max", type=int, default=10000,
                        help="also run the one-shot WeasyPrint table for N up to this (0: never)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.child:
        child(ns)
        return
    common = ["--child", "--lang", ns.lang, "--slug", ns.slug, "--workers", str(ns.workers)]
    if ns.postgres:
        common += ["--postgres", ns.postgres]
    for n in ns.sizes:
        print(json.dumps(measure(common + ["--n", str(n)])), flush=True)
    for n in ns.sizes:
        if n <= ns.baseline_max:
            print(json.dumps(measure(common + ["--n", str(n), "--baseline"])), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PETITION_ENV", "testing")
    main()
