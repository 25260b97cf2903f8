"""explore() for users' own threads: named strategies, named objects, steered threads, kept schedules (issue 22)."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from testbed.sched import (
    Access,
    Event,
    Lock,
    PCTStrategy,
    ReplayDivergedError,
    Thread,
    TraceError,
    UniformStrategy,
    explore,
    point,
    replay,
)
from testbed.sched._access import fresh_objects, object_name
from testbed.sched._explore_strategies import Probe, plan
from testbed.sched._pos import races, resource
from testbed.sched._strategies import ReplayStrategy
from testbed.sched._surw import SURWStrategy
from testbed.sched._trace import decode_tape

pytestmark = pytest.mark.timeout(60)

NAMED = ("pos", "pct", "uniform", "random", "surw", "portfolio")


class Counter:
    def __init__(self) -> None:
        self.x = 0


def increment(state: Counter) -> None:
    point("load", obj="x", write=False)
    seen = state.x
    point("store", obj="x", write=True)
    state.x = seen + 1


def exactly_two(state: Counter) -> bool:
    return state.x == 2


@pytest.mark.parametrize("strategy", NAMED)
def test_every_named_strategy_finds_the_lost_update(strategy: str) -> None:
    result = explore([increment, increment], setup=Counter, check=exactly_two, strategy=strategy, schedules=300)
    assert result.failed and result.kind == "check", result
    assert result.steps == 4


def test_a_passing_result_reports_its_steps_and_the_probes_horizon() -> None:
    def once(state: Counter) -> None:
        point("a")
        point("b")

    result = explore([once, once], setup=Counter, strategy="pct", schedules=3)
    assert (result.failed, result.steps, result.horizon) == (False, 4, 4)
    assert explore([once, once], setup=Counter, strategy="uniform", schedules=3).steps == 4


def test_a_two_argument_factory_gets_the_probes_horizon() -> None:
    seen: list[int] = []

    def factory(seed: int, horizon: int) -> PCTStrategy:
        seen.append(horizon)
        return PCTStrategy(seed, 2, horizon)

    explore([increment, increment], setup=Counter, strategy=factory, schedules=3)
    assert seen == [4, 4]  # schedule 0 was the probe


def test_pct_depth_one_never_preempts_and_depth_two_finds_the_bug() -> None:
    one = explore([increment, increment], setup=Counter, check=exactly_two, strategy="pct", depth=1, schedules=50)
    assert not one.failed
    two = explore([increment, increment], setup=Counter, check=exactly_two, strategy="pct", depth=2, schedules=50)
    assert two.failed


def test_a_read_and_a_write_of_one_object_race_whatever_their_labels() -> None:
    read, write = resource("load", Access("x", False)), resource("store", Access("x", True))
    assert races(read, write) and races(write, write)
    assert not races(read, resource("peek", Access("x", False)))
    assert not races(write, resource("store", Access("y", True)))


def test_objects_are_named_by_value_or_registration_order_never_by_address() -> None:
    box, other, items = object(), object(), []
    with fresh_objects():
        assert [object_name("x"), object_name(3), object_name(box), object_name(items), object_name(other)] == [
            "x",
            "3",
            "object-1",
            "list-1",
            "object-2",
        ]
        assert object_name(box) == "object-1" and object_name(items) == "list-1"
        assert object_name(Lock("guard")) == "guard"


def test_surw_profiles_user_points_and_finds_the_bug() -> None:
    result = explore([increment, increment], setup=Counter, check=exactly_two, strategy="surw", schedules=200, seed=1)
    assert result.failed and result.horizon == 4


def _first_picks(power: int, seeds: int) -> collections.Counter[int]:
    """Which of two threads (user points left: 1 and 9) SURW runs first, over ``seeds`` seeds."""
    picks: collections.Counter[int] = collections.Counter()
    for seed in range(seeds):
        walk = SURWStrategy(seed, (1, 9), user=True, power=power)
        walk.register(0)
        walk.register(1)
        picks[walk.decide(1, (0, 1), 0, False)] += 1
    return picks


def test_surw_power_favours_the_thread_with_more_points_left() -> None:
    plain, fourth = _first_picks(1, 400), _first_picks(4, 400)
    assert 20 <= plain[0] <= 70, plain  # weight 1 against 9: about 40 of 400
    assert fourth[0] <= 2, fourth  # weight 1 against 6561


def test_the_portfolio_members_carry_their_parameters_in_their_labels() -> None:
    probe = Probe(steps=10, profile=(2, 2))
    for depth, plain in ((None, 3), (2, 2)):
        how = plan("portfolio", depth=depth)
        made = {how.member(i): how.make(i, 7, probe) for i in range(1, 9)}
        assert {label: m._power for label, m in made.items() if isinstance(m, SURWStrategy)} == {
            "portfolio:surw": 1,
            "portfolio:surw(power=2)": 2,
            "portfolio:surw(power=4)": 4,
        }
        # depth= sets the plain pct members; pct(depth=1) keeps its own
        assert {label: m._depth for label, m in made.items() if isinstance(m, PCTStrategy)} == {
            "portfolio:pct": plain,
            "portfolio:pct(depth=1)": 1,
        }


def test_uniform_picks_every_runnable_thread_including_the_current_one() -> None:
    picks = {UniformStrategy(seed).decide(1, (0, 1, 2), 1, True) for seed in range(40)}
    assert picks == {0, 1, 2}


def test_a_failed_schedule_stops_the_other_threads_at_their_next_point() -> None:
    laps: list[int] = []

    def fails() -> None:
        point("first")
        raise RuntimeError("boom")

    def spins() -> None:
        for lap in range(10_000):
            laps.append(lap)
            point("lap")

    result = explore({"fails": fails, "spins": spins}, strategy="uniform", schedules=1)
    assert result.kind == "exception" and result.thread == "fails"
    assert len(laps) < 50, f"the spinner ran {len(laps)} laps after the failure"


def body_with_threads() -> None:
    state = Counter()
    threads = [Thread(target=increment, args=(state,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert state.x == 2, f"lost update: x = {state.x}"


def test_threads_the_code_starts_are_steered_and_named_in_order() -> None:
    result = explore([body_with_threads], strategy="pos", schedules=200)
    assert result.failed and result.thread == "body_with_threads", result
    assert result.threads == ["body_with_threads", "thread-1", "thread-2"]
    assert result.replay().step == result.step


def test_a_thread_drop_in_behaves_like_threading_thread() -> None:
    seen: list[object] = []

    def body() -> None:
        worker = Thread(target=lambda: seen.append("ran"), name="worker", daemon=True)
        seen.append(worker.is_alive())
        worker.start()
        seen.append(worker.daemon)
        worker.join()
        seen.extend([worker.is_alive(), worker.ident is not None, worker.name])
        with pytest.raises(RuntimeError, match="only be started once"):
            worker.start()

    result = explore([body], schedules=5)
    assert not result.failed, result
    assert seen[:6] == [False, True, "ran", False, True, "worker"]


def test_an_exception_in_a_started_thread_fails_the_schedule() -> None:
    def crash() -> None:
        raise ValueError("in the worker")

    def body() -> None:
        worker = Thread(target=crash, name="worker")
        worker.start()
        worker.join()

    result = explore([body], schedules=1)
    assert (result.kind, result.thread, result.message) == ("exception", "worker", "ValueError: in the worker")


def test_a_thread_started_outside_a_run_is_a_plain_thread() -> None:
    seen: list[int] = []
    worker = Thread(target=seen.append, args=(1,))
    worker.start()
    worker.join(5.0)
    assert seen == [1] and not worker.is_alive()


def _fails_with(result: object, tape: list[int]) -> bool:
    run = result._explorer.run_schedule(ReplayStrategy(tape), "t", result.schedule, result.seed)  # type: ignore[attr-defined]
    return run.failed


def test_shrink_is_one_minimal() -> None:
    result = explore([increment, increment, increment], setup=Counter, check=lambda s: s.x == 3, strategy="uniform")
    small = result.shrink()
    assert small.failed and small.kind == result.kind and small.preemptions <= result.preemptions
    decisions = decode_tape(small.tape)[0]
    for i, decision in enumerate(decisions):
        if decision:
            assert not _fails_with(small, [*decisions[:i], 0, *decisions[i + 1 :]]), f"decision {i} is removable"


def test_explain_names_the_racing_operations_with_their_source_lines() -> None:
    result = explore([increment, increment], setup=Counter, check=exactly_two, strategy="pos").shrink()
    text = result.explain()
    assert "preemption 1" in text and "races with" in text
    assert "test_explore_users.py:" in text and 'point("store", obj="x", write=True)' in text


def test_a_saved_schedule_replays_from_its_file(tmp_path: Path) -> None:
    result = explore([increment, increment], setup=Counter, check=exactly_two, strategy="pos")
    path = result.save(tmp_path / "lost.json")
    trace = json.loads(path.read_text())
    assert (
        trace["schema"] == "testbed.trace/4"
        and trace["kind"] == "controlled"
        and trace["threads"] == ["increment-0", "increment-1"]
    )
    assert set(trace["fingerprint"]) == {"program", "strategy", "threads", "tape"}
    again = replay(path, [increment, increment], setup=Counter, check=exactly_two)
    assert (again.kind, again.step) == (result.kind, result.step)


def test_a_replay_on_a_changed_program_names_what_changed(tmp_path: Path) -> None:
    result = explore([increment, increment], setup=Counter, check=exactly_two, strategy="pos")
    path = result.save(tmp_path / "lost.json")

    def increment_locked(state: Counter) -> None:
        point("load", obj="x", write=False)
        point("load again", obj="x", write=False)
        seen = state.x
        point("store", obj="x", write=True)
        state.x = seen + 1

    with pytest.raises(ReplayDivergedError, match="changed since the trace was recorded: program"):
        replay(path, {"increment-0": increment_locked, "increment-1": increment_locked}, setup=Counter)
    with pytest.raises(TraceError, match="ran threads"):
        replay(path, [increment_locked], setup=Counter)


def test_a_factory_with_a_horizon_parameter_gets_it_by_keyword() -> None:
    made: list[PCTStrategy] = []

    def factory(seed: int, horizon: int = 20_000) -> PCTStrategy:
        made.append(PCTStrategy(seed, 2, horizon))
        assert horizon == 4
        return made[-1]

    result = explore([increment, increment], setup=Counter, check=exactly_two, strategy=factory, schedules=40)
    assert made and result.horizon == 4
    assert explore([increment, increment], setup=Counter, strategy=PCTStrategy, schedules=2).horizon == 4


def test_a_started_thread_that_waits_forever_is_a_deadlock_naming_it() -> None:
    def body() -> None:
        never = Event("never")
        waiter = Thread(target=never.wait, name="waiter")
        waiter.start()
        waiter.join()

    result = explore([body], schedules=2)
    assert result.kind == "deadlock", result
    assert "waiter waits for event 'never'" in result.message and "body waits for thread 'waiter'" in result.message
