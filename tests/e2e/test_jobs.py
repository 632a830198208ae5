"""End to end on the embedded default: the real CLI, a real daemon, real job processes."""

from __future__ import annotations

import os
import signal

from tests.conftest import Scns, assert_never_oversubscribed, wait_until


def write_script(scns: Scns, name: str, body: str, shebang: str = "#!/bin/sh") -> str:
    path = os.path.join(scns.workdir, name)
    with open(path, "w") as handle:
        handle.write(f"{shebang}\n{body}")
    return path


def read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def test_job_output_exit_code_and_environment(cluster: Scns) -> None:
    script = write_script(
        cluster,
        "hello.sh",
        'echo "args=$1,$2"\n'
        'echo "id=$SLURM_JOB_ID scns=$SCNS_JOB_ID name=$SLURM_JOB_NAME cpus=$SCNS_CPUS"\n'
        'echo "node=$SLURM_JOB_NODELIST scns_node=$SCNS_NODE ntasks=$SLURM_NTASKS"\n'
        'echo "per_task=$SLURM_CPUS_PER_TASK submit_dir=$SLURM_SUBMIT_DIR pwd=$(pwd)"\n'
        "echo to-stderr >&2\n",
    )
    job_id = cluster.submit("-J", "greeter", script, "first", "second")
    info = cluster.wait_state(job_id, "COMPLETED", "FAILED")
    assert info["state"] == "COMPLETED"
    assert info["exit_code"] == 0 and info["signal"] is None
    assert info["stdout_path"] == os.path.join(cluster.workdir, f"scns-{job_id}.out")
    assert info["stderr_path"] == info["stdout_path"]
    out = read(info["stdout_path"])
    assert "args=first,second" in out
    assert f"id={job_id} scns={job_id} name=greeter cpus=1" in out
    assert "node=n1 scns_node=n1 ntasks=1" in out
    assert f"per_task=1 submit_dir={cluster.workdir} pwd={cluster.workdir}" in out
    assert "to-stderr" in out
    for key in ("submit_time", "start_time", "end_time"):
        assert info[key] and ("+" in info[key][10:] or info[key].endswith("Z"))
    assert info["node"] == "n1" and len(info["cpu_ids"]) == 1


def test_nonzero_exit_is_failed(cluster: Scns) -> None:
    job_id = cluster.submit("--wrap", "echo oops; exit 3")
    info = cluster.wait_state(job_id, "COMPLETED", "FAILED")
    assert info["state"] == "FAILED"
    assert info["exit_code"] == 3 and info["signal"] is None
    assert "exit code 3" in info["reason"]


def test_killed_by_signal_is_failed_with_signal(cluster: Scns) -> None:
    job_id = cluster.submit("--wrap", "kill -KILL $$")
    info = cluster.wait_state(job_id, "COMPLETED", "FAILED")
    assert info["state"] == "FAILED"
    assert info["exit_code"] is None and info["signal"] == signal.SIGKILL


def test_separate_error_file_and_patterns(cluster: Scns) -> None:
    os.makedirs(os.path.join(cluster.workdir, "logs"))
    job_id = cluster.submit(
        "-J", "pat", "-o", "logs/%x-%j.out", "-e", "logs/%x-%j-%u.err",
        "--wrap", "echo out; echo err >&2",
    )  # fmt: skip
    info = cluster.wait_state(job_id, "COMPLETED")
    user = info["user"]
    assert info["stdout_path"] == os.path.join(cluster.workdir, "logs", f"pat-{job_id}.out")
    assert info["stderr_path"] == os.path.join(cluster.workdir, "logs", f"pat-{job_id}-{user}.err")
    assert read(info["stdout_path"]) == "out\n"
    assert read(info["stderr_path"]) == "err\n"


def test_chdir_runs_in_that_directory(cluster: Scns) -> None:
    target = os.path.join(cluster.workdir, "elsewhere")
    os.makedirs(target)
    job_id = cluster.submit("-D", target, "--wrap", "pwd")
    info = cluster.wait_state(job_id, "COMPLETED")
    assert info["workdir"] == target
    assert read(os.path.join(target, f"scns-{job_id}.out")).strip() == target


def test_job_is_pinned_to_its_cores(cluster: Scns) -> None:
    job_id = cluster.submit("-c", "2", "--wrap", "grep Cpus_allowed_list /proc/self/status")
    info = cluster.wait_state(job_id, "COMPLETED")
    assert info["cpus"] == 2 and len(info["cpu_ids"]) == 2
    allowed = read(info["stdout_path"]).split(":")[1].strip()
    expected = sorted(info["cpu_ids"])
    listed = set()
    for part in allowed.split(","):
        lo, _, hi = part.partition("-")
        listed.update(range(int(lo), int(hi or lo) + 1))
    assert sorted(listed) == expected


def test_directives_are_read_and_the_command_line_overrides_them(cluster: Scns) -> None:
    script = write_script(
        cluster,
        "directed.sh",
        "#SBATCH --job-name=from-directive\n#SBATCH -c 2\n#SCNS --time=5:00\n"
        "# a comment\n\necho ran\n#SBATCH --job-name=ignored-after-command\n",
    )
    first = cluster.submit(script)
    info = cluster.query(first)
    assert (info["name"], info["cpus"], info["time_limit"]) == ("from-directive", 2, 300)
    second = cluster.submit("-J", "from-cli", "-t", "1:00:00", script)
    info = cluster.query(second)
    assert (info["name"], info["cpus"], info["time_limit"]) == ("from-cli", 2, 3600)
    third = cluster.submit("--cpus", "1", script)
    assert cluster.query(third)["cpus"] == 1
    for job_id in (first, second, third):
        assert cluster.wait_state(job_id, "COMPLETED")["exit_code"] == 0


def test_unimplemented_slurm_option_warns_and_submits(scns: Scns) -> None:
    proc = scns.run("submit", "--licenses=matlab", "--tmp", "10G", "--account=physics", "-p",
                    "short", "--wrap", "true")  # fmt: skip
    assert proc.stdout.startswith("Submitted batch job ")
    warnings = [w for w in proc.stderr.strip().splitlines() if "no scns daemon" not in w]
    assert len(warnings) == 2  # what clients always send (-A, -p) is accepted silently
    assert "--licenses" in warnings[0] and "--tmp" in warnings[1]


def test_script_is_copied_at_submit(scns: Scns) -> None:
    script = write_script(scns, "edit.sh", "echo original\n")
    job_id = scns.submit(script)
    with open(script, "w") as handle:
        handle.write("#!/bin/sh\necho edited\n")
    scns.start_daemon("--cpus", "1", "--node", "n1")
    info = scns.wait_state(job_id, "COMPLETED")
    assert read(info["stdout_path"]) == "original\n"


def test_cancel_pending_job(scns: Scns) -> None:
    job_id = scns.submit("--wrap", "true")
    assert scns.state(job_id) == "PENDING"
    proc = scns.run("cancel", str(job_id))
    assert "cancelled" in proc.stdout
    info = scns.query(job_id)
    assert info["state"] == "CANCELLED" and info["start_time"] is None
    scns.start_daemon("--cpus", "1", "--node", "n1")
    again = scns.run("cancel", str(job_id))
    assert again.returncode == 0 and "already finished" in again.stdout
    assert scns.state(job_id) == "CANCELLED"


def test_cancel_running_job_kills_its_whole_process_group(cluster: Scns) -> None:
    marker = os.path.join(cluster.workdir, "pgid")
    job_id = cluster.submit(
        "--wrap", f"sleep 300 & sleep 301 & ps -o pgid= -p $$ > {marker}.tmp; "
        f"mv {marker}.tmp {marker}; wait",
    )  # fmt: skip
    cluster.wait_state(job_id, "RUNNING")
    pgid = int(wait_until(lambda: os.path.exists(marker) and read(marker).strip(), 20))
    assert _group_alive(pgid)
    cluster.run("cancel", str(job_id))
    info = cluster.wait_state(job_id, "CANCELLED", "FAILED", "COMPLETED")
    assert info["state"] == "CANCELLED"
    wait_until(lambda: not _group_alive(pgid), 10, message="the job's process group to be gone")


def test_time_limit_ends_timeout(cluster: Scns) -> None:
    job_id = cluster.submit("-t", "0:02", "--wrap", "sleep 120")
    info = cluster.wait_state(job_id, "TIMEOUT", "COMPLETED", "FAILED", timeout=30)
    assert info["state"] == "TIMEOUT"
    assert info["time_limit"] == 2
    assert 1.5 <= info["run_time_s"] < 20


def test_time_limit_escalates_to_sigkill(cluster: Scns) -> None:
    job_id = cluster.submit("-t", "0:01", "--wrap", "trap '' TERM; sleep 120; sleep 120")
    info = cluster.wait_state(job_id, "TIMEOUT", "COMPLETED", "FAILED", timeout=30)
    assert info["state"] == "TIMEOUT"


def test_never_more_cpus_than_the_node_has(cluster: Scns) -> None:
    ids = [cluster.submit("--wrap", "sleep 0.2") for _ in range(8)]
    ids += [cluster.submit("-c", "2", "--wrap", "sleep 0.1") for _ in range(3)]
    ids += [cluster.submit("--wrap", "sleep 0.15") for _ in range(8)]
    jobs = [cluster.wait_state(i, "COMPLETED", "FAILED", timeout=60) for i in ids]
    assert all(j["state"] == "COMPLETED" for j in jobs)
    _assert_never_oversubscribed(cluster, ids, cpus=2)


def _assert_never_oversubscribed(scns: Scns, ids: list[int], cpus: int) -> None:
    marks = ",".join("?" * len(ids))
    rows = scns.sql(
        f"SELECT node, start_time, end_time, cpus, cpu_ids FROM jobs WHERE id IN ({marks})",
        tuple(ids),
    )
    assert_never_oversubscribed(rows, {"n1": cpus})


def test_job_that_cannot_start_fails_with_reason_and_daemon_survives(cluster: Scns) -> None:
    gone = os.path.join(cluster.workdir, "gone")
    os.makedirs(gone)
    hold = cluster.submit("-c", "2", "--wrap", f"while [ -d {gone} ]; do sleep 0.05; done")
    job_id = cluster.submit("-D", gone, "--wrap", "echo never")
    cluster.wait_state(hold, "RUNNING")
    os.rmdir(gone)
    info = cluster.wait_state(job_id, "FAILED", "COMPLETED")
    assert info["state"] == "FAILED"
    assert "no such file" in info["reason"] or "cannot" in info["reason"]
    after = cluster.submit("--wrap", "echo still alive")
    assert cluster.wait_state(after, "COMPLETED")["exit_code"] == 0


def test_output_file_that_cannot_be_opened_fails_the_job_before_it_runs(cluster: Scns) -> None:
    """The wrapper opens the output files (as the job's user); one it cannot open ends the
    job FAILED with the reason, and the job itself never runs."""
    gone = os.path.join(cluster.workdir, "gone")
    os.makedirs(gone)
    marker = os.path.join(cluster.workdir, "ran")
    job_id = cluster.submit("-H", "-o", os.path.join(gone, "out.txt"), "--wrap", f"touch {marker}")
    os.rmdir(gone)
    cluster.run("release", str(job_id))
    info = cluster.wait_state(job_id, "FAILED", "COMPLETED")
    assert info["state"] == "FAILED"
    assert info["reason"] == f"cannot open output file {gone}/out.txt: Directory nonexistent"
    assert not os.path.exists(marker)


def test_queue_lists_live_jobs_and_all_with_state_filter(cluster: Scns) -> None:
    done = cluster.submit("--wrap", "true")
    cluster.wait_state(done, "COMPLETED")
    running = cluster.submit("-c", "2", "--wrap", "sleep 30")
    cluster.wait_state(running, "RUNNING")
    waiting = cluster.submit("--wrap", "true")
    live = {j["id"] for j in cluster.queue()}
    assert live == {running, waiting}
    assert {j["id"] for j in cluster.queue("--all")} == {done, running, waiting}
    assert [j["id"] for j in cluster.queue("--all", "--state", "COMPLETED")] == [done]
    table = cluster.run("queue").stdout.splitlines()
    assert table[0].split()[:4] == ["JOBID", "NAME", "USER", "ST"]
    assert len(table) == 3
    cluster.run("cancel", str(running), str(waiting))


def test_info_shows_node_cpus(cluster: Scns) -> None:
    import json

    job_id = cluster.submit("--wrap", "sleep 30")
    cluster.wait_state(job_id, "RUNNING")
    nodes = json.loads(cluster.run("info", "--json").stdout)
    assert [n["name"] for n in nodes] == ["n1"]
    assert (nodes[0]["cpus"], nodes[0]["allocated_cpus"], nodes[0]["idle_cpus"]) == (2, 1, 1)
    assert nodes[0]["state"] == "mixed"
    cluster.run("cancel", str(job_id))
    cluster.wait_state(job_id, "CANCELLED")
    nodes = json.loads(cluster.run("info", "--json").stdout)
    assert nodes[0]["allocated_cpus"] == 0 and nodes[0]["state"] == "idle"


def test_daemon_exits_cleanly_on_sigterm(cluster: Scns) -> None:
    proc = cluster.daemons[0]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert "daemon_stopped" in cluster.daemon_log()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return _has_live_member(pgid)


def _has_live_member(pgid: int) -> bool:
    """Zombies still count for killpg(0); look for a member that is not one."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        fields = data[data.rindex(b")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


CONTRACT_KEYS = {
    "job_id", "name", "user", "state", "reason", "exit_code", "signal", "cpus", "node",
    "cpu_ids", "time_limit", "submit_time", "start_time", "end_time", "workdir", "stdout_path",
    "stderr_path",
}  # fmt: skip


def test_query_json_contract(cluster: Scns) -> None:
    job_id = cluster.submit("-c", "2", "-t", "1:30", "--wrap", "true")
    info = cluster.wait_state(job_id, "COMPLETED")
    assert set(info) >= CONTRACT_KEYS
    assert info["job_id"] == job_id and isinstance(info["job_id"], int)
    assert (info["cpus"], info["time_limit"], info["exit_code"], info["signal"]) == (2, 90, 0, None)
    assert all(isinstance(c, int) for c in info["cpu_ids"]) and len(info["cpu_ids"]) == 2
    waiting = cluster.submit("-H", "--wrap", "true")
    pending = cluster.query(waiting)
    assert pending["start_time"] is None and pending["end_time"] is None
    assert pending["node"] is None and pending["cpu_ids"] is None and pending["exit_code"] is None
    assert [j["job_id"] for j in cluster.queue()] == [waiting]
