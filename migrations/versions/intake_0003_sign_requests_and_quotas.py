"""Signing requests go through an encrypted intake; per-mailbox mail quotas; pending
signatures are one per request; no address domain in the clear.

Revision ID: intake_0003
Revises: bundle_0001
"""
from alembic import op
import sqlalchemy as sa

revision = "intake_0003"
down_revision = "bundle_0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
from petition.crypto import decrypt, encrypt

CONFIRMED = sa.text("status = 'confirmed'")
SIGNED = sa.text("status IN ('awaiting', 'approved')")


def upgrade():
    op.create_table(
        "sign_requests",
        sa.Column("id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("payload_enc", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["letter_id"], ["letters.id"], name=op.f("fk_sign_requests_letter_id_letters"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_requests")),
    )
    op.create_table(
        "mail_quotas",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_mail_quotas")),
    )
    op.create_index(op.f("ix_mail_quotas_day"), "mail_quotas", ["day"])
    with op.batch_alter_table("signatures") as batch:
        batch.drop_constraint("uq_signatures_letter_id_email_hash", type_="unique")
        batch.drop_column("email_domain")  # plaintext domains are not kept, not even migrated
        batch.drop_column("mail_day")
        batch.drop_column("mail_count")
        batch.add_column(sa.Column("manage_nonce_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("email_domain_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("email_domain_enc", sa.Text(), nullable=True))
    op.create_index("uq_signatures_confirmed_email", "signatures", ["letter_id", "email_hash"], unique=True,
                    sqlite_where=CONFIRMED, postgresql_where=CONFIRMED)
    op.create_index("ix_signatures_email", "signatures", ["letter_id", "email_hash"])
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("mail_day")
        batch.drop_column("mail_count")
        batch.add_column(sa.Column("manage_nonce_enc", sa.Text(), nullable=True))
        batch.alter_column("name", type_=sa.Text(), existing_type=sa.String(length=200), existing_nullable=False)
        batch.alter_column("website", type_=sa.Text(), existing_type=sa.String(length=300), existing_nullable=True)
    _recode_organisations(encrypt)
    op.create_index("uq_organisations_signed_contact", "organisations", ["letter_id", "contact_email_hash"],
                    unique=True, sqlite_where=SIGNED, postgresql_where=SIGNED)


def _recode_organisations(code):
    """What organisations typed is encrypted at rest from this revision on (and decrypted
    again on the way down), with the app's DATA_KEYS: run through `flask db`."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, name, website, statement FROM organisations")).all()
    for row in rows:
        bind.execute(
            sa.text("UPDATE organisations SET name = :name, website = :website, statement = :statement WHERE id = :id"),
            {"id": row.id, **{column: code(getattr(row, column)) if getattr(row, column) is not None else None
                              for column in ("name", "website", "statement")}},
        )


def downgrade():
    op.drop_index("uq_organisations_signed_contact", table_name="organisations")
    _recode_organisations(decrypt)
    with op.batch_alter_table("organisations") as batch:
        batch.alter_column("website", type_=sa.String(length=300), existing_type=sa.Text(), existing_nullable=True)
        batch.alter_column("name", type_=sa.String(length=200), existing_type=sa.Text(), existing_nullable=False)
        batch.drop_column("manage_nonce_enc")
        batch.add_column(sa.Column("mail_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("mail_day", sa.Date(), nullable=True))
    op.drop_index("ix_signatures_email", table_name="signatures")
    op.drop_index("uq_signatures_confirmed_email", table_name="signatures")
    # Pending rows are one per request after this revision; the old schema allows one per
    # address, so only the newest pending request of an address survives a downgrade.
    op.execute(
        "DELETE FROM signatures WHERE status = 'pending' AND id NOT IN ("
        " SELECT max(id) FROM signatures s2 GROUP BY s2.letter_id, s2.email_hash)"
    )
    op.execute(
        "DELETE FROM signatures WHERE status = 'pending' AND EXISTS ("
        " SELECT 1 FROM signatures c WHERE c.status = 'confirmed' AND c.letter_id = signatures.letter_id"
        " AND c.email_hash = signatures.email_hash)"
    )
    with op.batch_alter_table("signatures") as batch:
        batch.drop_column("email_domain_enc")
        batch.drop_column("email_domain_hash")
        batch.drop_column("manage_nonce_enc")
        batch.add_column(sa.Column("mail_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("mail_day", sa.Date(), nullable=True))
        batch.add_column(sa.Column("email_domain", sa.String(length=255), nullable=True))
        batch.create_unique_constraint("uq_signatures_letter_id_email_hash", ["letter_id", "email_hash"])
    op.drop_index(op.f("ix_mail_quotas_day"), table_name="mail_quotas")
    op.drop_table("mail_quotas")
    op.drop_table("sign_requests")
