"""Checked replays (docs/design.md, 'Traces'): every tape entry records the decision,
the number of runnable threads and the thread that got the turn, and a replay
that finds anything else stops at that entry with ``ReplayDiverged``.

The scheduler records runnable counts and chosen threads run-length encoded,
and takes the zeros a strategy announces without asking it, so these tests
compare what it recorded with a witness strategy that works both out at
every single decision, over schedules with blocking, waking and ending
threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import pytest

from testbed.sched import (
    Condition,
    ControlledScheduler,
    Deadlock,
    Event,
    Lock,
    RandomStrategy,
    ReplayDiverged,
    ReplayStrategy,
    Strategy,
    decode_tape,
    encode_tape,
    point,
    running,
)

Bodies = dict[str, Callable[[], None]]


class Witness(Strategy):
    """Random decisions; logs ``(runnable, chosen thread)`` for each, worked out independently."""

    name = "witness"

    def __init__(self, seed: int) -> None:
        self.inner = RandomStrategy(seed, switch_probability=0.4)
        self.log: list[tuple[int, int]] = []

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        decision = self.inner.decide(step, runnable, current, current_runnable)
        start = list(runnable).index(current) if current_runnable else 0
        self.log.append((len(runnable), runnable[(start + decision) % len(runnable)]))
        return decision


def workload(log: list[str]) -> Bodies:
    """Four threads that contend for a lock, wait on a condition and an event, and end at different times."""
    lock, state_lock = Lock("shared"), Lock("state")
    changed = Condition(state_lock, "changed")
    done = Event("done")
    state = {"count": 0}

    def worker(name: str, rounds: int) -> Callable[[], None]:
        def body() -> None:
            for i in range(rounds):
                with lock:
                    point("inside", name)
                    log.append(f"{name}{i}")
                with state_lock:
                    state["count"] += 1
                    changed.notify_all()

        return body

    def waiter() -> None:
        with state_lock:
            changed.wait_for(lambda: state["count"] >= 12)
        log.append("waiter saw 12")
        done.set()

    def late() -> None:
        done.wait()
        for i in range(3):
            point("late")
            log.append(f"late{i}")

    return {"a": worker("a", 8), "b": worker("b", 5), "waiter": waiter, "late": late}


def recorded_run(run_threads, seed: int) -> tuple[ControlledScheduler, Witness, list[str]]:
    witness, log = Witness(seed), []
    scheduler = ControlledScheduler(witness)
    run_threads(scheduler, workload(log))
    return scheduler, witness, log


def checked(scheduler: ControlledScheduler, edit: Callable[[list[int]], None] | None = None) -> ReplayStrategy:
    """A checked replay of ``scheduler``'s recorded tape, its decisions edited by ``edit``."""
    decisions, expected = decode_tape(scheduler.recorded_tape())
    if edit is not None:
        edit(decisions)
    return ReplayStrategy(decisions, expected)


@pytest.mark.parametrize("seed", range(6))
def test_recorded_tape_is_each_decision_with_its_runnable_count_and_chosen_thread(run_threads, seed: int) -> None:
    scheduler, witness, _ = recorded_run(run_threads, seed)
    decisions, expected = decode_tape(scheduler.recorded_tape())
    assert decisions == scheduler.tape
    assert expected == witness.log
    # Not vacuous: blocking and ending changed the runnable count, and the turn moved.
    assert {n for n, _ in expected} >= {2, 3}
    assert len({t for _, t in expected}) == 4
    assert scheduler.preemptions > 0
    assert any(e[1] == "block" for e in scheduler.events) and any(e[1] == "wake" for e in scheduler.events)


def test_recorded_tape_is_run_length_encoded(run_threads) -> None:
    scheduler, _, _ = recorded_run(run_threads, 0)
    runs = scheduler.recorded_tape()
    decisions, expected = decode_tape(runs)
    assert runs == encode_tape((d, n, t) for d, (n, t) in zip(decisions, expected, strict=True))
    assert all(repeat >= 1 for *_, repeat in runs)


@pytest.mark.parametrize("seed", range(3))
def test_checked_replay_of_a_recorded_tape_follows_it_without_divergence(run_threads, seed: int) -> None:
    recorded, _, log = recorded_run(run_threads, seed)
    replayed_log: list[str] = []
    replayed = ControlledScheduler(checked(recorded))
    run_threads(replayed, workload(replayed_log))
    assert replayed.divergence() is None
    assert replayed_log == log
    assert replayed.recorded_tape() == recorded.recorded_tape()
    assert replayed.events == recorded.events


def flip(entry: int, runnable: int) -> Callable[[list[int]], None]:
    def edit(decisions: list[int]) -> None:
        decisions[entry] = (decisions[entry] + 1) % runnable

    return edit


def test_a_flipped_decision_stops_the_replay_at_that_entry_in_the_running_thread(run_threads) -> None:
    recorded, _, _ = recorded_run(run_threads, 1)
    _, expected = decode_tape(recorded.recorded_tape())
    # A decision taken at a point (not the first turn, entry 0).
    entry = 7
    runnable, thread = expected[entry]
    replayed = ControlledScheduler(checked(recorded, flip(entry, runnable)))
    errors = run_threads(replayed, workload([]), expect_errors=True)
    # Only the running thread stops with the divergence; a thread that waited
    # for the stopped one's work may be left deadlocked, a consequence.
    diverged = {name: error for name, error in errors.items() if not isinstance(error, Deadlock)}
    assert len(diverged) == 1, errors
    ((raised_in, halt),) = diverged.items()
    assert isinstance(halt, ReplayDiverged) and halt is replayed.divergence()
    assert halt.entry == entry
    assert halt.expected == (runnable, thread)
    assert halt.found is not None and halt.found[0] == runnable and halt.found[1] != thread
    names = ["a", "b", "waiter", "late"]
    assert str(halt) == (
        f"diverged at step {halt.step}: expected {runnable} runnable / thread {names[thread]}, "
        f"found {runnable} runnable / thread {names[halt.found[1]]} (tape entry {entry})"
    )
    # Raised where the replay noticed: at the point of the thread that held the turn.
    assert raised_in in names
    # Past the divergence nothing is checked and every decision keeps the current thread.
    assert replayed.tape[:entry] == recorded.tape[:entry]
    assert not any(replayed.tape[entry:])


def test_a_divergence_at_the_first_turn_is_raised_at_the_first_point(run_threads) -> None:
    recorded, _, _ = recorded_run(run_threads, 2)
    _, expected = decode_tape(recorded.recorded_tape())
    replayed = ControlledScheduler(checked(recorded, flip(0, expected[0][0])))
    # launch() runs in this (the main) thread, with no model code to raise into.
    errors = run_threads(replayed, workload([]), expect_errors=True)
    # After the divergence the replay decides 0: the first runnable thread, a, has
    # the turn.  (Without an isolate to abort the run, the waiters a left behind
    # end in a deadlock.)
    halt = errors.pop("a")
    assert all(isinstance(error, Deadlock) for error in errors.values()), errors
    assert isinstance(halt, ReplayDiverged) and (halt.entry, halt.step) == (0, 0)
    assert halt is replayed.divergence()


def test_a_tape_cut_short_diverges_where_the_run_wants_one_decision_more(run_threads) -> None:
    recorded, _, _ = recorded_run(run_threads, 3)
    decisions, expected = decode_tape(recorded.recorded_tape())
    cut = len(decisions) // 2
    replayed = ControlledScheduler(ReplayStrategy(decisions[:cut], expected[:cut]))
    run_threads(replayed, workload([]), expect_errors=True)
    halt = replayed.divergence()
    assert halt is not None and (halt.entry, halt.expected) == (cut, None)
    assert f"expected the tape's end ({cut} decisions), found {expected[cut][0]} runnable" in str(halt)


def test_a_tape_longer_than_the_run_diverges_at_the_run_end(run_threads) -> None:
    recorded, _, _ = recorded_run(run_threads, 4)
    decisions, expected = decode_tape(recorded.recorded_tape())
    replayed = ControlledScheduler(ReplayStrategy([*decisions, 0], [*expected, (2, 0)]))
    errors = run_threads(replayed, workload([]))
    assert errors == {}
    halt = replayed.divergence()
    assert halt is not None
    assert (halt.entry, halt.expected, halt.found) == (len(decisions), (2, 0), None)
    assert str(halt).endswith(f"expected 2 runnable / thread a, found the run's end (tape entry {len(decisions)})")


def test_a_halt_that_escapes_a_thread_body_ends_the_thread_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    """A point outside the model's top-level handler: the scheduler keeps the halt, no traceback is printed."""
    dead: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: dead.append(args.exc_value))
    tape = [0, 0, 0]
    replayed = ControlledScheduler(ReplayStrategy(tape, [(2, 0), (2, 0), (2, 1)]))  # the third is wrong

    def body() -> None:
        for _ in range(5):
            point("bare")

    with running(replayed):
        threads = [replayed.spawn(name, body) for name in ("a", "b")]
        replayed.launch()
        for thread in threads:
            thread.join(10.0)
    assert not any(t.is_alive() for t in threads)
    assert dead == []
    halt = replayed.divergence()
    assert halt is not None and halt.entry == 2
    assert "expected 2 runnable / thread b, found 2 runnable / thread a" in str(halt)


def test_expectations_must_match_the_tape_length() -> None:
    with pytest.raises(ValueError, match="2 expectations for a tape of 3 decisions"):
        ReplayStrategy([0, 1, 0], [(2, 0), (2, 1)])


def test_a_tape_without_expectations_is_never_checked(run_threads) -> None:
    recorded, _, _ = recorded_run(run_threads, 5)
    decisions = [(d + 1) % 2 for d in recorded.tape] + [1] * 50  # another schedule, and too long
    replayed = ControlledScheduler(ReplayStrategy(decisions))
    assert run_threads(replayed, workload([])) == {}
    assert replayed.divergence() is None
