"""outcomes ("you said, we did"), their recipients and replies; one reminder per conversation

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("engaged_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("engaged_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("themes", sa.JSON(), nullable=True),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "outcome_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "outcome_id",
            sa.Integer(),
            sa.ForeignKey("outcomes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "participant_id",
            sa.Integer(),
            sa.ForeignKey("participants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "outbox_id",
            sa.Integer(),
            sa.ForeignKey("outbox.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("outcome_id", "participant_id"),
    )
    op.create_index(
        "ix_outcome_deliveries_participant_id", "outcome_deliveries", ["participant_id"]
    )
    op.create_table(
        "outcome_replies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "outcome_id",
            sa.Integer(),
            sa.ForeignKey("outcomes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "participant_id",
            sa.Integer(),
            sa.ForeignKey("participants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("themes", sa.JSON(), nullable=True),
        sa.Column("sentiment", sa.String(length=16), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_outcome_replies_participant_id", "outcome_replies", ["participant_id"])


def downgrade() -> None:
    op.drop_index("ix_outcome_replies_participant_id", "outcome_replies")
    op.drop_table("outcome_replies")
    op.drop_index("ix_outcome_deliveries_participant_id", "outcome_deliveries")
    op.drop_table("outcome_deliveries")
    op.drop_table("outcomes")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("reminded_at")
