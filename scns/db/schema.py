"""The one definition of the scns schema, for create-from-scratch and for Alembic.

Times are stored as float epoch seconds (UTC) so SQLite and PostgreSQL compare and index
them the same way; rows become aware datetimes only at the edge.
"""

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("user_name", String(64), nullable=False),
    Column("uid", Integer, nullable=False),
    Column("gid", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", Text),
    Column("script", Text, nullable=False),
    Column("argv", Text, nullable=False, server_default="[]"),
    Column("environment", Text, nullable=False, server_default="{}"),
    Column("workdir", Text, nullable=False),
    Column("stdout_path", Text, nullable=False),
    Column("stderr_path", Text, nullable=False),
    Column("ntasks", Integer, nullable=False, server_default="1"),
    Column("cpus_per_task", Integer, nullable=False, server_default="1"),
    Column("cpus", Integer, nullable=False),
    Column("mem_mb", Integer, nullable=False, server_default="0"),
    Column("time_limit_s", Integer),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("nice", Integer, nullable=False, server_default="0"),
    Column("held", Integer, nullable=False, server_default="0"),
    Column("begin_time", Float),
    Column("dependency", Text),
    Column("kill_on_invalid_dep", Integer, nullable=False, server_default="0"),
    Column("requeue", Integer, nullable=False, server_default="0"),
    Column("array_job_id", Integer),
    Column("array_task_id", Integer),
    Column("array_max_running", Integer),
    Column("submit_time", Float, nullable=False),
    Column("eligible_time", Float),
    Column("expected_start_time", Float),
    Column("start_time", Float),
    Column("end_time", Float),
    Column("exit_code", Integer),
    Column("signal", Integer),
    Column("node", String(128)),
    Column("cpu_ids", Text),
    Column("pid", Integer),
    Column("pid_start_ticks", BigInteger),
    Column("cancel_requested", Integer, nullable=False, server_default="0"),
    Column("restarts", Integer, nullable=False, server_default="0"),
    Column("umask", Integer),
    Column("max_rss_bytes", BigInteger),
    Column("cpu_user_s", Float),
    Column("cpu_system_s", Float),
    Column("open_mode", String(8)),
    Column("signal_spec", String(32)),
    Column("comment", Text),
    Column("pending_signal", Integer),
    Column("requeue_requested", Integer, nullable=False, server_default="0"),
    sqlite_autoincrement=True,
)
# The scheduler reads the head of the runnable queue in priority order; this partial index
# serves exactly that query (statements.pending_jobs), so a pass never sorts the whole queue.
Index(
    "ix_jobs_queue_order",
    text("(priority - nice) DESC"),
    jobs.c.submit_time,
    jobs.c.id,
    sqlite_where=text("state = 'PENDING' AND held = 0"),
    postgresql_where=text("state = 'PENDING' AND held = 0"),
)
Index("ix_jobs_state_id", jobs.c.state, jobs.c.id)
Index("ix_jobs_submit_time", jobs.c.submit_time)
Index("ix_jobs_array", jobs.c.array_job_id, jobs.c.array_task_id)
# Pending jobs have neither a node nor an end time: left out of these two indexes, they cost
# nothing to submit, hold or cancel there. Every query they serve compares the column, which
# implies IS NOT NULL, so the planners still use them (migration 0005).
Index("ix_jobs_end_time", jobs.c.end_time, sqlite_where=text("end_time IS NOT NULL"),
      postgresql_where=text("end_time IS NOT NULL"))  # fmt: skip
Index("ix_jobs_node_state", jobs.c.node, jobs.c.state, sqlite_where=text("node IS NOT NULL"),
      postgresql_where=text("node IS NOT NULL"))  # fmt: skip

nodes = Table(
    "nodes",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("hostname", String(255), nullable=False),
    Column("cpu_ids", Text, nullable=False),
    Column("mem_mb", Integer, nullable=False, server_default="0"),
    Column("state", String(16), nullable=False),
    Column("reason", Text),
    Column("pid", Integer),
    Column("started_time", Float),
    Column("heartbeat_time", Float),
    Column("version", String(32)),
    Column("containment", String(32)),
)

# One row per job that holds resources; the partial unique index is the
# "one active allocation per job" constraint.
allocations = Table(
    "allocations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("node", String(128), nullable=False),
    Column("cpu_ids", Text, nullable=False),
    Column("mem_mb", Integer, nullable=False, server_default="0"),
    Column("created_time", Float, nullable=False),
    Column("released_time", Float),
)
Index(
    "ux_allocations_active_job",
    allocations.c.job_id,
    unique=True,
    sqlite_where=text("released_time IS NULL"),
    postgresql_where=text("released_time IS NULL"),
)
Index(
    "ix_allocations_unreleased",
    allocations.c.node,
    sqlite_where=text("released_time IS NULL"),
    postgresql_where=text("released_time IS NULL"),
)

# A claimed core is a row: the primary key makes it impossible for two jobs to
# hold the same core, whatever races between schedulers or restarts.
core_claims = Table(
    "core_claims",
    metadata,
    Column("node", String(128), nullable=False),
    Column("cpu_id", Integer, nullable=False),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("node", "cpu_id"),
)
Index("ix_core_claims_job", core_claims.c.job_id)

# Leases elect the single scheduler (and anything else that must run once).
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("expires_time", Float, nullable=False),
)

# Append-only history of state changes, for audit and for tests of exactly-once.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, nullable=False),
    Column("time", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text),
    sqlite_autoincrement=True,
)
Index("ix_events_job", events.c.job_id)
