"""End to end scheduling: dependencies, arrays, holds, priorities and begin times with the real
CLI and a real daemon. Run intervals come from the database's start and end times."""

from __future__ import annotations

import datetime as dt
import os

from tests.conftest import Scns, wait_until

GATE = "while [ ! -e {gate} ]; do sleep 0.05; done"


def recorded_times(scns: Scns, job_ids: list[int]) -> dict[int, tuple[float, float]]:
    """(start, end) epoch seconds per job, at full precision (the CLI shows whole seconds)."""
    marks = ",".join("?" * len(job_ids))
    rows = scns.sql(
        f"SELECT id, start_time, end_time FROM jobs WHERE id IN ({marks})", tuple(job_ids)
    )
    return {job_id: (start, end) for job_id, start, end in rows}


def reason_is(scns: Scns, job_id: int | str, reason: str) -> bool:
    info = scns.query(job_id)
    return info["state"] == "PENDING" and info["reason"] == reason


def wait_reason(scns: Scns, job_id: int | str, reason: str) -> dict:
    wait_until(lambda: reason_is(scns, job_id, reason), 20, 0.05, f"{job_id} to wait on {reason}")
    return scns.query(job_id)


def gated_blocker(scns: Scns, *extra: str) -> tuple[int, str]:
    """A job that runs until the test creates its gate file."""
    gate = os.path.join(scns.workdir, "gate")
    return scns.submit(*extra, "--wrap", GATE.format(gate=gate)), gate


def open_gate(gate: str) -> None:
    open(gate, "w").close()


def iso_time(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


# ---- dependencies ------------------------------------------------------------------------


def test_afterok_chain_runs_in_order(cluster: Scns) -> None:
    gate = os.path.join(cluster.workdir, "gate")
    a = cluster.submit("--wrap", GATE.format(gate=gate))
    b = cluster.submit("-d", f"afterok:{a}", "--wrap", "true")
    c = cluster.submit("--dependency", f"afterok:{b}", "--wrap", "true")
    cluster.wait_state(a, "RUNNING")
    assert wait_reason(cluster, b, "Dependency")["dependency"] == f"afterok:{a}"
    wait_reason(cluster, c, "Dependency")
    open_gate(gate)
    for job_id in (a, b, c):
        assert cluster.wait_state(job_id, "COMPLETED", "FAILED", "CANCELLED")["state"] == (
            "COMPLETED"
        )
    times = recorded_times(cluster, [a, b, c])
    assert times[a][1] <= times[b][0], "B started before A ended"
    assert times[b][1] <= times[c][0], "C started before B ended"


def test_afternotok_runs_only_after_a_failure(cluster: Scns) -> None:
    failing = cluster.submit("--wrap", "exit 3")
    passing = cluster.submit("--wrap", "true")
    after_failure = cluster.submit("-d", f"afternotok:{failing}", "--wrap", "true")
    never = cluster.submit("-d", f"afternotok:{passing}", "--wrap", "true")
    killed = cluster.submit(
        "-d", f"afternotok:{passing}", "--kill-on-invalid-dep=yes", "--wrap", "true"
    )
    assert cluster.wait_state(after_failure, "COMPLETED", "CANCELLED")["state"] == "COMPLETED"
    times = recorded_times(cluster, [failing, after_failure])
    assert times[failing][1] <= times[after_failure][0]
    assert cluster.state(passing) == "COMPLETED"
    info = wait_reason(cluster, never, "DependencyNeverSatisfied")
    assert info["start_time"] is None
    assert "(DependencyNeverSatisfied)" in cluster.run("queue").stdout
    info = cluster.wait_state(killed, "CANCELLED", "COMPLETED")
    assert info["state"] == "CANCELLED" and info["start_time"] is None
    assert info["reason"] == "DependencyNeverSatisfied"


def test_dependency_on_unknown_job_is_refused(scns: Scns) -> None:
    known = scns.submit("--wrap", "true")
    proc = scns.run("submit", "-d", f"afterok:{known}:99999", "--wrap", "true", check=False)
    assert proc.returncode != 0 and proc.stdout == ""
    assert "99999" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert [j["id"] for j in scns.queue()] == [known]


# ---- arrays ------------------------------------------------------------------------------


def test_array_with_throttle_never_runs_more_than_two_tasks(cluster: Scns) -> None:
    cluster.start_daemon("--cpus", "2", "--node", "n2")  # 4 CPUs: only %2 holds it to two
    os.makedirs(os.path.join(cluster.workdir, "out"))
    array_id = cluster.submit(
        "-a", "0-7%2", "-o", "out/%A_%a.txt", "--wrap",
        'echo "task=$SLURM_ARRAY_TASK_ID array=$SCNS_ARRAY_JOB_ID"; sleep 1',
    )  # fmt: skip
    tasks = cluster.queue("--all")
    assert [t["display_id"] for t in tasks] == [f"{array_id}_{i}" for i in range(8)]
    wait_until(
        lambda: any(t["reason"] == "JobArrayTaskLimit" for t in cluster.queue()),
        20, 0.05, "a task held back by the %2 limit",
    )  # fmt: skip
    for task in range(8):
        assert cluster.wait_state(f"{array_id}_{task}", "COMPLETED", "FAILED")["exit_code"] == 0
    times = recorded_times(cluster, [t["id"] for t in tasks])
    for start, _ in times.values():
        overlapping = sum(1 for s, e in times.values() if s <= start < e)
        assert overlapping <= 2, f"{overlapping} tasks ran at once"
    for task in range(8):
        path = os.path.join(cluster.workdir, "out", f"{array_id}_{task}.txt")
        with open(path) as handle:
            assert handle.read() == f"task={task} array={array_id}\n"


def test_array_tasks_share_one_script_copy_removed_after_the_last(cluster: Scns) -> None:
    """A node writes an array's script once, not once per task, and removes it when unused."""
    gate = os.path.join(cluster.workdir, "gate")
    array_id = cluster.submit("-a", "0-3", "-o", "task-%a.out", "--wrap",
                              f'echo "$0"; {GATE.format(gate=gate)}')  # fmt: skip
    scripts = os.path.join(cluster.home, "run", "scripts", "n1")
    wait_until(lambda: len(cluster.queue("--state", "RUNNING")) == 2, 20, 0.05, "two tasks running")
    assert os.listdir(scripts) == [str(array_id)]
    open(gate, "w").close()
    for task in range(4):
        assert cluster.wait_state(f"{array_id}_{task}", "COMPLETED", "FAILED")["exit_code"] == 0
    for task in range(4):
        with open(os.path.join(cluster.workdir, f"task-{task}.out")) as handle:
            assert handle.read() == os.path.join(scripts, str(array_id)) + "\n"
    wait_until(lambda: os.listdir(scripts) == [], 30, 0.05, "the script copy to be removed")


def test_cancel_array_task_or_whole_array(scns: Scns) -> None:
    array_id = scns.submit("-H", "-a", "0-7", "--wrap", "true")
    assert "cancelled" in scns.run("cancel", f"{array_id}_4").stdout
    states = {t["array_task_id"]: t["state"] for t in scns.queue("--all")}
    assert states == {i: "CANCELLED" if i == 4 else "PENDING" for i in range(8)}
    scns.run("cancel", str(array_id))
    assert {t["state"] for t in scns.queue("--all")} == {"CANCELLED"}
    assert scns.queue() == []


def test_array_of_ten_thousand_tasks_is_stored_in_one_submit(scns: Scns) -> None:
    array_id = scns.submit("-a", "0-9999", "--wrap", "true", "-H")
    rows = scns.sql("SELECT id, array_job_id, array_task_id, state, held FROM jobs ORDER BY id")
    assert len(rows) == 10_000
    assert [r[0] for r in rows] == list(range(array_id, array_id + 10_000))
    assert {r[1] for r in rows} == {array_id}
    assert [r[2] for r in rows] == list(range(10_000))
    assert {(r[3], r[4]) for r in rows} == {("PENDING", 1)}
    assert scns.query(f"{array_id}_9999")["reason"] == "JobHeldUser"


# ---- holds -------------------------------------------------------------------------------


def test_hold_and_release(scns: Scns) -> None:
    held = scns.submit("--wrap", "true")
    assert scns.run("hold", str(held)).stdout == f"scns hold: job {held} held\n"
    scns.start_daemon("--cpus", "1", "--node", "n1")
    marker = scns.submit("--wrap", "true")
    scns.wait_state(marker, "COMPLETED")  # the daemon has had passes with an idle node
    info = scns.query(held)
    assert (info["state"], info["reason"], info["held"]) == ("PENDING", "JobHeldUser", True)
    assert "Reason=JobHeldUser" in scns.run("query", str(held)).stdout
    assert "(JobHeldUser)" in scns.run("queue").stdout
    assert scns.run("release", str(held)).stdout == f"scns release: job {held} released\n"
    assert scns.wait_state(held, "COMPLETED")["held"] is False


def test_hold_at_submit_then_release(cluster: Scns) -> None:
    held = cluster.submit("-H", "--wrap", "true")
    marker = cluster.submit("--wrap", "true")
    cluster.wait_state(marker, "COMPLETED")
    assert reason_is(cluster, held, "JobHeldUser")
    cluster.run("release", str(held))
    cluster.wait_state(held, "COMPLETED")


def test_hold_refuses_unknown_and_finished_jobs(cluster: Scns) -> None:
    pending = cluster.submit("-H", "--wrap", "true")
    done = cluster.submit("--wrap", "true")
    cluster.wait_state(done, "COMPLETED")
    proc = cluster.run("release", str(pending), "99999", check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "scns release: error: invalid job id 99999: no such job"
    ]
    assert reason_is(cluster, pending, "JobHeldUser"), "an unknown id must change nothing"
    proc = cluster.run("hold", str(done), check=False)
    assert proc.returncode == 1 and f"job {done} is not pending (COMPLETED)" in proc.stderr


# ---- priorities, updates and begin times -------------------------------------------------


def test_higher_priority_starts_first(scns: Scns) -> None:
    scns.start_daemon("--cpus", "1", "--node", "n1")
    blocker, gate = gated_blocker(scns, "-t", "10")
    scns.wait_state(blocker, "RUNNING")
    low = scns.submit("--priority", "1", "--wrap", "true")
    high = scns.submit("--priority", "10", "--wrap", "true")
    info = wait_reason(scns, high, "Resources")
    started = iso_time(scns.query(blocker)["start_time"])
    assert abs(iso_time(info["expected_start_time"]) - (started + 600)) <= 1
    assert "(expected)" in scns.run("query", str(high)).stdout
    wait_reason(scns, low, "Priority")
    queue_text = scns.run("queue").stdout
    assert "(Resources)" in queue_text and "(Priority)" in queue_text
    open_gate(gate)
    for job_id in (high, low):
        scns.wait_state(job_id, "COMPLETED")
    times = recorded_times(scns, [high, low])
    assert times[high][1] <= times[low][0]


def test_update_priority_reorders_and_refuses_running_jobs(scns: Scns) -> None:
    scns.start_daemon("--cpus", "1", "--node", "n1")
    blocker, gate = gated_blocker(scns)
    scns.wait_state(blocker, "RUNNING")
    first = scns.submit("--wrap", "true")
    second = scns.submit("--wrap", "true")
    wait_reason(scns, first, "Resources")
    scns.run("update", str(second), "--priority", "100", "--time", "5:00")
    info = wait_reason(scns, second, "Resources")
    assert (info["priority"], info["time_limit"]) == (100, 300)
    wait_reason(scns, first, "Priority")
    proc = scns.run("update", str(blocker), "--priority", "5", check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (
        f"scns update: error: job {blocker} is RUNNING: only --time can change once a job runs\n"
    )
    assert scns.query(blocker)["priority"] == 0
    open_gate(gate)
    for job_id in (first, second):
        scns.wait_state(job_id, "COMPLETED")
    times = recorded_times(scns, [first, second])
    assert times[second][1] <= times[first][0]


def test_begin_in_the_future_waits_with_begin_time(cluster: Scns) -> None:
    later = cluster.submit("--begin", "now+1hour", "--wrap", "true")
    info = wait_reason(cluster, later, "BeginTime")
    assert iso_time(info["begin_time"]) > iso_time(info["submit_time"]) + 3590
    assert "(BeginTime)" in cluster.run("queue").stdout


def test_blocked_jobs_do_not_use_up_the_examined_window(scns: Scns) -> None:
    scns.start_daemon("--cpus", "2", "--node", "n1", env={"SCNS_MAX_JOBS_EXAMINED": "3"})
    blocker, gate = gated_blocker(scns)
    scns.wait_state(blocker, "RUNNING")
    waiting = scns.submit(
        "--priority", "10", "-a", "0-5", "-d", f"afterok:{blocker}", "--wrap", "true"
    )
    behind = scns.submit("--wrap", "true")
    scns.wait_state(behind, "COMPLETED")  # the idle CPU is used although 6 jobs rank higher
    wait_until(
        lambda: {t["reason"] for t in scns.queue() if t["array_job_id"] == waiting}
        == {"Dependency"},
        20, 0.05, "the dependent tasks to show reason Dependency",
    )  # fmt: skip
    open_gate(gate)
    for task in range(6):
        scns.wait_state(f"{waiting}_{task}", "COMPLETED")
