"""paper signatures; bundle signature level and timestamp

Revision ID: bundle_0001
Revises: delivery_0002
Create Date: 2026-11-29 22:05:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'bundle_0001'
down_revision = 'delivery_0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('paper_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('letter_id', sa.Integer(), nullable=False),
    sa.Column('imported_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('consent_statement', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['imported_by'], ['users.id'], name=op.f('fk_paper_imports_imported_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['letter_id'], ['letters.id'], name=op.f('fk_paper_imports_letter_id_letters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_imports'))
    )
    with op.batch_alter_table('paper_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_paper_imports_letter_id'), ['letter_id'], unique=False)

    op.create_table('paper_signatures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('letter_id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('name_enc', sa.Text(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('bundle_visibility', sa.String(length=10), nullable=False),
    sa.Column('collected_on', sa.Date(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['paper_imports.id'], name=op.f('fk_paper_signatures_import_id_paper_imports'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['letter_id'], ['letters.id'], name=op.f('fk_paper_signatures_letter_id_letters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_signatures'))
    )
    with op.batch_alter_table('paper_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_paper_signatures_import_id'), ['import_id'], unique=False)
        batch_op.create_index('ix_paper_signatures_letter', ['letter_id', 'id'], unique=False)

    with op.batch_alter_table('bundles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signature_level', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('timestamped_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('timestamp_authority', sa.String(length=300), nullable=True))


def downgrade():
    with op.batch_alter_table('bundles', schema=None) as batch_op:
        batch_op.drop_column('timestamp_authority')
        batch_op.drop_column('timestamped_at')
        batch_op.drop_column('signature_level')
    with op.batch_alter_table('paper_signatures', schema=None) as batch_op:
        batch_op.drop_index('ix_paper_signatures_letter')
        batch_op.drop_index(batch_op.f('ix_paper_signatures_import_id'))
    op.drop_table('paper_signatures')
    with op.batch_alter_table('paper_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_paper_imports_letter_id'))
    op.drop_table('paper_imports')
