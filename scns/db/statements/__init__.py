"""Every SQL statement scns runs, each a named function over an open transaction.

State changes are guarded updates (``WHERE state = :expected``): the caller learns from the
returned row count whether it won, so racing daemons and CLIs can never both succeed.
The same parameterised text runs on SQLite and PostgreSQL.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:  # for the type checker; at run time __getattr__ imports on first use
    from scns.db.statements.cluster import (
        delete_node,
        drain_node,
        drop_lease,
        get_node,
        heartbeat,
        lease_holder,
        list_nodes,
        max_node_cpus,
        max_node_memory_mb,
        node_allocated,
        notify,
        resume_node,
        set_node_down,
        set_node_stopped,
        take_lease,
        take_lease_from,
        upsert_node,
    )
    from scns.db.statements.common import dumps, job_from_row
    from scns.db.statements.dependencies import has_live_namesake_before, referenced_job_states
    from scns.db.statements.jobs import Target as Target  # ids, or a WholeArray
    from scns.db.statements.jobs import (
        WholeArray,
        add_events,
        array_owners,
        array_stats,
        cancel_pending,
        count_live_jobs,
        delete_jobs,
        distinct_states,
        get_array_briefs,
        get_array_jobs,
        get_array_task,
        get_job,
        get_jobs,
        hold_pending,
        insert_array_tasks,
        insert_jobs,
        job_events,
        job_states,
        jobs_to_launch,
        known_job_ids,
        purgeable_jobs,
        release_held,
        request_cancel,
        request_requeue,
        request_signal,
        reserve_job_ids,
        update_pending,
    )
    from scns.db.statements.lifecycle import (
        add_event,
        allocate,
        cancel_requested_on_node,
        finish,
        jobs_on_nodes,
        live_allocations,
        live_jobs_on_node,
        mark_running,
        pending_jobs,
        pending_jobs_page,
        release,
        requeue,
        set_reasons,
        signal_delivered,
        signals_requested_on_node,
        stale_configuring,
    )
    from scns.db.statements.listings import find_jobs, list_jobs, queue_lines, queue_table
    from scns.db.statements.maintenance import leaked_allocations
    from scns.db.statements.stats import (
        cpu_seconds_between,
        hourly_starts_and_ends,
        jobs_by_state,
        live_jobs_by_reason,
        pending_by_reason,
        waits_since,
    )

__all__ = [
    "WholeArray",
    "add_event",
    "add_events",
    "allocate",
    "array_owners",
    "array_stats",
    "cancel_pending",
    "cancel_requested_on_node",
    "count_live_jobs",
    "cpu_seconds_between",
    "delete_jobs",
    "delete_node",
    "distinct_states",
    "drain_node",
    "drop_lease",
    "dumps",
    "find_jobs",
    "finish",
    "get_array_briefs",
    "get_array_jobs",
    "get_array_task",
    "get_job",
    "get_jobs",
    "get_node",
    "has_live_namesake_before",
    "heartbeat",
    "hold_pending",
    "hourly_starts_and_ends",
    "insert_array_tasks",
    "insert_jobs",
    "job_events",
    "job_from_row",
    "job_states",
    "jobs_by_state",
    "jobs_on_nodes",
    "jobs_to_launch",
    "known_job_ids",
    "leaked_allocations",
    "lease_holder",
    "list_jobs",
    "list_nodes",
    "live_allocations",
    "live_jobs_by_reason",
    "live_jobs_on_node",
    "mark_running",
    "max_node_cpus",
    "max_node_memory_mb",
    "node_allocated",
    "notify",
    "pending_by_reason",
    "pending_jobs",
    "pending_jobs_page",
    "purgeable_jobs",
    "queue_lines",
    "queue_table",
    "referenced_job_states",
    "release",
    "release_held",
    "request_cancel",
    "request_requeue",
    "request_signal",
    "requeue",
    "reserve_job_ids",
    "resume_node",
    "set_node_down",
    "set_node_stopped",
    "set_reasons",
    "signal_delivered",
    "signals_requested_on_node",
    "stale_configuring",
    "take_lease",
    "take_lease_from",
    "update_pending",
    "upsert_node",
    "waits_since",
]

# Where __getattr__ looks, most used first: a submit needs only jobs, common and cluster,
# and the others cost it ~1 ms of imports.
_MODULES = ("jobs", "common", "cluster", "listings", "lifecycle", "dependencies", "stats",
            "maintenance")  # fmt: skip


def __getattr__(name: str) -> object:
    """A statement of ``__all__``, from the first submodule that defines it (imported on
    first use, then kept here)."""
    if name in __all__:
        import sys

        for module_name in _MODULES:
            full = f"{__name__}.{module_name}"
            __import__(full)  # not importlib: its import alone costs ~0.5 ms
            value = getattr(sys.modules[full], name, None)
            if value is not None:
                globals()[name] = value
                return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
