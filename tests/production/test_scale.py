"""What the load benchmark relies on, at test size: bulk synthetic signatures, counters
that agree with the table, and a letter page whose work does not grow with the count."""
from __future__ import annotations

from sqlalchemy import event, func, select

from petition.extensions import db
from petition.letters import services as letters
from petition.signing import counters
from petition.signing.models import Signature
from petition.signing.synthetic import fake

SLUG = "protect-women-hrds"


def test_synthetic_signatures_and_reconcile(app):
    row = letters.letter_row(SLUG)
    fake(db.session, row, 3000, seed=7, batch_size=1000)
    db.session.commit()
    rows = db.session.scalar(select(func.count()).select_from(Signature).where(
        Signature.letter_id == row.id, Signature.status == "confirmed"))
    assert rows == 3000
    counters.forget(row.id)
    assert counters.confirmed_count(row.id) == 3000
    # reconcile recomputes per shard (GROUP BY id % shards, on PostgreSQL too).
    before, after = counters.reconcile(db.session, row.id)
    db.session.commit()
    assert before == after == 3000


def _statements(app, path: str) -> list[str]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert app.test_client().get(path).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def test_letter_page_queries_do_not_grow_with_signatures(app):
    path = f"/ar/letters/{SLUG}/"
    app.test_client().get(path)
    empty = _statements(app, path)
    fake(db.session, letters.letter_row(SLUG), 2000, seed=3, batch_size=500)
    db.session.commit()
    app.test_client().get(path)
    full = _statements(app, path)
    assert len(full) == len(empty)
    assert not any("count(" in s.lower() and "signatures" in s.lower() and "signature_counters" not in s.lower()
                   for s in full), "the letter page must not COUNT the signatures table"
