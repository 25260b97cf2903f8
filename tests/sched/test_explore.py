"""explore(): your own threads under the controlled scheduler, and the drop-in primitives.

docs/scheduling.md, "Your own threads: explore", is executable: every
``python`` block of that section runs here, and what it prints must be the
``text`` block after it.
"""

from __future__ import annotations

import io
import os
import queue
import re
import threading
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from testbed.sched import (
    BoundedSemaphore,
    Condition,
    Event,
    ExploreResult,
    Lock,
    Queue,
    RandomStrategy,
    ReplayDivergedError,
    RLock,
    Semaphore,
    explore,
    point,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "scheduling.md"


def doc_blocks() -> list[tuple[str, str]]:
    """(python code, the text block after it) of the explore section."""
    text = DOC.read_text()
    section = text[text.index("## Your own threads: explore") :]
    section = section[: section.find("\n## ", 5)] if "\n## " in section[5:] else section
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    pairs = []
    for i, (lang, code) in enumerate(blocks):
        if lang == "python":
            after = blocks[i + 1] if i + 1 < len(blocks) else ("", "")
            pairs.append((code, after[1] if after[0] == "text" else ""))
    return pairs


@pytest.mark.parametrize("block", range(2))
def test_the_docs_explore_examples_run_and_print_what_the_doc_shows(block: int) -> None:
    blocks = doc_blocks()
    assert len(blocks) == 2, "the section has the lost update and the Lock/Condition version"
    code, shown = blocks[block]
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(code, f"{DOC}:block{block}", "exec"), {"__name__": "doc_example"})
    assert out.getvalue().strip() == shown.strip()


# -- the lost update ----------------------------------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.x = 0
        self.lock = Lock()


def increment(state: Counter) -> None:
    x = state.x
    point()
    state.x = x + 1


def locked_increment(state: Counter) -> None:
    with state.lock:
        increment(state)


def exactly_two(state: Counter) -> bool:
    return state.x == 2


@pytest.mark.parametrize("strategy", ["pct", "random", "factory"])
def test_a_lost_update_is_found_and_replays_the_same_failure_at_the_same_step(strategy: str) -> None:
    chosen = (lambda seed: RandomStrategy(seed, 0.5)) if strategy == "factory" else strategy
    result = explore([increment, increment], setup=Counter, check=exactly_two, strategy=chosen, schedules=200)
    assert result.failed and result.kind == "check", result
    assert result.message == "check returned False"
    assert result.threads == ["increment-0", "increment-1"]
    assert result.tape and all(len(run) == 4 for run in result.tape)
    assert result.preemptions >= 1
    for _ in range(3):
        again = result.replay()
        assert (again.failed, again.kind, again.step, again.message) == (True, "check", result.step, result.message)
        assert again.tape == result.tape
        assert (again.schedule, again.seed, again.strategy, again.schedules) == (
            result.schedule,
            result.seed,
            "replay",
            1,
        )


def test_explore_is_a_function_of_its_arguments() -> None:
    first = explore([increment, increment], setup=Counter, check=exactly_two, strategy="random", seed=7)
    second = explore([increment, increment], setup=Counter, check=exactly_two, strategy="random", seed=7)
    assert (first.schedule, first.seed, first.tape) == (second.schedule, second.seed, second.tape)


def test_with_the_lock_no_schedule_loses_an_update() -> None:
    result = explore([locked_increment, locked_increment], setup=Counter, check=exactly_two, schedules=200)
    assert not result.failed, result
    assert result.schedules == 200
    assert str(result) == "no failure in 200 schedules (portfolio)"
    with pytest.raises(ValueError, match="nothing to replay"):
        result.replay()


class Account:
    def __init__(self) -> None:
        self.balance = 0
        self.deposits = 0
        self.lock = Lock()
        self.changed = Condition(self.lock)


def split_deposit(account: Account) -> None:
    with account.lock:
        balance = account.balance
    with account.lock:
        account.balance = balance + 10
        account.deposits += 1
        account.changed.notify_all()


def audit(account: Account) -> None:
    with account.changed:
        account.changed.wait_for(lambda: account.deposits == 2)
        assert account.balance == 20, f"balance {account.balance} after two deposits"


def test_a_lost_update_in_plain_lock_and_condition_code_is_found_and_replayed() -> None:
    threads = {"alice": split_deposit, "bob": split_deposit, "auditor": audit}
    result = explore(threads, setup=Account, schedules=300)
    assert result.failed and result.kind == "exception", result
    assert result.thread == "auditor"
    assert isinstance(result.exception, AssertionError)
    assert result.message == "AssertionError: balance 10 after two deposits"
    again = result.replay()
    assert (again.kind, again.thread, again.step, again.message) == (
        result.kind,
        result.thread,
        result.step,
        result.message,
    )


# -- failures of every kind ---------------------------------------------------------------


def fails_after_a_point() -> None:
    point("before-raising")
    raise KeyError("missing")


def test_an_exception_in_a_thread_is_reported_with_its_traceback() -> None:
    result = explore({"worker": fails_after_a_point, "bystander": lambda: point()}, schedules=5)
    assert result.failed and result.kind == "exception"
    assert result.thread == "worker"
    assert isinstance(result.exception, KeyError)
    assert result.message == "KeyError: 'missing'"
    assert result.step is not None and result.step >= 1
    assert "in fails_after_a_point" in result.traceback
    assert 'raise KeyError("missing")' in result.traceback
    assert result.traceback.startswith("Traceback (most recent call last):")
    assert "sched/_explore.py" not in result.traceback, "explore's own wrapper frame is left out"
    assert "in thread worker: KeyError" in str(result)


class TwoLocks:
    def __init__(self) -> None:
        self.a = Lock()
        self.b = Lock()


def a_then_b(state: TwoLocks) -> None:
    with state.a, state.b:
        pass


def b_then_a(state: TwoLocks) -> None:
    with state.b, state.a:
        pass


def test_opposite_lock_orders_are_reported_as_a_deadlock_naming_the_threads() -> None:
    result = explore({"ab": a_then_b, "ba": b_then_a}, setup=TwoLocks, schedules=200)
    assert result.failed and result.kind == "deadlock", result
    # Unnamed locks are numbered per schedule, so every schedule (and the replay) names them alike.
    assert "ab waits for lock 'lock-2' held by ba" in result.message
    assert "ba waits for lock 'lock-1' held by ab" in result.message
    again = result.replay()
    assert (again.kind, again.message, again.step) == (result.kind, result.message, result.step)


def test_a_check_raising_assertion_error_fails_with_its_message() -> None:
    def check(state: Counter) -> None:
        assert state.x == 2, f"x is {state.x}"

    result = explore([increment, increment], setup=Counter, check=check)
    assert result.kind == "check"
    assert result.message == "check failed: x is 1"
    assert isinstance(result.exception, AssertionError)


def test_a_thread_that_never_ends_is_a_livelock() -> None:
    def spin() -> None:
        while True:
            point("spin")

    result = explore({"spinner": spin}, max_steps=500)
    assert (result.kind, result.thread) == ("livelock", "spinner")
    assert "no end after 500 scheduling points" in result.message


def test_a_thread_blocked_outside_testbed_sched_is_a_timeout() -> None:
    never = threading.Event()
    try:
        result = explore({"stuck": lambda: never.wait(5.0)}, timeout=0.2)
    finally:
        never.set()
    assert result.kind == "timeout"
    assert "stuck" in result.message and "outside testbed.sched" in result.message


def test_a_program_that_decides_differently_on_replay_diverges() -> None:
    runs = [0]

    def setup() -> Counter:
        runs[0] += 1
        return Counter()

    def sometimes_more(state: Counter) -> None:
        increment(state)
        for _ in range(runs[0]):  # more points on every run: not a function of the schedule
            point()

    result = explore([sometimes_more, sometimes_more], setup=setup, check=exactly_two, strategy="random")
    assert result.failed
    with pytest.raises(ReplayDivergedError, match=r"replay diverged at step \d+: expected"):
        result.replay()


# -- CPU affinity -------------------------------------------------------------------------

needs_affinity = pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")


@needs_affinity
@pytest.mark.parametrize("pin_cpu", [True, False])
def test_explore_leaves_the_callers_affinity_as_it_was(pin_cpu: bool) -> None:
    before = os.sched_getaffinity(0)
    seen: list[set[int]] = []

    def record() -> None:
        seen.append(os.sched_getaffinity(0))
        raise RuntimeError("a failing run restores the mask too")

    result = explore([record], pin_cpu=pin_cpu, schedules=3)
    assert result.kind == "exception"
    assert os.sched_getaffinity(0) == before
    if pin_cpu:
        assert len(seen[0]) == 1
    else:
        assert seen[0] == before


# -- drop-in primitives -------------------------------------------------------------------


def test_unnamed_primitives_get_a_counter_name_per_kind() -> None:
    names = [Lock().name, Lock().name, RLock().name, Semaphore().name, Queue().name, Event().name]
    kinds = [re.sub(r"-\d+$", "", n) for n in names]
    assert kinds == ["lock", "lock", "rlock", "semaphore", "queue", "event"]
    assert int(names[1].rsplit("-", 1)[1]) == int(names[0].rsplit("-", 1)[1]) + 1
    assert Lock("named").name == "named"


def test_rlock_is_reentrant_and_a_condition_wait_releases_every_level() -> None:
    class State:
        def __init__(self) -> None:
            self.lock = RLock()
            self.ready = Condition(self.lock)
            self.flag = False
            self.depth_after_wait = 0

    def waiter(state: State) -> None:
        with state.lock, state.lock:  # two levels
            state.ready.wait_for(lambda: state.flag)
            state.depth_after_wait = state.lock._count
        assert not state.lock._is_owned()

    def setter(state: State) -> None:
        with state.ready:  # would block forever if the waiter still held a level
            state.flag = True
            state.ready.notify()

    captured: list[State] = []

    def setup() -> State:
        captured.append(State())
        return captured[-1]

    result = explore({"waiter": waiter, "setter": setter}, setup=setup, schedules=50)
    assert not result.failed, result
    assert all(s.depth_after_wait == 2 for s in captured)


def test_rlock_and_condition_misuse_raise_like_threading() -> None:
    lock = RLock()
    with pytest.raises(RuntimeError, match="un-acquired rlock"):
        lock.release()
    condition = Condition()
    with pytest.raises(RuntimeError, match="without holding its lock"):
        condition.notify()
    with pytest.raises(RuntimeError, match="without holding its lock"):
        condition.wait()
    with pytest.raises(TypeError, match="Lock or RLock"):
        Condition(threading.Lock())  # type: ignore[arg-type]
    assert lock.acquire() and lock.acquire(blocking=False)
    lock.release()
    lock.release()


def test_notify_wakes_one_waiter_and_notify_all_wakes_every_one() -> None:
    class State:
        def __init__(self) -> None:
            lock = Lock()
            self.cond = Condition(lock)
            self.arrived = Condition(lock)  # the notifier waits here until both wait
            self.waiting = 0
            self.woken = 0

    def waiter(state: State) -> None:
        with state.cond:
            state.waiting += 1
            state.arrived.notify()
            state.cond.wait()
            state.woken += 1

    def notify_one(state: State) -> None:
        with state.cond:
            state.arrived.wait_for(lambda: state.waiting == 2)
            state.cond.notify(1)

    result = explore({"w0": waiter, "w1": waiter, "notifier": notify_one}, setup=State, schedules=30)
    # One waiter is woken; nobody ever wakes the other: a deadlock naming it alone.
    assert result.kind == "deadlock", result
    assert result.message.count("waits for condition") == 1

    def notify_every(state: State) -> None:
        with state.cond:
            state.arrived.wait_for(lambda: state.waiting == 2)
            state.cond.notify_all()

    def both_woken(state: State) -> bool:
        return state.woken == 2

    result = explore(
        {"w0": waiter, "w1": waiter, "notifier": notify_every}, setup=State, check=both_woken, schedules=30
    )
    assert not result.failed, result


def test_event_clear_resets_the_flag_and_a_waiter_still_sees_a_set_clear_pulse() -> None:
    class State:
        def __init__(self) -> None:
            self.event = Event()
            self.returned = False

    def waiter(state: State) -> None:
        state.returned = state.event.wait()

    def pulse(state: State) -> None:
        while not state.event._lot.blocked:  # until the waiter waits (a set before that is missed)
            point("until-the-waiter-waits")
        state.event.set()
        state.event.clear()

    def check(state: State) -> bool:
        return state.returned and not state.event.is_set()

    result = explore({"waiter": waiter, "pulse": pulse}, setup=State, check=check, strategy="random", schedules=50)
    assert not result.failed, result


def test_semaphore_admits_at_most_its_value_at_once() -> None:
    class State:
        def __init__(self) -> None:
            self.slots = Semaphore(2)
            self.inside = 0
            self.most = 0

    def worker(state: State) -> None:
        with state.slots:
            state.inside += 1
            state.most = max(state.most, state.inside)
            point("inside")
            state.inside -= 1

    most: list[int] = []

    def check(state: State) -> bool:
        most.append(state.most)
        return state.most <= 2 and state.slots.value == 2

    result = explore([worker, worker, worker], setup=State, check=check, schedules=100)
    assert not result.failed, result
    assert max(most) == 2, "some schedule had two workers inside at once"


def test_semaphore_counts_and_bounds() -> None:
    semaphore = Semaphore(1)
    assert semaphore.acquire(blocking=False)
    assert not semaphore.acquire(blocking=False)
    semaphore.release(2)
    assert semaphore.value == 2
    bounded = BoundedSemaphore(1)
    bounded.acquire()
    bounded.release()
    with pytest.raises(ValueError, match="released too many times"):
        bounded.release()
    with pytest.raises(ValueError, match=">= 0"):
        Semaphore(-1)


def test_queue_producer_and_consumers_under_explore() -> None:
    class State:
        def __init__(self) -> None:
            self.queue = Queue(maxsize=2)
            self.got: list[int] = []
            self.joined = False

    def producer(state: State) -> None:
        for item in range(6):
            state.queue.put(item)
        state.queue.join()
        state.joined = True

    def consumer(state: State) -> None:
        for _ in range(3):
            state.got.append(state.queue.get())
            state.queue.task_done()

    def check(state: State) -> bool:
        return state.joined and sorted(state.got) == list(range(6)) and state.queue.empty()

    result = explore({"producer": producer, "c0": consumer, "c1": consumer}, setup=State, check=check, schedules=60)
    assert not result.failed, result


def test_queue_nowait_and_task_done_raise_like_the_standard_queue() -> None:
    q = Queue(maxsize=1)
    with pytest.raises(queue.Empty):
        q.get_nowait()
    q.put_nowait("a")
    assert (q.qsize(), q.full(), q.empty()) == (1, True, False)
    with pytest.raises(queue.Full):
        q.put_nowait("b")
    assert q.get_nowait() == "a"
    q.task_done()
    with pytest.raises(ValueError, match="task_done"):
        q.task_done()
    q.join()  # nothing unfinished: returns at once


def test_a_consumer_nobody_feeds_is_a_deadlock_naming_the_queue() -> None:
    result = explore({"consumer": lambda q: q.get()}, setup=Queue)
    assert result.kind == "deadlock"
    assert "consumer waits for condition 'queue-1.not-empty'" in result.message


# -- bad arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"threads": []}, ValueError, "threads is empty"),
        ({"threads": "ab"}, TypeError, "sequence of callables"),
        ({"threads": [1]}, TypeError, "thread 0 is not callable"),
        ({"threads": {"": increment}}, TypeError, "non-empty strings"),
        (
            {"strategy": "dfs"},
            ValueError,
            "strategy must be one of pos, pct, uniform, random, surw, portfolio or a factory",
        ),
        ({"strategy": "random", "depth": 2}, ValueError, "depth= is a parameter of strategy 'pct'"),
        ({"strategy": "pct", "depth": 0}, ValueError, "depth must be an integer of at least 1"),
        ({"strategy": "random", "p": 0}, ValueError, "p must be a probability"),
        ({"strategy": "portfolio", "power": 2}, ValueError, "power= is a parameter of strategy 'surw'"),
        ({"strategy": "surw", "power": 0}, ValueError, "power must be an integer of at least 1"),
        ({"strategy": "surw", "power": 1.5}, ValueError, "power must be an integer of at least 1"),
        ({"strategy": RandomStrategy(0)}, TypeError, "not a RandomStrategy instance"),
        ({"strategy": lambda seed: 3}, TypeError, "must return a Strategy"),
        ({"schedules": 0}, ValueError, "schedules must be at least 1"),
        ({"schedules": 1.5}, TypeError, "schedules must be an integer"),
        ({"seed": -1}, ValueError, "seed must be at least 0"),
        ({"max_steps": 0}, ValueError, "max_steps must be at least 1"),
        ({"timeout": 0}, ValueError, "timeout must be a positive number"),
        ({"setup": 3}, TypeError, "setup must be callable"),
        ({"check": "x"}, TypeError, "check must be callable"),
        ({"pin_cpu": "no"}, TypeError, "pin_cpu must be True or False"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(kwargs: dict, error: type, match: str) -> None:
    arguments = {"threads": [increment], "setup": Counter, "strategy": "random"} | kwargs
    threads = arguments.pop("threads")
    with pytest.raises(error, match=match):
        explore(threads, **arguments)


def test_the_result_type_is_exported() -> None:
    result = explore([lambda: None], schedules=1)
    assert isinstance(result, ExploreResult)
    assert (result.failed, result.schedules) == (False, 1)
