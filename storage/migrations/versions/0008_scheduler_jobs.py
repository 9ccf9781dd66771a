"""apscheduler_jobs: APScheduler's job store table, made by the migration

APScheduler creates its table itself when a scheduler starts, if it is missing. Two app processes
starting together on a new PostgreSQL database both found it missing and both created it, and one
failed to start. Now the schema migration (serialised by a lock, see env.py) makes it first.
A database where APScheduler already made it keeps that table.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("apscheduler_jobs"):
        return
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"])


def downgrade() -> None:
    # The app's scheduler makes the table again if it is missing, and its reconcile pass puts
    # back every outcome job from the outcomes table.
    op.drop_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
