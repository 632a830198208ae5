"""Issue 14's bulk figures: a 100,000-task array submitted, held, released, cancelled and
purged, each as one command a user would type (wall time of the real CLI)."""

from __future__ import annotations

from harness import Home
from report import Figure, ms


def bulk_arrays(p: dict, base: dict) -> list[Figure]:
    n = p["bulk_n"]
    submit, hold, release, cancel, purge = [], [], [], [], []
    for _ in range(p["reps"]):
        home = Home.fresh("bulk", {"SCNS_MAX_ARRAY_SIZE": str(n + 1)})
        try:
            home.scns("queue")  # the schema first: its migration is not what is measured
            elapsed, out = home.timed("submit", "--parsable", "-H", "-a", f"0-{n - 1}",
                                      "--wrap", "true")  # fmt: skip
            array_id = out.strip()
            submit.append(ms(elapsed))
            release.append(ms(home.timed("release", array_id)[0]))
            hold.append(ms(home.timed("hold", array_id)[0]))
            cancel.append(ms(home.timed("cancel", array_id)[0]))
            purge.append(ms(home.timed("cleanup", "--purge-after", "0s")[0]))
        finally:
            home.close()
    label = f"{n:,}-task array"
    return [
        Figure("bulk_submit", f"submit `-a 0-{n - 1}`", "ms", submit, "≤ 1.5 s", 1500),
        Figure("bulk_hold", f"hold a {label}", "ms", hold, "≤ 1 s", 1000),
        Figure("bulk_release", f"release a {label}", "ms", release, "≤ 1 s", 1000),
        Figure("bulk_cancel", f"cancel a {label} (pending)", "ms", cancel, "≤ 1 s", 1000),
        Figure(
            "bulk_purge",
            f"`cleanup --purge-after` of {n:,} finished tasks",
            "ms",
            purge,
            "≤ 3 s",
            3000,
        ),
    ]
