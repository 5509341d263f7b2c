"""Does the "withdraw with a code" page answer a used code as fast as a wrong one?

Runs the app in process (SQLite by default, or --database-url postgresql://...), confirms
a few signatures, withdraws half of them with their codes, then sends interleaved POSTs:
a used code, a random wrong code, a malformed code, in turn, n times each. Prints the
medians and the AUC (the probability that a used-code probe is slower than a
wrong-code probe; 0.5 means they cannot be told apart). Run it on a quiet machine:

    .venv/bin/python bench/withdraw_code_timing.py            # n=300
    .venv/bin/python bench/withdraw_code_timing.py -n 1000 --database-url postgresql://postgres@127.0.0.1/bench
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from petition import create_app  # noqa: E402
from petition.signing import withdraw_codes  # noqa: E402
from tests.helpers import (  # noqa: E402
    confirm_from_mail, form_values, make_config, reset_database, sign_letter, withdraw_code_in,
)


def auc(slower: list[float], faster: list[float]) -> float:
    """P(a sample of `slower` > a sample of `faster`), ties counting half."""
    wins = 0.0
    for a in slower:
        for b in faster:
            wins += 1.0 if a > b else 0.5 if a == b else 0.0
    return wins / (len(slower) * len(faster))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="withdraw-code-bench-"))
    overrides = {"DATABASE_URL": args.database_url} if args.database_url else {}
    app = create_app(make_config(tmp, **overrides))
    reset_database(app)
    client = app.test_client()
    used = []
    with app.app_context():
        for i in range(10):
            assert sign_letter(client, email=f"bench{i}@example.org", name=f"Bench {i}").status_code == 303
            code = withdraw_code_in(confirm_from_mail(client, app).text)
            if i % 2 == 0:
                asked = client.post("/en/withdraw-with-code", data=form_values(client.get("/en/withdraw-with-code").text)
                                    | {"code": code})
                done = client.post("/en/withdraw-with-code", data=form_values(asked.text) | {"code": code, "confirm": "1"})
                assert done.status_code == 303
                used.append(code)
    form = form_values(client.get("/en/withdraw-with-code").text)
    kinds = {"used": lambda i: used[i % len(used)], "wrong": lambda i: withdraw_codes.new_code(),
             "malformed": lambda i: "not-a-code-" + str(i)}
    times: dict[str, list[float]] = {k: [] for k in kinds}
    bodies: dict[str, set] = {k: set() for k in kinds}
    for i in range(args.n):
        for kind, code in kinds.items():
            start = time.perf_counter()
            response = client.post("/en/withdraw-with-code", data=form | {"code": code(i)})
            times[kind].append(time.perf_counter() - start)
            bodies[kind].add((response.status_code, re.sub(r'value="[^"]*"', "", response.text)))
    for kind, samples in times.items():
        print(f"{kind:10s} n={len(samples)} median={statistics.median(samples) * 1000:.3f} ms")
    print(f"AUC used>wrong: {auc(times['used'], times['wrong']):.3f}  (target 0.45-0.55)")
    print(f"AUC malformed>wrong: {auc(times['malformed'], times['wrong']):.3f}")
    print("identical answers:", len(set.union(*bodies.values())) == 1)


if __name__ == "__main__":
    main()
