"""participants: when they chose their language, and whether the language menu awaits a reply

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("language_chosen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("language_menu_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("language_menu_at")
        batch.drop_column("language_chosen_at")
