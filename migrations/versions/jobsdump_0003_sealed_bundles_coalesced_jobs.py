"""bundles encrypted at rest, coalesced jobs, rejected organisations purged

Revision ID: jobsdump_0003
Revises: growth_0002
Create Date: 2026-11-29 22:00:00

- bundles.pdf (the signed PDF in the clear) becomes bundle_chunks: the PDF sealed with
  AES-256-GCM in chunks of 1 MiB under a key of its own, that key wrapped by DATA_KEYS in
  bundles.pdf_key (the format of petition/privacy/crypto.py's seal_stream, written out
  here so that the migration does not depend on application code that may change).
  Existing bundles are encrypted on the way up and decrypted on the way down.
- jobs.coalesce_key with a unique index over queued and running jobs.
- Rejected organisations are deleted (they are no longer kept; the downgrade cannot
  bring them back).
"""
import base64

from alembic import op
import sqlalchemy as sa
from flask import current_app


# revision identifiers, used by Alembic.
revision = 'jobsdump_0003'
down_revision = 'growth_0002'
branch_labels = None
depends_on = None

CHUNK = 1 << 20
ACTIVE = "status IN ('queued', 'running')"


def _fernet():
    from cryptography.fernet import Fernet, MultiFernet

    return MultiFernet([Fernet(k.encode()) for k in current_app.config["PETITION"].DATA_KEYS])


def _nonce(index, last):
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _sqlite():
    return op.get_bind().dialect.name == "sqlite"


def _drop_column(table, column):
    if _sqlite():  # SQLite 3.35+ drops a plain column in place, without copying the table
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_column(table, column)


def upgrade():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    bind = op.get_bind()
    if _sqlite():
        op.execute("PRAGMA secure_delete=ON")  # the dropped plain PDFs are overwritten
    op.create_table('bundle_chunks',
    sa.Column('bundle_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_bundle_chunks_bundle_id_bundles'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('bundle_id', 'seq', name=op.f('pk_bundle_chunks'))
    )
    op.add_column('bundles', sa.Column('pdf_key', sa.Text(), nullable=True))

    bundles = sa.table('bundles', sa.column('id', sa.String), sa.column('pdf', sa.LargeBinary),
                       sa.column('pdf_key', sa.Text))
    chunks = sa.table('bundle_chunks', sa.column('bundle_id', sa.String), sa.column('seq', sa.Integer),
                      sa.column('data', sa.LargeBinary))
    ids = bind.execute(sa.select(bundles.c.id).order_by(bundles.c.id)).scalars().all()
    if ids:
        fernet = _fernet()
    for bundle_id in ids:
        pdf = bind.execute(sa.select(bundles.c.pdf).where(bundles.c.id == bundle_id)).scalar() or b""
        key = AESGCM.generate_key(bit_length=256)
        aead = AESGCM(key)
        pieces = [pdf[start:start + CHUNK] for start in range(0, len(pdf), CHUNK)] or [b""]
        for index, piece in enumerate(pieces):
            sealed = aead.encrypt(_nonce(index, index == len(pieces) - 1), piece, bundle_id.encode())
            bind.execute(sa.insert(chunks).values(bundle_id=bundle_id, seq=index, data=sealed))
        wrapped = fernet.encrypt(base64.b64encode(key)).decode("ascii")
        bind.execute(sa.update(bundles).where(bundles.c.id == bundle_id).values(pdf_key=wrapped, pdf=None))
    _drop_column('bundles', 'pdf')

    op.add_column('jobs', sa.Column('coalesce_key', sa.String(length=120), nullable=True))
    op.create_index('uq_jobs_active_coalesce_key', 'jobs', ['coalesce_key'], unique=True,
                    sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))

    op.execute("DELETE FROM organisations WHERE status = 'rejected'")


def downgrade():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    bind = op.get_bind()
    op.drop_index('uq_jobs_active_coalesce_key', table_name='jobs')
    _drop_column('jobs', 'coalesce_key')

    op.add_column('bundles', sa.Column('pdf', sa.LargeBinary(), nullable=True))
    bundles = sa.table('bundles', sa.column('id', sa.String), sa.column('pdf', sa.LargeBinary),
                       sa.column('pdf_key', sa.Text))
    chunks = sa.table('bundle_chunks', sa.column('bundle_id', sa.String), sa.column('seq', sa.Integer),
                      sa.column('data', sa.LargeBinary))
    rows = bind.execute(sa.select(bundles.c.id, bundles.c.pdf_key).order_by(bundles.c.id)).all()
    if rows:
        fernet = _fernet()
    for bundle_id, wrapped in rows:
        aead = AESGCM(base64.b64decode(fernet.decrypt(wrapped.encode("ascii"))))
        sealed = bind.execute(sa.select(chunks.c.data).where(chunks.c.bundle_id == bundle_id)
                              .order_by(chunks.c.seq)).scalars().all()
        pdf = b"".join(aead.decrypt(_nonce(index, index == len(sealed) - 1), data, bundle_id.encode())
                       for index, data in enumerate(sealed))
        bind.execute(sa.update(bundles).where(bundles.c.id == bundle_id).values(pdf=pdf))
    _drop_column('bundles', 'pdf_key')
    op.drop_table('bundle_chunks')
