"""staff accounts, sessions and one-time links; who acknowledged an alert and what they did

Revision ID: 0004
Revises: 0003
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("safeguarding_alerts") as batch:
        batch.add_column(sa.Column("acknowledged_by", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("action_taken", sa.Text(), nullable=True))
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(length=254), nullable=False, unique=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
    )
    for table in ("staff_sessions", "staff_invites"):
        columns: list[sa.Column[Any]] = [
            sa.Column("id", sa.String(length=64), primary_key=True),
            sa.Column(
                "user_id",
                sa.Integer(),
                sa.ForeignKey("staff_users.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        ]
        if table == "staff_sessions":
            columns.append(sa.Column("csrf_token", sa.String(length=64), nullable=False))
        else:
            columns.append(sa.Column("used_at", sa.DateTime(timezone=True), nullable=True))
        op.create_table(table, *columns)
        op.create_index(f"ix_{table}_user_id", table, ["user_id"])


def downgrade() -> None:
    for table in ("staff_invites", "staff_sessions"):
        op.drop_index(f"ix_{table}_user_id", table)
        op.drop_table(table)
    op.drop_table("staff_users")
    with op.batch_alter_table("safeguarding_alerts") as batch:
        batch.drop_column("action_taken")
        batch.drop_column("acknowledged_by")
