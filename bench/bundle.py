"""Benchmark of bundle builds: seconds, peak RSS of the whole process tree, pages, bytes.

    .venv/bin/python bench/bundle.py                      # N = 1,000, 10,000, 100,000 on SQLite
    .venv/bin/python bench/bundle.py --sizes 1000 --lang ar       # Arabic bundle (RTL, shaped)
    .venv/bin/python bench/bundle.py --postgres postgresql://postgres@127.0.0.1:5432/test

    .venv/bin/python bench/bundle.py --sizes 1000000 --paper 2000 --keep /tmp/b1m   # seed once, keep it
    .venv/bin/python bench/bundle.py --sizes 1000000 --paper 2000 --keep /tmp/b1m   # builds again from it

A child process seeds N synthetic signatures (`signatures fake`: mixed Latin, Arabic and
Greek names) and --paper paper signatures into a throwaway database (a temporary SQLite
file, or a new PostgreSQL schema dropped afterwards); then a fresh child process (so
that the seeding's memory does not count) builds and signs the bundle, as a job worker
would. The parent samples the RSS of the building child and all its descendants (the
render workers) every 50 ms. Seeding is not timed. With --keep DIR the SQLite database
stays in DIR and later runs with the same DIR skip the seeding. For N up to --baseline-max, the same rows also go through the naive baseline: one
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

    key_file = tmp / "data_key"  # the seeding and the building process share it
    if not key_file.exists():
        key_file.write_text(Fernet.generate_key().decode())
    config = Config.from_env(env={}, ENV="testing", SECRET_KEY="bench-secret-" + "x" * 40,
                             HASH_KEY="bench-hash-" + "y" * 40, DATA_KEYS=[key_file.read_text().strip()],
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


def _database_url(ns, tmp: Path) -> str:
    if ns.schema:
        sep = "&" if "?" in ns.postgres else "?"
        return f"{ns.postgres}{sep}options=-csearch_path%3D{ns.schema}"
    return f"sqlite:///{tmp / 'bench.db'}"


def _paper(db_session, row, count: int) -> None:
    """count paper signatures in one import, as petition.paper.services stores them."""
    import random
    from datetime import date

    from petition.paper.models import PaperImport, PaperSignature
    from petition.crypto import encrypt

    rng = random.Random(count)
    batch = PaperImport(letter_id=row.id, rows=count, file_sha256="0" * 64, consent_statement="benchmark")
    db_session.add(batch)
    db_session.flush()
    names = ["Amal Haddad", "سارة خليل", "Νίκος Παπαδόπουλος", "Karim Mansour", "ليلى", "M. K."]
    db_session.execute(PaperSignature.__table__.insert(), [
        {"letter_id": row.id, "import_id": batch.id, "name_enc": encrypt(f"{rng.choice(names)} {i}"),
         "country": rng.choice(["LB", "JO", "IQ", "SY", "EG", "FR"]),
         "bundle_visibility": "named" if rng.random() < 0.8 else "counted",
         "collected_on": date(2026, 3, 8), "place": rng.choice(["Beirut, 8 March march", "Amman", "عمّان"])}
        for i in range(count)])


def seed(ns) -> None:
    tmp = Path(ns.workdir)
    app = _app(_database_url(ns, tmp), tmp, ns.workers)
    _prepare(app)
    from petition.bundles import signing_keys
    from petition.extensions import db
    from petition.letters import services as letters
    from petition.signing.synthetic import fake

    with app.app_context():
        signing_keys.init_keys(app.config["PETITION"], "Benchmark signer", force=True)
        row = letters.letter_row(ns.slug)
        fake(db.session, row, ns.n, seed=ns.n)
        db.session.commit()
        if ns.paper:
            try:
                _paper(db.session, row, ns.paper)
            except ImportError:  # code from before paper signatures existed
                pass
            db.session.commit()
        db.session.remove()


def child(ns) -> None:
    tmp = Path(ns.workdir)
    try:
        app = _app(_database_url(ns, tmp), tmp, ns.workers)
        from petition.bundles import services
        from petition.extensions import db
        from petition.letters import services as letters

        with app.app_context():
            row = letters.letter_row(ns.slug)
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
                          "paper": ns.paper, "lang": ns.lang, "db": "postgresql" if ns.postgres else "sqlite",
                          "seconds": round(seconds, 2), "pages": pages, "bytes": size}), flush=True)
    finally:
        pass


def baseline(row, lang: str) -> tuple[int, int]:
    """The naive way: every named signatory in one HTML table, one WeasyPrint document."""
    from html import escape

    from weasyprint import HTML

    from petition.bundles import spool as spooling
    from petition.countries import name as country_name
    from petition.extensions import db
    from petition.crypto import decrypt
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
    parser.add_argument("--paper", type=int, default=0, help="paper signatures to add to each letter")
    parser.add_argument("--keep", metavar="DIR", default="",
                        help="keep the seeded SQLite database in DIR and reuse it on later runs")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--schema", default="", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.seed:
        seed(ns)
        return
    if ns.child:
        child(ns)
        return
    for n in ns.sizes:
        for baseline in ([False, True] if n <= ns.baseline_max else [False]):
            print(json.dumps(_run(ns, n, baseline)), flush=True)


def _run(ns, n: int, baseline: bool) -> dict:
    """Seed (unless kept from an earlier run), then measure one build in a fresh process."""
    import shutil

    workdir = Path(ns.keep) / f"{n}-{ns.paper}-{ns.slug}" if ns.keep and not ns.postgres else \
        Path(tempfile.mkdtemp(prefix="bench-bundle-"))
    workdir.mkdir(parents=True, exist_ok=True)
    common = ["--lang", ns.lang, "--slug", ns.slug, "--workers", str(ns.workers), "--n", str(n),
              "--paper", str(ns.paper), "--workdir", str(workdir)]
    schema = ""
    if ns.postgres:
        import psycopg

        schema = "bench_" + secrets.token_hex(4)
        with psycopg.connect(ns.postgres, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        common += ["--postgres", ns.postgres, "--schema", schema]
    try:
        if not (workdir / "bench.db").exists() or ns.postgres:
            subprocess.run([sys.executable, __file__, "--seed", *common], check=True, stdout=subprocess.DEVNULL)
        return measure(["--child", *common] + (["--baseline"] if baseline else []))
    finally:
        if schema:
            import psycopg

            with psycopg.connect(ns.postgres, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
        if not ns.keep or ns.postgres:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PETITION_ENV", "testing")
    main()
