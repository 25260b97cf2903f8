"""Points below the horizon: the zeros a strategy announces are taken without asking it.

A strategy that says how many of its coming decisions are 0
(``Strategy.quiet``) lets the scheduler pass those points with a counter
increment; the decisions still count, as zeros on the tape, and the
strategy hears of them (``skip``).  None of that may change a schedule:
each strategy run with its announcements must give exactly the run it gives
when asked at every decision (tape, events, what the threads did).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from testbed.sched import (
    ControlledScheduler,
    NoPreemptionStrategy,
    PCTStrategy,
    RandomStrategy,
    ReplayStrategy,
    Strategy,
    decode_tape,
)
from tests.sched.test_replay_checks import workload


class Asked(Strategy):
    """``inner``, counting the questions the scheduler asks it.

    With ``announce=False`` its announcements are hidden (``quiet`` is 0):
    the scheduler asks at every decision.
    """

    def __init__(self, inner: Strategy, announce: bool) -> None:
        self.inner = inner
        self.name = inner.name
        self.announce = announce
        self.asked = 0

    def register(self, index: int) -> None:
        self.inner.register(index)

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        self.asked += 1
        return self.inner.decide(step, runnable, current, current_runnable)

    def quiet(self, step: int, runnable: Sequence[int], current: int) -> int:
        return self.inner.quiet(step, runnable, current) if self.announce else 0

    def skip(self, count: int) -> None:
        self.inner.skip(count)


def run(run_threads, strategy: Strategy) -> tuple[ControlledScheduler, list[str]]:
    log: list[str] = []
    scheduler = ControlledScheduler(strategy)
    run_threads(scheduler, workload(log))
    return scheduler, log


def recorded_replay(run_threads, checked: bool) -> Callable[[], Strategy]:
    """A replay of a random run's tape, checked against its expectations or not."""
    recorded, _ = run(run_threads, RandomStrategy(5, switch_probability=0.05))
    decisions, expected = decode_tape(recorded.recorded_tape())
    return lambda: ReplayStrategy(decisions, expected if checked else None)


STRATEGIES: dict[str, Callable[[int], Strategy]] = {
    "random": lambda seed: RandomStrategy(seed),
    "random-rare": lambda seed: RandomStrategy(seed, switch_probability=0.01),
    "random-always": lambda seed: RandomStrategy(seed, switch_probability=1.0),
    "pct": lambda seed: PCTStrategy(seed, depth=3, horizon=150),
    "pct-deep": lambda seed: PCTStrategy(seed, depth=6, horizon=80),
    "no-preemption": lambda seed: NoPreemptionStrategy(),
}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_announced_zeros_give_the_schedule_asking_every_time_gives(run_threads, name: str, seed: int) -> None:
    asked_always = Asked(STRATEGIES[name](seed), announce=False)
    slow, slow_log = run(run_threads, asked_always)
    counting = Asked(STRATEGIES[name](seed), announce=True)
    fast, fast_log = run(run_threads, counting)
    assert fast.recorded_tape() == slow.recorded_tape()
    assert fast.events == slow.events
    assert fast_log == slow_log
    assert fast.decisions == slow.decisions == asked_always.asked
    assert fast.steps == slow.steps
    if name != "random-always":
        # Not vacuous: decisions were taken without a question (this workload
        # blocks and wakes often, and every change of the runnable set asks).
        assert counting.asked < asked_always.asked, (counting.asked, asked_always.asked)


@pytest.mark.parametrize("checked", [True, False], ids=["checked", "unchecked"])
def test_a_replay_skipping_its_zero_runs_follows_the_tape_exactly(run_threads, checked: bool) -> None:
    make = recorded_replay(run_threads, checked)
    slow, slow_log = run(run_threads, Asked(make(), announce=False))
    counting = Asked(make(), announce=True)
    fast, fast_log = run(run_threads, counting)
    assert fast.divergence() is None and slow.divergence() is None
    assert fast.recorded_tape() == slow.recorded_tape()
    assert fast.events == slow.events and fast_log == slow_log
    assert counting.asked < fast.decisions / 2


def test_a_replay_that_leaves_its_tape_mid_run_is_still_stopped_at_the_entry(run_threads) -> None:
    """A zero run cut short in the replayed tape: the first decision past it is asked and checked."""
    recorded, _ = run(run_threads, RandomStrategy(5, switch_probability=0.05))
    decisions, expected = decode_tape(recorded.recorded_tape())
    # The first long run of zeros that keeps one thread: expect another thread in its middle.
    runs = recorded.recorded_tape()
    start = 0
    for decision, _, _, repeat in runs:
        if decision == 0 and repeat >= 6:
            break
        start += repeat
    else:
        pytest.fail(f"no long zero run in {runs}")
    entry = start + 3
    runnable, thread = expected[entry]
    expected[entry] = (runnable, (thread + 1) % 4)
    scheduler = ControlledScheduler(ReplayStrategy(decisions, expected))
    run_threads(scheduler, workload([]), expect_errors=True)
    halt = scheduler.divergence()
    assert halt is not None and halt.entry == entry
    assert halt.expected == (runnable, (thread + 1) % 4) and halt.found == (runnable, thread)
