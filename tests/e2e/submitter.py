"""A submitting process for the concurrency tests: N submissions through the real submit
service (the code behind ``scns submit``, without paying interpreter start-up N times)."""

from __future__ import annotations

import os
import sys
import time


def main(count: int, command: str) -> None:
    from scns.cli.context import open_db
    from scns.service.store import Submitter, store
    from scns.service.submission import SubmitContext, build_request

    db, _run_dir = open_db()
    who = Submitter.current()
    for _ in range(count):
        ctx = SubmitContext(cwd=os.getcwd(), env=dict(os.environ), now=time.time())
        store(db, build_request(["--wrap", command], ctx), ctx, who)
    db.close()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
