"""withdrawal codes and batched publication of public names

Revision ID: pub_0002
Revises: jobsdump_0003
Create Date: 2026-11-29 22:00:00

signatures.withdraw_code_hash, organisations.withdraw_code_hash: keyed hash of the
one-time code shown after confirming.
signatures.published_on / public_rank: when a public name was published, in which place
of the public list. Names already public before this revision stay public, in the order
they had (by id), dated by the day they were confirmed.
"""
from alembic import op
import sqlalchemy as sa


revision = 'pub_0002'
down_revision = 'jobsdump_0003'
branch_labels = None
depends_on = None

UNPUBLISHED = "public_rank IS NULL AND public_name IS NOT NULL"


def upgrade():
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdraw_code_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('published_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('public_rank', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_signatures_withdraw_code_hash'), ['withdraw_code_hash'], unique=True)
        batch_op.create_index('ix_signatures_published', ['letter_id', 'public_rank'], unique=True)
        batch_op.create_index('ix_signatures_unpublished', ['letter_id', 'confirmed_at'], unique=False,
                              sqlite_where=sa.text(UNPUBLISHED), postgresql_where=sa.text(UNPUBLISHED))
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdraw_code_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_organisations_withdraw_code_hash'), ['withdraw_code_hash'], unique=True)
    day = "CAST(confirmed_at AT TIME ZONE 'UTC' AS DATE)" if op.get_bind().dialect.name == "postgresql" else "date(confirmed_at)"
    op.execute(f"UPDATE signatures SET public_rank = id, published_on = {day} "
               "WHERE status = 'confirmed' AND public_name IS NOT NULL")


def downgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisations_withdraw_code_hash'))
        batch_op.drop_column('withdraw_code_hash')
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.drop_index('ix_signatures_unpublished', sqlite_where=sa.text(UNPUBLISHED),
                            postgresql_where=sa.text(UNPUBLISHED))
        batch_op.drop_index('ix_signatures_published')
        batch_op.drop_index(batch_op.f('ix_signatures_withdraw_code_hash'))
        batch_op.drop_column('public_rank')
        batch_op.drop_column('published_on')
        batch_op.drop_column('withdraw_code_hash')
