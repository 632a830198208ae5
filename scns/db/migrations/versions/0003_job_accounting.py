"""what a finished job used (peak memory, CPU time) and how each node contains its jobs

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
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_rss_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("cpu_user_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("cpu_system_s", sa.Float(), nullable=True))
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("containment", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_column("containment")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("cpu_system_s")
        batch_op.drop_column("cpu_user_s")
        batch_op.drop_column("max_rss_bytes")
