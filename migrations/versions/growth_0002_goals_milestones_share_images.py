"""goals, milestones, share images, published updates (issue 17)

Revision ID: growth_0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "growth_0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("letters") as batch:
        batch.add_column(sa.Column("goal", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("file_goal", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("auto_goal", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "letter_milestones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("goal", sa.Integer(), nullable=False),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["letter_id"], ["letters.id"], name=op.f("fk_letter_milestones_letter_id_letters"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter_milestones")),
        sa.UniqueConstraint("letter_id", "goal", name=op.f("uq_letter_milestones_letter_id_goal")),
    )
    op.create_index(op.f("ix_letter_milestones_letter_id"), "letter_milestones", ["letter_id"])
    op.create_table(
        "share_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("band", sa.Integer(), nullable=False),
        sa.Column("version_hash", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["letter_id"], ["letters.id"], name=op.f("fk_share_images_letter_id_letters"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_images")),
        sa.UniqueConstraint("letter_id", "lang", name=op.f("uq_share_images_letter_id_lang")),
    )
    op.create_index(op.f("ix_share_images_letter_id"), "share_images", ["letter_id"])
    op.create_table(
        "published_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["letter_id"], ["letters.id"], name=op.f("fk_published_updates_letter_id_letters"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_updates")),
    )
    op.create_index(op.f("ix_published_updates_letter_id"), "published_updates", ["letter_id"])


def downgrade():
    op.drop_index(op.f("ix_published_updates_letter_id"), table_name="published_updates")
    op.drop_table("published_updates")
    op.drop_index(op.f("ix_share_images_letter_id"), table_name="share_images")
    op.drop_table("share_images")
    op.drop_index(op.f("ix_letter_milestones_letter_id"), table_name="letter_milestones")
    op.drop_table("letter_milestones")
    with op.batch_alter_table("letters") as batch:
        batch.drop_column("auto_goal")
        batch.drop_column("file_goal")
        batch.drop_column("goal")
