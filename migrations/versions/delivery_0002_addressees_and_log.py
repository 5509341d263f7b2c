"""deliveries per addressee, the company's link, and the hash-chained delivery log

Revision ID: delivery_0002
Revises: pub_0002
Create Date: 2026-11-29 22:20:00

Existing deliveries are kept: `addressee` becomes `company` (platform ""), the person
they went to is "not stated" (no recipient_enc), each gets an unusable link hash (the lead makes a new link
with `deliveries link`), and each is written into the new log in the order it was
recorded: "delivered", then, for a response the lead had typed in (it was public
already), "response received" and "response published".
"""
import hashlib
import json
import secrets
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "delivery_0002"
down_revision = "pub_0002"
branch_labels = None
depends_on = None


# A frozen copy of petition.deliveries.chain (format 1): migrations never import the app.
def _canonical(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _entry_hash(letter, seq, kind, at, data, prev):
    return hashlib.sha256(_canonical({"v": 1, "letter": letter, "seq": seq, "kind": kind, "at": at,
                                      "data": data, "prev": prev})).hexdigest()


def _at(value) -> str:
    """created_at as the log writes times (SQLite hands back text, PostgreSQL a datetime)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="seconds")


def upgrade():
    bind = op.get_bind()
    # The deliveries table first, while no table refers to it (SQLite's batch mode copies it).
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("addressee", new_column_name="company", existing_type=sa.String(length=120),
                              type_=sa.String(length=300), existing_nullable=False)
        batch_op.add_column(sa.Column("platform", sa.String(length=300), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("recipient_enc", sa.Text(), nullable=True))  # None: "not stated"
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("response_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    for (delivery_id,) in bind.execute(sa.text("SELECT id FROM deliveries")).all():
        bind.execute(sa.text("UPDATE deliveries SET token_hash = :h WHERE id = :id"),
                     {"h": hashlib.sha256(secrets.token_urlsafe(32).encode()).hexdigest(), "id": delivery_id})
    bind.execute(sa.text("UPDATE deliveries SET response_at = created_at, published_at = created_at "
                         "WHERE response IS NOT NULL"))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("platform", server_default=None, existing_type=sa.String(length=300),
                              existing_nullable=False)
        batch_op.alter_column("token_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_deliveries_token_hash"), ["token_hash"])

    op.create_table(
        "delivery_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"], name=op.f("fk_delivery_log_delivery_id_deliveries"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["letter_id"], ["letters.id"], name=op.f("fk_delivery_log_letter_id_letters"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_log")),
        sa.UniqueConstraint("entry_hash", name=op.f("uq_delivery_log_entry_hash")),
        sa.UniqueConstraint("letter_id", "seq", name=op.f("uq_delivery_log_letter_id_seq")),
    )
    with op.batch_alter_table("delivery_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_log_delivery_id"), ["delivery_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_delivery_log_letter_id"), ["letter_id"], unique=False)

    rows = bind.execute(sa.text(
        "SELECT d.id, d.letter_id, l.slug, d.company, d.delivered_on, d.channel, d.response, d.created_at, "
        "d.bundle_id, b.sha256 FROM deliveries d JOIN letters l ON l.id = d.letter_id "
        "JOIN bundles b ON b.id = d.bundle_id ORDER BY d.letter_id, d.created_at, d.id")).all()
    log = sa.table("delivery_log", *(sa.column(c) for c in (
        "letter_id", "seq", "delivery_id", "kind", "at", "data", "prev_hash", "entry_hash")))
    chains: dict = {}
    for (delivery_id, letter_id, slug, company, delivered_on, channel, response, created_at,
         bundle_id, sha256) in rows:
        at = _at(created_at)
        base = {"delivery": delivery_id, "company": company, "platform": ""}
        details = hashlib.sha256(_canonical({"channel": channel, "recipient": "not stated"})).hexdigest()
        events = [("delivered", {**base, "delivered_on": str(delivered_on)[:10], "bundle_id": bundle_id,
                                 "bundle_sha256": sha256, "bundle_timestamp": None, "details_sha256": details})]
        if response:
            digest = hashlib.sha256(response.encode("utf-8")).hexdigest()
            events.append(("response_received", {**base, "response_sha256": digest, "response_chars": len(response)}))
            events.append(("response_published", {**base, "response_sha256": digest, "text": response}))
        seq, prev = chains.get(letter_id, (0, "0" * 64))
        for kind, data in events:
            seq += 1
            entry = _entry_hash(slug, seq, kind, at, data, prev)
            bind.execute(log.insert().values(letter_id=letter_id, seq=seq, delivery_id=delivery_id, kind=kind, at=at,
                                             data=_canonical(data).decode("utf-8"), prev_hash=prev, entry_hash=entry))
            prev = entry
        chains[letter_id] = (seq, prev)


def downgrade():
    with op.batch_alter_table("delivery_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_log_letter_id"))
        batch_op.drop_index(batch_op.f("ix_delivery_log_delivery_id"))
    op.drop_table("delivery_log")
    # Responses that were never published were not public before this revision: drop them.
    op.get_bind().execute(sa.text("UPDATE deliveries SET response = NULL WHERE published_at IS NULL"))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_deliveries_token_hash"), type_="unique")
        batch_op.drop_column("published_at")
        batch_op.drop_column("response_at")
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("token_hash")
        batch_op.drop_column("recipient_enc")
        batch_op.drop_column("platform")
        batch_op.alter_column("company", new_column_name="addressee", existing_type=sa.String(length=300),
                              type_=sa.String(length=120), existing_nullable=False)
