"""CPU per complete signature in process: form, submission, intake, mail, confirm page, confirmation.

Like bench/pages.py, no server and no network: only the app's own CPU (process time),
which is what a code change moves, steadier than bench/load.py on a shared machine.
Each signer has a browser of their own (a new test client), as in bench/load.py: a
signer's own next pages are read afresh for a few seconds after they confirm
(petition/caching.py), which one client signing over and over would pay every time.

    .venv/bin/python bench/signing_cpu.py [--rounds 6] [--signers 20]

Prints one JSON line: the milliseconds of CPU per complete signature, per round and the
median.
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
from petition.extensions import db  # noqa: E402
from petition.mail.models import OutboxMessage  # noqa: E402
from petition.mail.outbox import payload  # noqa: E402
from tests.helpers import confirm_from_mail, make_config, process_intake, reset_database, sign_letter  # noqa: E402


def complete_signature(app, number: int) -> None:
    client = app.test_client()
    response = sign_letter(client, email=f"signer{number}@example.org", name=f"Signer {number}")
    assert response.status_code == 303, response.status_code
    process_intake(app)
    with app.app_context():
        newest = db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(1)).first()
        message = payload(newest)
    assert confirm_from_mail(client, app, message).status_code == 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--signers", type=int, default=20, help="complete signatures per round")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(make_config(Path(tmp), COUNT_CACHE_SECONDS=2.0, LETTER_CACHE_SECONDS=1.0))
        reset_database(app)
        number = 0
        for _ in range(args.signers):  # warm-up: imports, caches, first pages rendered
            number += 1
            complete_signature(app, number)
        rounds = []
        for _ in range(args.rounds):
            started = time.process_time()
            for _ in range(args.signers):
                number += 1
                complete_signature(app, number)
            rounds.append((time.process_time() - started) / args.signers * 1000)
    print(json.dumps({"ms_cpu_per_signature": [round(r, 2) for r in rounds],
                      "median": round(statistics.median(rounds), 2)}))


if __name__ == "__main__":
    main()
