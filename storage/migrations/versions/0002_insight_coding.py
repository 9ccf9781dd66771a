"""answers coded to themes and sentiment; alerts keep every category

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.add_column(sa.Column("themes", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("sentiment", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("sentiment_confidence", sa.Float(), nullable=True))
    with op.batch_alter_table("safeguarding_alerts") as batch:
        batch.add_column(sa.Column("categories", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("safeguarding_alerts") as batch:
        batch.drop_column("categories")
    with op.batch_alter_table("answers") as batch:
        batch.drop_column("sentiment_confidence")
        batch.drop_column("sentiment")
        batch.drop_column("themes")
