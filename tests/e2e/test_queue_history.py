"""``scns queue``'s filters, formats and JSON, ``scns history``'s windows, and ``scns query``'s
facts, through the real CLI on both backends (and through the system socket).

Jobs are submitted held, then moved to the states a test needs by writing the database (as
anyone who can write it could): no daemon, so nothing changes under the assertions.
"""

from __future__ import annotations

import json
import os
import pwd
import time

from tests.conftest import Scns
from tests.e2e.test_system_mode import people, system  # noqa: F401 - fixtures

ME = pwd.getpwuid(os.getuid()).pw_name
TIME_DEPENDENT = ("wait_time_s", "run_time_s")


def finish(scns: Scns, job_id: int, *, state: str = "COMPLETED", end: float | None = None,
           code: int = 0) -> None:  # fmt: skip
    """Make a held job one that ran on n1 and ended at ``end``."""
    end = time.time() if end is None else end
    scns.sql_write("UPDATE jobs SET state = ?, held = 0, reason = NULL, node = 'n1',"
                   " start_time = ?, end_time = ?, exit_code = ? WHERE id = ?",
                   (state, end - 5, end, code, job_id))  # fmt: skip


def ids(scns: Scns, *args: str) -> list[int]:
    return [job["job_id"] for job in scns.queue(*args)]


def table(scns: Scns, *args: str) -> list[str]:
    return scns.run("queue", *args).stdout.splitlines()


def refused(scns: Scns, *args: str) -> str:
    """The one line a refused command prints (it exits 1 or, for usage, 2)."""
    proc = scns.run(*args, check=False)
    assert proc.returncode in (1, 2) and proc.stdout == "", proc
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def test_queue_filters_combine_as_squeues(any_backend: Scns) -> None:
    scns = any_backend
    alpha = scns.submit("-H", "-J", "alpha", "--wrap", "true")
    beta = scns.submit("-H", "-J", "beta", "--wrap", "true")
    array = scns.submit("-H", "-J", "arr", "-a", "0-5%2", "--wrap", "true")
    theirs = scns.submit("-H", "-J", "alpha", "--wrap", "true")
    scns.sql_write("UPDATE jobs SET uid = 65534, user_name = 'nobody' WHERE id = ?", (theirs,))
    done = scns.submit("-H", "-J", "done", "--wrap", "true")
    finish(scns, done)
    tasks = list(range(array, array + 6))

    assert ids(scns) == [alpha, beta, *tasks, theirs]
    assert ids(scns, "-n", "alpha") == [alpha, theirs]
    assert ids(scns, "--name", "alpha,beta", "-u", ME) == [alpha, beta]
    assert ids(scns, "-u", "nobody") == ids(scns, "--user=65534") == [theirs]
    assert ids(scns, "--me") == [alpha, beta, *tasks]
    assert ids(scns, "--me", "-u", "nobody") == ids(scns)  # --me adds the caller to -u
    assert ids(scns, "-j", f"{alpha},{array}") == [alpha, *tasks]
    assert ids(scns, "-j", f"{array}_3", "-j", str(beta)) == [beta, array + 3]
    assert ids(scns, "-j", str(done)) == [done]  # named: listed in any state
    assert ids(scns, "-j", str(done), "-t", "PD") == []
    assert ids(scns, "-t", "CD") == ids(scns, "--state", "COMPLETED") == [done]
    assert ids(scns, "-t", "all") == ids(scns, "--all") == sorted([*ids(scns), done])
    assert ids(scns, "-t", "PD", "-n", "arr", "-j", str(array)) == tasks
    assert ids(scns, "-j", "987654") == []
    assert "unknown user 'no-such-user-x'" in refused(scns, "queue", "-u", "no-such-user-x")
    assert "SLEEPY" in refused(scns, "queue", "-t", "PD,SLEEPY")


def test_limit_shows_the_newest(any_backend: Scns) -> None:
    scns = any_backend
    jobs = [scns.submit("-H", "--wrap", "true") for _ in range(4)]
    assert ids(scns, "--limit", "2") == jobs[2:]
    assert [line.split()[0] for line in table(scns, "--limit", "3")[1:]] == [
        str(j) for j in jobs[1:]
    ]
    assert ids(scns, "--limit", "2", "-j", f"{jobs[0]},{jobs[1]}") == jobs[:2]
    assert ids(scns, "--limit", "9") == jobs


def test_default_view_shows_pending_arrays_together(any_backend: Scns) -> None:
    scns = any_backend
    long_name = "a-name-of-exactly-24-chr"
    single = scns.submit("-H", "-J", long_name + "-and-more", "--wrap", "true")
    array = scns.submit("-H", "-J", "arr", "-a", "5-9%4", "--wrap", "true")
    scns.sql_write("UPDATE jobs SET state = 'RUNNING', held = 0, node = 'n1', start_time = ?"
                   " WHERE id = ?", (time.time(), array + 1))  # fmt: skip
    lines = table(scns)
    assert lines[0].split() == ["JOBID", "NAME", "USER", "ST", "TIME", "TIME_LIMIT", "CPUS",
                                "NODELIST(REASON)"]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == [str(single), f"{array}_[5,7-9%4]",
                                                       f"{array}_6"]  # fmt: skip
    assert lines[1].split()[1] == long_name  # cut at 24, as the header's column
    assert lines[2].split()[1:4] == ["arr", ME[:10], "PD"] and lines[3].split()[3] == "R"
    expanded = [line.split()[0] for line in table(scns, "-r", "-h")]
    assert expanded == [str(single), *(f"{array}_{t}" for t in range(5, 10))]
    assert table(scns, "--noheader")[0].split()[0] == str(single)
    assert len(scns.queue()) == 6  # JSON lists every task


def test_sort_and_format_are_squeues(any_backend: Scns) -> None:
    scns = any_backend
    low = scns.submit("-H", "-J", "zz", "--priority", "1", "--wrap", "true")
    high = scns.submit("-H", "-J", "aa", "--priority", "9", "--wrap", "true")
    array = scns.submit("-H", "-J", "mm", "-a", "0-1", "--wrap", "true")
    got = table(scns, "--sort=-i", "-h", "-o", "%i")
    assert got == [f"{array}_[0-1]", str(high), str(low)]
    assert table(scns, "-S", "-p", "-h", "-o", "%i") == [str(high), str(low), f"{array}_[0-1]"]
    assert table(scns, "--sort", "j", "-h", "-o", "%j") == ["aa", "mm", "zz"]
    assert table(scns, "-o", "%.6i|%-3j|%.2t|%Q", "-j", str(high)) == [
        " JOBID|NAM|ST|PRIORITY", f"{high:>6}|aa |PD|9"]  # fmt: skip
    assert table(scns, "-r", "-h", "-o", "%i %K", "-j", str(array)) == [
        f"{array}_0 0", f"{array}_1 1"]  # fmt: skip
    assert [line.split()[0] for line in table(scns, "--sort", "-i", "-h")] == got
    assert [j["job_id"] for j in scns.queue("--sort", "-i")] == [array + 1, array, high, low]
    assert "invalid sort specification: x" in refused(scns, "queue", "--sort", "x")
    assert "unknown format field %X" in refused(scns, "queue", "-o", "%i %X")


def test_queue_json_is_query_json(any_backend: Scns) -> None:
    scns = any_backend
    script = os.path.join(scns.workdir, "train.sh")
    with open(script, "w") as handle:
        handle.write("#!/bin/bash\n#SBATCH -J train\n\npython train.py --lr 3\n")
    plain = scns.submit("-H", script, "data", "b c")
    array = scns.submit("-H", "-a", "0-2", "--wrap", "echo 'hi there'")
    done = scns.submit("-H", "--wrap", "true")
    finish(scns, done, state="FAILED", code=3)
    scns.sql_write("UPDATE jobs SET restarts = 2, cpu_ids = '0,1', cpu_user_s = 0.1,"
                   " max_rss_bytes = 1234, mem_mb = 512 WHERE id = ?", (done,))  # fmt: skip
    listing = scns.queue("--all")
    assert [j["job_id"] for j in listing] == [plain, array, array + 1, array + 2, done]
    for job in listing:
        single = scns.query(job["display_id"])
        assert list(job) == list(single)  # the same keys in the same order
        for key in TIME_DEPENDENT:
            job.pop(key), single.pop(key)
        assert job == single
    first = listing[0]
    assert first["command"] == "python train.py --lr 3"
    assert (first["argv"], first["name"]) == (["data", "b c"], "train")
    assert {t["command"] for t in listing[1:4]} == {"echo 'hi there'"}
    assert listing[4]["restarts"] == 2 and listing[4]["cpu_ids"] == [0, 1]
    assert listing[4]["exit_code"] == 3 and listing[4]["cpu_user_s"] == 0.1


def test_query_shows_command_arguments_array_begin_and_restarts(any_backend: Scns) -> None:
    scns = any_backend
    script = os.path.join(scns.workdir, "job.sh")
    with open(script, "w") as handle:
        handle.write("#!/bin/sh\n#SBATCH --begin=now+1hour\n\n./run --fast\n")
    job = scns.submit(script, "x", "y z")
    array = scns.submit("-H", "-a", "3-4", "--wrap", "make all")
    scns.sql_write("UPDATE jobs SET restarts = 1 WHERE id = ?", (array + 1,))
    text = scns.run("query", str(job)).stdout
    assert "   Command=./run --fast\n" in text and "   Argv=x 'y z'\n" in text
    begin = scns.query(job)["begin_time"]
    assert begin is not None and f"BeginTime={begin}" in text
    assert "ArrayJobId" not in text and "Restarts=0 ExitCode=-" in text
    task = scns.run("query", f"{array}_4").stdout
    assert task.startswith(f"JobId={array + 1} ArrayJobId={array} ArrayTaskId=4 JobName=wrap\n")
    assert "   Command=make all\n" in task and "   Argv=(none)\n" in task
    assert "Restarts=1 " in task and "BeginTime=None" in task and "Held=yes" in task
    info = scns.query(f"{array}_4")
    assert (info["command"], info["argv"], info["restarts"]) == ("make all", [], 1)
    assert (info["array_job_id"], info["array_task_id"]) == (array, 4)


# ---- history --------------------------------------------------------------------------------


def test_history_windows(any_backend: Scns) -> None:
    scns = any_backend
    now = time.time()
    ends = {"3d": now - 3 * 86400, "25h": now - 25 * 3600, "2h": now - 7200, "0": now - 1}
    jobs = {}
    for label, end in ends.items():
        jobs[label] = scns.submit("-H", "-J", f"h{label}", "--wrap", "true")
        finish(scns, jobs[label], end=end, state="FAILED" if label == "2h" else "COMPLETED",
               code=1 if label == "2h" else 0)  # fmt: skip
    live = scns.submit("-H", "-J", "live", "--wrap", "true")

    def history(*args: str) -> list[int]:
        return [j["job_id"] for j in json.loads(scns.run("history", "--json", *args).stdout)]

    midnight = time.mktime((*time.localtime(now)[:3], 0, 0, 0, 0, 0, -1))
    today = [jobs[k] for k, end in ends.items() if end >= midnight]
    assert history() == today  # sacct's default: since midnight
    assert history("-S", "now-2days") == [jobs["25h"], jobs["2h"], jobs["0"]]
    assert history("-S", "now-4days", "-E", "now-2days") == [jobs["3d"]]
    assert history("--starttime=now-30hours", "--endtime", "now-1hours") == [
        jobs["25h"],
        jobs["2h"],
    ]
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now - 3 * 3600))
    assert history("-S", iso) == [jobs["2h"], jobs["0"]]
    day = time.strftime("%Y-%m-%d", time.localtime(now - 5 * 86400))
    assert history("-S", day, "-E", "now") == [jobs[k] for k in ("3d", "25h", "2h", "0")]
    assert history("-S", "now-4days", "--state", "F") == [jobs["2h"]]
    assert history("-S", "now-4days", "-n", "h3d,h0") == [jobs["3d"], jobs["0"]]
    assert history("-S", "now-4days", "-u", ME, "--limit", "2") == [jobs["2h"], jobs["0"]]
    assert history("-S", "now-4days", "-u", "nobody") == []
    assert live not in history("-S", "now-30days")

    listing = json.loads(scns.run("history", "-S", "now-1day", "--json").stdout)
    for job in listing:
        single = scns.query(job["job_id"])
        for key in TIME_DEPENDENT:
            job.pop(key), single.pop(key)
        assert job == single
    lines = scns.run("history", "-S", "now-1day").stdout.splitlines()
    assert lines[0].split() == ["JobID", "JobName", "User", "State", "ExitCode", "Elapsed", "End",
                                "NodeList"]  # fmt: skip
    assert lines[2].split()[:5] == [str(jobs["2h"]), "h2h", ME, "FAILED", "1:0"]
    assert scns.run("history", "-S", "now-1day", "-o", "JobID,State%12", "--noheader").stdout == (
        f"{jobs['2h']:<12} {'FAILED':>12} \n{jobs['0']:<12} {'COMPLETED':>12} \n")  # fmt: skip

    assert "after it ends" in refused(scns, "history", "-S", "now", "-E", "now-1day")
    assert "not a final state" in refused(scns, "history", "--state", "RUNNING")
    assert "Invalid time specification: yesterdayish" in refused(scns, "history", "-S",
                                                                "yesterdayish")  # fmt: skip
    assert 'Invalid field requested: "Bogus"' in refused(scns, "history", "-o", "JobID,Bogus")


def test_history_reads_the_end_time_index(any_backend: Scns) -> None:
    """A one-day window of 20,000 finished jobs is an index range on end_time, with or
    without a state or user filter (PostgreSQL after ANALYZE, as autovacuum leaves it;
    SQLite without statistics, as scns leaves it)."""
    from scns.db.engine import open_database
    from scns.db.statements.listings import Selection, _finished_query

    scns = any_backend
    scns.run("queue")  # the schema, on SQLite
    url = scns.env.get("SCNS_DATABASE_URL") or f"sqlite:///{scns.home}/scns.db"
    db = open_database(url)
    now = time.time()
    try:
        with db.write() as tx:
            if tx.dialect == "postgresql":
                series = "SELECT g AS n FROM generate_series(0, 19999) AS g"
            else:
                series = ("WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c"
                          " WHERE n < 19999) SELECT n FROM c")  # fmt: skip
            tx.run(
                "INSERT INTO jobs (id, name, user_name, uid, gid, state, script, workdir,"
                " stdout_path, stderr_path, cpus, submit_time, start_time, end_time)"
                " SELECT n + 1, 'bench', 'u', 1000, 1000, CASE WHEN n % 10 = 9 THEN 'FAILED'"
                " ELSE 'COMPLETED' END, '', '/', '/o', '/o', 1, :now - n * 130.0 - 60,"
                f" :now - n * 130.0 - 30, :now - n * 130.0 FROM ({series}) AS s",
                {"now": now},
            )
        with db.write() as tx:
            if tx.dialect == "postgresql":
                tx.run("ANALYZE jobs")
        for sel in (Selection(), Selection(states=("COMPLETED",)), Selection(uids=(1000,))):
            with db.read() as tx:
                query, params = _finished_query(tx.dialect, now - 86400, now, sel)
                explain = "EXPLAIN QUERY PLAN " if tx.dialect == "sqlite" else "EXPLAIN "
                plan = " ".join(str(r) for r in tx.rows(explain + query, params))
            assert "ix_jobs_end_time" in plan, plan
    finally:
        db.close()
    got = json.loads(scns.run("history", "-S", "now-1day", "--json").stdout)
    assert len(got) == 665 and got[0]["end_time"] <= got[-1]["end_time"]


# ---- through the system socket --------------------------------------------------------------


def test_queue_and_history_through_the_socket(system, people) -> None:  # noqa: F811
    alice, bob = people.alice, people.bob
    held = system.submit(alice, "-H", "-J", "secret-name", "--wrap", "echo hunter2")
    array = system.submit(alice, "-H", "-a", "0-3%2", "--wrap", "true")
    own = system.submit(bob, "-H", "-J", "bobs", "--wrap", "true")
    done = system.submit(alice, "-J", "quick", "--wrap", "true")
    system.wait_state(alice, done, "COMPLETED")

    def listing(user, *args: str) -> list[dict]:
        return json.loads(system.cli(user, "queue", "--json", *args, check=True).stdout)

    assert [j["job_id"] for j in listing(bob, "-u", alice.name)] == [held, *range(array, array + 4)]
    assert [j["job_id"] for j in listing(bob, "--me")] == [own]
    assert [j["job_id"] for j in listing(bob, "-n", "bobs,secret-name", "--limit", "1")] == [own]
    theirs = listing(bob, "-j", str(held))[0]
    assert theirs["command"] is None and theirs["argv"] is None and theirs["workdir"] is None
    mine = listing(alice, "-j", str(held))[0]
    assert mine["command"] == "echo hunter2" and mine["argv"] == []
    lines = system.cli(bob, "queue", "-h", "-u", alice.name, check=True).stdout.splitlines()
    assert [line.split()[0] for line in lines] == [str(held), f"{array}_[0-3%2]"]
    sorted_ids = system.cli(bob, "queue", "-h", "--sort=-i", "-o", "%i", check=True).stdout
    assert sorted_ids.split() == [str(own), f"{array}_[0-3%2]", str(held)]

    history = json.loads(system.cli(bob, "history", "-S", "now-1hour", "--json",
                                    check=True).stdout)  # fmt: skip
    assert [j["job_id"] for j in history] == [done] and history[0]["command"] is None
    text = system.cli(alice, "history", "-S", "now-1hour", "-o", "JobID,JobName%10,State",
                      check=True).stdout  # fmt: skip
    assert text.splitlines()[2].split() == [str(done), "quick", "COMPLETED"]
    assert system.cli(bob, "history", "-S", "now-1hour", "--state", "F", "--json",
                      check=True).stdout == "[]\n"  # fmt: skip
