"""A forged Redis message runs nothing as the daemon's user, and Redis ACL users work.

Real daemons on PostgreSQL + Redis; each forged message is awaited through the refusal the
daemon logs, then the worker is shown to be alive by a genuine start message it consumes."""

from __future__ import annotations

import os
import pickle
import re
import secrets
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from scns.dispatch.messages import MAX_JOB_IDS, START_HANDLER, RefusedMessage, parse_start
from tests.conftest import Scns, wait_until

NODE = "n1"
QUEUE = f"scns-node-{NODE}"
CLUSTER_ENV = {"SCNS_HEARTBEAT_TIMEOUT_S": "4", "SCNS_POLL_INTERVAL_S": "1"}


class _Touch:
    """Unpickling this runs ``touch path``: what a forged pickle payload does."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def redis_client(scns: Scns):
    import redis

    return redis.Redis.from_url(scns.env["SCNS_REDIS_URL"])


def refusal(scns: Scns, job_id: str) -> str | None:
    for line in scns.daemon_log().splitlines():
        if "event=message_refused" in line and f" job={job_id} " in line:
            return line
    return None


def wait_refused(scns: Scns, job_id: str) -> str:
    line = wait_until(lambda: refusal(scns, job_id), 20, 0.05, f"refusal of message {job_id}")
    client = redis_client(scns)
    wait_until(lambda: not client.exists(f"rq:job:{job_id}"), 10, 0.05, f"{job_id} deleted")
    return line


def assert_worker_alive(scns: Scns) -> None:
    """The RQ worker thread still consumes messages, and RQ's loop never quit meanwhile."""
    from rq import Queue
    from rq.serializers import JSONSerializer

    client = redis_client(scns)
    job = Queue(QUEUE, connection=client, serializer=JSONSerializer).enqueue(
        START_HANDLER, NODE, [], ttl=60
    )
    wait_until(lambda: not client.exists(job.key), 20, 0.05, "a genuine message consumed")
    assert refusal(scns, job.id) is None
    log = scns.daemon_log()
    for sign in ("rq_worker_exited", "rq_worker_error", "rq_maintenance_failed", "quitting"):
        assert sign not in log
    job_id = scns.submit("--wrap", "true")
    assert scns.wait_state(job_id, "COMPLETED", "FAILED")["state"] == "COMPLETED"


@pytest.fixture
def node(pg_scns: Scns) -> Scns:
    """One daemon on PostgreSQL + Redis, node ``n1``."""
    pg_scns.start_daemon("--node", NODE, "--cpus", "2", env=CLUSTER_ENV)
    return pg_scns


@pytest.mark.postgres
@pytest.mark.redis
def test_json_message_naming_another_function_is_refused(node: Scns) -> None:
    from rq import Queue
    from rq.serializers import JSONSerializer

    target = os.path.join(node.workdir, "forged-json")
    queue = Queue(QUEUE, connection=redis_client(node), serializer=JSONSerializer)
    forged = queue.enqueue("os.system", f"touch {target}")
    line = wait_refused(node, forged.id)
    assert "func=os.system" in line and f"node={NODE}" in line
    assert not os.path.exists(target)
    assert_worker_alive(node)
    assert not os.path.exists(target)


@pytest.mark.postgres
@pytest.mark.redis
def test_start_handler_with_wrong_arguments_is_refused(node: Scns) -> None:
    from rq import Queue
    from rq.serializers import JSONSerializer

    queue = Queue(QUEUE, connection=redis_client(node), serializer=JSONSerializer)
    forged = [
        queue.enqueue(START_HANDLER, "other-node", [1]),
        queue.enqueue(START_HANDLER, NODE, "1; touch x"),
        queue.enqueue(START_HANDLER, NODE, [1], extra=1),
    ]
    for job in forged:
        assert f"func={START_HANDLER}" in wait_refused(node, job.id)
    assert_worker_alive(node)


@pytest.mark.postgres
@pytest.mark.redis
def test_pickled_messages_are_never_unpickled(node: Scns) -> None:
    from rq import Queue

    client = redis_client(node)
    # The payload is real: unpickling it here creates the control file.
    control = os.path.join(node.workdir, "control")
    pickle.loads(pickle.dumps(_Touch(control)))
    assert os.path.exists(control)

    by_rq = os.path.join(node.workdir, "forged-rq-pickle")
    plain = Queue(QUEUE, connection=client).enqueue("os.system", f"touch {by_rq}")

    crafted = os.path.join(node.workdir, "forged-raw-pickle")
    payload = pickle.dumps(_Touch(crafted))
    raw_id = f"raw-{secrets.token_hex(4)}"
    client.hset(f"rq:job:{raw_id}", mapping={
        "data": payload, "meta": payload, "result": payload, "exc_info": payload,
        "origin": QUEUE, "status": "queued", "description": "forged",
    })  # fmt: skip
    client.rpush(f"rq:queue:{QUEUE}", raw_id)

    # A hash RQ cannot even restore: refused at dequeue, before any worker code sees it.
    broken_id = f"broken-{secrets.token_hex(4)}"
    client.hset(f"rq:job:{broken_id}", mapping={"data": payload, "status": "no-such-status"})
    client.rpush(f"rq:queue:{QUEUE}", broken_id)

    for job_id in (plain.id, raw_id, broken_id):
        assert "func=?" in wait_refused(node, job_id)
    assert client.lrange(f"rq:queue:{QUEUE}:intermediate", 0, -1) == []
    assert_worker_alive(node)
    assert not os.path.exists(by_rq) and not os.path.exists(crafted)


def _with_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.mark.postgres
@pytest.mark.redis
def test_redis_acl_user_with_password_runs_jobs(pg_scns: Scns) -> None:
    from scns.dispatch.rq_bridge import connect

    admin = redis_client(pg_scns)
    user = f"scns_test_{secrets.token_hex(4)}"
    password = f"pw:@/{secrets.token_hex(8)}"  # characters a URL must escape
    admin.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "&*", "+@all")
    try:
        url = _with_user(pg_scns.env["SCNS_REDIS_URL"], user, password)
        assert connect(url).acl_whoami() == user
        pg_scns.env["SCNS_REDIS_URL"] = url
        pg_scns.start_daemon("--node", NODE, "--cpus", "2", env=CLUSTER_ENV)

        def daemon_clients() -> list:
            return [c for c in admin.client_list() if c.get("user") == user]

        wait_until(daemon_clients, 20, 0.05, "the daemon to connect as the ACL user")
        wait_until(lambda: any(c.get("cmd") in ("blmove", "blpop") for c in daemon_clients()),
                   20, 0.05, "the node to wait on its start queue as the ACL user")  # fmt: skip
        job_id = pg_scns.submit("--wrap", "echo hi")
        assert pg_scns.wait_state(job_id, "COMPLETED", "FAILED")["state"] == "COMPLETED"
        assert "rq_worker_error" not in pg_scns.daemon_log()
        assert "dispatch_failed" not in pg_scns.daemon_log()
    finally:
        pg_scns.stop_daemons()
        admin.execute_command("ACL", "DELUSER", user)


@pytest.mark.parametrize(
    ("func", "instance", "args", "kwargs", "why"),
    [
        ("os.system", None, [NODE, [1]], {}, "not the start handler"),
        (START_HANDLER, {"x": 1}, [NODE, [1]], {}, "method call"),
        (START_HANDLER, None, [NODE, [1]], {"x": 1}, "keyword"),
        (START_HANDLER, None, [NODE], {}, "not (node, job_ids)"),
        (START_HANDLER, None, "n1", {}, "not (node, job_ids)"),
        (START_HANDLER, None, ["n2", [1]], {}, "another node"),
        (START_HANDLER, None, [1, [1]], {}, "another node"),
        (START_HANDLER, None, [NODE, (1,)], {}, "not a list"),
        (START_HANDLER, None, [NODE, [1] * (MAX_JOB_IDS + 1)], {}, "at most"),
        (START_HANDLER, None, [NODE, [True]], {}, "positive integers"),
        (START_HANDLER, None, [NODE, ["1"]], {}, "positive integers"),
        (START_HANDLER, None, [NODE, [0]], {}, "positive integers"),
        (START_HANDLER, None, [NODE, [2**63]], {}, "positive integers"),
    ],
)
def test_parse_start_refuses_every_other_shape(func, instance, args, kwargs, why) -> None:
    with pytest.raises(RefusedMessage, match=re.escape(why)):
        parse_start(func, instance, args, kwargs, NODE)


def test_parse_start_accepts_what_the_sender_sends() -> None:
    assert parse_start(START_HANDLER, None, [NODE, [1, 2]], {}, NODE) == [1, 2]
    assert parse_start(START_HANDLER, None, (NODE, []), {}, NODE) == []
