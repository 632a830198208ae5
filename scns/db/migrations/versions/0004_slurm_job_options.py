"""what Slurm's tools ask of a job: --open-mode, --signal, --comment, scancel --signal and
scontrol requeue of a running job

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("open_mode", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("signal_spec", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("comment", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("pending_signal", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("requeue_requested", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        for name in ("requeue_requested", "pending_signal", "comment", "signal_spec",
                     "open_mode"):  # fmt: skip
            batch_op.drop_column(name)
