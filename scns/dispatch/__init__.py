"""Transient messages between daemons over Redis (RQ start messages and wake-ups).

Nothing here is a source of truth: a lost message costs at most one fallback poll, because
every daemon re-reads what PostgreSQL says it should be doing.
"""
