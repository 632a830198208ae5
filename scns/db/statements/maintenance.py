"""Reads for ``scns cleanup``'s repairs: what no daemon is left to release."""

from __future__ import annotations

from scns.db.engine import Tx
from scns.db.statements.common import ALLOCATED


def leaked_allocations(tx: Tx) -> list[int]:
    """Jobs that no longer need resources but still hold an allocation or a core."""
    rows = tx.rows(
        f"SELECT DISTINCT j.id FROM jobs j WHERE j.state NOT IN {ALLOCATED} AND"
        " (EXISTS (SELECT 1 FROM allocations a WHERE a.job_id = j.id AND a.released_time IS NULL)"
        " OR EXISTS (SELECT 1 FROM core_claims c WHERE c.job_id = j.id)) ORDER BY j.id"
    )
    return [r[0] for r in rows]
