"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 02:02:02.096668
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_job", ["job_id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=False),
        sa.Column("gid", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("script", sa.Text(), nullable=False),
        sa.Column("argv", sa.Text(), server_default="[]", nullable=False),
        sa.Column("environment", sa.Text(), server_default="{}", nullable=False),
        sa.Column("workdir", sa.Text(), nullable=False),
        sa.Column("stdout_path", sa.Text(), nullable=False),
        sa.Column("stderr_path", sa.Text(), nullable=False),
        sa.Column("ntasks", sa.Integer(), server_default="1", nullable=False),
        sa.Column("cpus_per_task", sa.Integer(), server_default="1", nullable=False),
        sa.Column("cpus", sa.Integer(), nullable=False),
        sa.Column("mem_mb", sa.Integer(), server_default="0", nullable=False),
        sa.Column("time_limit_s", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("nice", sa.Integer(), server_default="0", nullable=False),
        sa.Column("held", sa.Integer(), server_default="0", nullable=False),
        sa.Column("begin_time", sa.Float(), nullable=True),
        sa.Column("dependency", sa.Text(), nullable=True),
        sa.Column("kill_on_invalid_dep", sa.Integer(), server_default="0", nullable=False),
        sa.Column("requeue", sa.Integer(), server_default="0", nullable=False),
        sa.Column("array_job_id", sa.Integer(), nullable=True),
        sa.Column("array_task_id", sa.Integer(), nullable=True),
        sa.Column("array_max_running", sa.Integer(), nullable=True),
        sa.Column("submit_time", sa.Float(), nullable=False),
        sa.Column("eligible_time", sa.Float(), nullable=True),
        sa.Column("expected_start_time", sa.Float(), nullable=True),
        sa.Column("start_time", sa.Float(), nullable=True),
        sa.Column("end_time", sa.Float(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("signal", sa.Integer(), nullable=True),
        sa.Column("node", sa.String(length=128), nullable=True),
        sa.Column("cpu_ids", sa.Text(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("pid_start_ticks", sa.BigInteger(), nullable=True),
        sa.Column("cancel_requested", sa.Integer(), server_default="0", nullable=False),
        sa.Column("restarts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_array", ["array_job_id", "array_task_id"], unique=False)
        batch_op.create_index("ix_jobs_end_time", ["end_time"], unique=False)
        batch_op.create_index(
            "ix_jobs_queue_order",
            [sa.text("(priority - nice) DESC"), "submit_time", "id"],
            unique=False,
            sqlite_where=sa.text("state = 'PENDING' AND held = 0"),
            postgresql_where=sa.text("state = 'PENDING' AND held = 0"),
        )
        batch_op.create_index("ix_jobs_node_state", ["node", "state"], unique=False)
        batch_op.create_index("ix_jobs_state_id", ["state", "id"], unique=False)
        batch_op.create_index("ix_jobs_submit_time", ["submit_time"], unique=False)

    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("expires_time", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "nodes",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("cpu_ids", sa.Text(), nullable=False),
        sa.Column("mem_mb", sa.Integer(), server_default="0", nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("started_time", sa.Float(), nullable=True),
        sa.Column("heartbeat_time", sa.Float(), nullable=True),
        sa.Column("version", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("cpu_ids", sa.Text(), nullable=False),
        sa.Column("mem_mb", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_time", sa.Float(), nullable=False),
        sa.Column("released_time", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_allocations_unreleased",
            ["node"],
            unique=False,
            sqlite_where=sa.text("released_time IS NULL"),
            postgresql_where=sa.text("released_time IS NULL"),
        )
        batch_op.create_index(
            "ux_allocations_active_job",
            ["job_id"],
            unique=True,
            sqlite_where=sa.text("released_time IS NULL"),
            postgresql_where=sa.text("released_time IS NULL"),
        )

    op.create_table(
        "core_claims",
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("cpu_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("node", "cpu_id"),
    )
    with op.batch_alter_table("core_claims", schema=None) as batch_op:
        batch_op.create_index("ix_core_claims_job", ["job_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("core_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_core_claims_job")

    op.drop_table("core_claims")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_allocations_active_job",
            sqlite_where=sa.text("released_time IS NULL"),
            postgresql_where=sa.text("released_time IS NULL"),
        )
        batch_op.drop_index(
            "ix_allocations_unreleased",
            sqlite_where=sa.text("released_time IS NULL"),
            postgresql_where=sa.text("released_time IS NULL"),
        )

    op.drop_table("allocations")
    op.drop_table("nodes")
    op.drop_table("leases")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_submit_time")
        batch_op.drop_index("ix_jobs_state_id")
        batch_op.drop_index("ix_jobs_node_state")
        batch_op.drop_index("ix_jobs_queue_order")
        batch_op.drop_index("ix_jobs_end_time")
        batch_op.drop_index("ix_jobs_array")

    op.drop_table("jobs")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_job")

    op.drop_table("events")
