"""What a public page costs in process: milliseconds per view through Flask's test client.

No server, no network, no load generator: only the app's own CPU, which is what a code
change moves. `bench/load.py` measures the whole stack but its figures swing ±20 % from
run to run on a shared 2-core machine; this one swings a few per cent, so it is the one
to compare two versions of the code with (run both back to back, as README does).

Pages are measured as a visitor meets them under a surge: caches on (COUNT_CACHE_SECONDS
and LETTER_CACHE_SECONDS at their defaults), so each is the cached path after the first
view. /healthz, which writes to the database, is the yardstick printed beside them.

    .venv/bin/python bench/pages.py [--rounds 7] [--views 300]

Prints one JSON line: for each page, the median over the rounds of the mean time a view
took, and that as a multiple of /healthz's.
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from petition import create_app  # noqa: E402
from tests.helpers import make_config, reset_database  # noqa: E402

PAGES = [
    "/en/",
    "/en/letters/secure-our-socials/",
    "/ar/letters/secure-our-socials/",
    "/en/letters/secure-our-socials/sign",
    "/healthz",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--views", type=int, default=300, help="views per page per round")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # migrations' INFO lines

    with tempfile.TemporaryDirectory() as tmp:
        # The defaults of a real site for the caches; tests' config turns them off.
        app = create_app(make_config(Path(tmp), COUNT_CACHE_SECONDS=2.0, LETTER_CACHE_SECONDS=1.0))
        reset_database(app)
        client = app.test_client()
        for page in PAGES:
            status = client.get(page).status_code
            if status != 200:
                raise SystemExit(f"{page} answered {status}")
        ms = {}
        for page in PAGES:
            rounds = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                for _ in range(args.views):
                    client.get(page)
                rounds.append((time.perf_counter() - started) / args.views * 1000)
            ms[page] = statistics.median(rounds)
    baseline = ms["/healthz"]
    print(json.dumps({page: {"ms_per_view": round(value, 3), "vs_healthz": round(value / baseline, 3)}
                      for page, value in ms.items()}))


if __name__ == "__main__":
    main()
