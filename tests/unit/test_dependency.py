import pytest
from hypothesis import given
from hypothesis import strategies as st

from scns.domain.dependency import (
    KINDS,
    TERMINAL_STATES,
    Condition,
    Dependency,
    JobRef,
    evaluate,
    format_dependency,
    parse_dependency,
)
from scns.errors import InvalidInput


def cond(kind, *refs):
    return Condition(kind, tuple(JobRef(*r) if isinstance(r, tuple) else JobRef(r) for r in refs))


@pytest.mark.parametrize(
    ("text", "expected", "canonical"),
    [
        ("afterok:12", Dependency((cond("afterok", 12),)), "afterok:12"),
        ("afterok:12:13_4", Dependency((cond("afterok", 12, (13, 4)),)), "afterok:12:13_4"),
        (
            "after:1,afterany:2,afternotok:3",
            Dependency((cond("after", 1), cond("afterany", 2), cond("afternotok", 3)), True),
            "after:1,afterany:2,afternotok:3",
        ),
        (
            "afterok:1?singleton",
            Dependency((cond("afterok", 1), cond("singleton")), False),
            "afterok:1?singleton",
        ),
        ("singleton", Dependency((cond("singleton"),)), "singleton"),
        ("AfterOK:7", Dependency((cond("afterok", 7),)), "afterok:7"),
        ("55", Dependency((cond("afterany", 55),)), "afterany:55"),  # Slurm's legacy form
        (" afterok:9 ", Dependency((cond("afterok", 9),)), "afterok:9"),
        ("afterok:5_0", Dependency((cond("afterok", (5, 0)),)), "afterok:5_0"),
    ],
)
def test_parse_and_format(text, expected, canonical):
    dep = parse_dependency(text)
    assert dep == expected
    assert format_dependency(dep) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected KIND:JOB"),
        ("afterok:1,", "expected KIND:JOB"),
        ("?afterok:1", "expected KIND:JOB"),
        ("afterok:1,afterany:2?afterok:3", "cannot mix"),
        ("afterwards:1", "unknown dependency type 'afterwards'"),
        ("afterok", "afterok needs at least one job id"),
        ("afterok:", "bad job id ''"),
        ("afterok:1::2", "bad job id ''"),
        ("afterok:0", "bad job id '0'"),
        ("afterok:-1", "bad job id '-1'"),
        ("afterok:1_", "bad job id '1_'"),
        ("afterok:1_2_3", "bad job id '1_2_3'"),
        ("afterok:x", "bad job id 'x'"),
        ("after:1+10", "bad job id '1\\+10'"),
        ("singleton:5", "singleton takes no job ids"),
    ],
)
def test_parse_rejects(text, message):
    with pytest.raises(InvalidInput, match=message) as info:
        parse_dependency(text)
    assert repr(text) in str(info.value)


def test_single_condition_is_canonically_require_all():
    assert Dependency((cond("afterok", 1),), require_all=False).require_all is True


def test_job_refs_lists_every_ref_once():
    dep = parse_dependency("afterok:1:2_3,afterany:1,singleton")
    assert dep.job_refs() == {JobRef(1), JobRef(2, 3)}


STATES = ("PENDING", "CONFIGURING", "RUNNING", *sorted(TERMINAL_STATES))
EXPECTED = {  # kind -> state -> outcome, exit code 0 (1 for FAILED)
    "after": {"PENDING": "waiting"} | {s: "satisfied" for s in STATES if s != "PENDING"},
    "afterany": {s: "satisfied" if s in TERMINAL_STATES else "waiting" for s in STATES},
    "afterok": {
        s: "satisfied" if s == "COMPLETED" else "never" if s in TERMINAL_STATES else "waiting"
        for s in STATES
    },
    "afternotok": {
        s: "never" if s == "COMPLETED" else "satisfied" if s in TERMINAL_STATES else "waiting"
        for s in STATES
    },
}


@pytest.mark.parametrize(
    ("kind", "state", "outcome"),
    [(kind, state, outcome) for kind, row in EXPECTED.items() for state, outcome in row.items()],
)
def test_evaluate_one_condition(kind, state, outcome):
    exit_code = 1 if state == "FAILED" else 0
    dep = parse_dependency(f"{kind}:7")
    assert evaluate(dep, {JobRef(7): (state, exit_code)}) == outcome


@pytest.mark.parametrize(("kind", "outcome"), [("afterok", "never"), ("afternotok", "satisfied")])
def test_completed_with_nonzero_exit_counts_as_failure(kind, outcome):
    dep = parse_dependency(f"{kind}:7")
    assert evaluate(dep, {JobRef(7): ("COMPLETED", 3)}) == outcome


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("afterok:1,afterok:2", "waiting"),  # 1 done, 2 running
        ("afterok:1,afterok:3", "never"),
        ("afterok:1,afterany:3", "satisfied"),
        ("afterok:1:2", "waiting"),
        ("afterok:1:3", "never"),
        ("afterok:2?afterok:3", "waiting"),
        ("afterok:1?afterok:3", "satisfied"),
        ("afterok:3?afternotok:1", "never"),
        ("afterok:3:1?afternotok:1", "satisfied"),  # each id counts on its own under '?'
        ("afterok:1,singleton", "waiting"),
        ("afterok:3?singleton", "waiting"),
    ],
)
def test_evaluate_combines(text, outcome):
    states = {JobRef(1): ("COMPLETED", 0), JobRef(2): ("RUNNING", None), JobRef(3): ("FAILED", 1)}
    assert evaluate(parse_dependency(text), states) == outcome


@pytest.mark.parametrize(("clear", "outcome"), [(True, "satisfied"), (False, "waiting")])
def test_singleton_follows_callers_answer(clear, outcome):
    assert evaluate(parse_dependency("singleton"), {}, singleton_clear=clear) == outcome


def test_array_tasks_are_looked_up_by_task_ref():
    states = {JobRef(5, 1): ("COMPLETED", 0), JobRef(5): ("RUNNING", None)}
    assert evaluate(parse_dependency("afterok:5_1"), states) == "satisfied"
    assert evaluate(parse_dependency("afterok:5"), states) == "waiting"


def test_evaluate_rejects_caller_mistakes():
    with pytest.raises(KeyError):
        evaluate(parse_dependency("afterok:1"), {})
    with pytest.raises(ValueError, match="unknown job state 'DONE'"):
        evaluate(parse_dependency("afterok:1"), {JobRef(1): ("DONE", 0)})


job_refs = st.builds(JobRef, st.integers(1, 10**9), st.none() | st.integers(0, 4_000_000))
conditions = st.one_of(
    st.just(Condition("singleton")),
    st.builds(
        Condition,
        st.sampled_from([k for k in KINDS if k != "singleton"]),
        st.lists(job_refs, min_size=1, max_size=4).map(tuple),
    ),
)
dependencies = st.builds(
    Dependency, st.lists(conditions, min_size=1, max_size=5).map(tuple), st.booleans()
)


@given(dependencies)
def test_format_round_trips(dep):
    assert parse_dependency(format_dependency(dep)) == dep


@given(dependencies, st.data())
def test_any_is_never_stricter_than_all(dep, data):
    states = {
        ref: (data.draw(st.sampled_from(STATES)), data.draw(st.sampled_from([0, 1, None])))
        for ref in dep.job_refs()
    }
    clear = data.draw(st.booleans())
    all_of = evaluate(Dependency(dep.conditions, True), states, singleton_clear=clear)
    any_of = evaluate(Dependency(dep.conditions, False), states, singleton_clear=clear)
    if all_of == "satisfied":
        assert any_of == "satisfied"
    if any_of == "never":
        assert all_of == "never"
