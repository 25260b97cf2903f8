"""LifoQueue, PriorityQueue, SimpleQueue, Timer and Barrier's reset/abort as drop-ins (issue 10, item 6).

Each behaviour is run three ways where it can be: with the standard
library's class on plain threads (``stdlib``), and with testbed.sched's
under a FreeScheduler (``free``) and under a ControlledScheduler
(``controlled``, a fixed seed: one exact interleaving), and the outcomes
must agree.  Then, where a bug with the primitive is natural, explore()
finds it and its replay fails the same way at the same step, and the fixed
program passes every schedule.
"""

from __future__ import annotations

import queue
import threading
import time
import types
from collections.abc import Callable

import pytest

import testbed.sched as sched
from testbed.sched import (
    Barrier,
    BrokenBarrierError,
    ControlledScheduler,
    Event,
    FreeScheduler,
    LifoQueue,
    Lock,
    NoPreemptionStrategy,
    PriorityQueue,
    RandomStrategy,
    SimpleQueue,
    Timer,
    WaitTimeout,
    explore,
    point,
)

MODES = ["stdlib", "free", "controlled"]
#: free-mode waits that must not time out
LONG = 5.0
#: free-mode waits that must
SHORT = 0.05

STDLIB = types.SimpleNamespace(
    Barrier=threading.Barrier,
    Timer=threading.Timer,
    Event=threading.Event,
    Queue=queue.Queue,
    LifoQueue=queue.LifoQueue,
    PriorityQueue=queue.PriorityQueue,
    SimpleQueue=queue.SimpleQueue,
)


def impl(mode: str) -> types.SimpleNamespace | types.ModuleType:
    return STDLIB if mode == "stdlib" else sched


def run_in(mode: str, run_threads, bodies: dict[str, Callable[[], None]], seed: int = 0) -> dict[str, BaseException]:
    """Run ``bodies`` as threads; what each raised, by name."""
    if mode == "stdlib":
        errors: dict[str, BaseException] = {}

        def guarded(name: str, body: Callable[[], None]) -> None:
            try:
                body()
            except BaseException as error:  # recorded for the test
                errors[name] = error

        threads = [threading.Thread(target=guarded, args=(n, b), name=n, daemon=True) for n, b in bodies.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(LONG)
        assert not any(t.is_alive() for t in threads)
        return errors
    scheduler = (
        ControlledScheduler(RandomStrategy(seed, switch_probability=0.5))
        if mode == "controlled"
        else FreeScheduler(seed, yield_probability=0.5, wait_timeout=LONG)
    )
    return run_threads(scheduler, bodies, expect_errors=True)


def until(predicate: Callable[[], object]) -> None:
    """Poll (bounded) until ``predicate()``: a point lets a controlled scheduler run the others."""
    deadline = time.monotonic() + LONG
    while not predicate():
        assert time.monotonic() < deadline, "the awaited state never came"
        point("poll")
        time.sleep(0.0005)


# -- queues: the standard library's semantics ---------------------------------------------

KINDS = ["Queue", "LifoQueue", "PriorityQueue", "SimpleQueue"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_queue_kind_gets_in_the_order_the_stdlib_one_does(kind: str) -> None:
    def script(q) -> list[object]:
        seen: list[object] = [q.empty(), q.qsize()]
        for item in (3, 1, 2, 5, 4):
            q.put(item)
        seen += [q.empty(), q.qsize()]
        seen += [q.get(), q.get_nowait(), q.get(block=False), q.get(timeout=1.0), q.get()]
        with pytest.raises(queue.Empty):
            q.get_nowait()
        with pytest.raises(queue.Empty):
            q.get(block=False)
        return seen

    ours, theirs = script(getattr(sched, kind)()), script(getattr(queue, kind)())
    assert ours == theirs
    assert (
        ours[4:]
        == {
            "Queue": [3, 1, 2, 5, 4],
            "SimpleQueue": [3, 1, 2, 5, 4],
            "LifoQueue": [4, 5, 2, 1, 3],
            "PriorityQueue": [1, 2, 3, 4, 5],
        }[kind]
    )


@pytest.mark.parametrize("kind", ["Queue", "LifoQueue", "PriorityQueue"])
def test_bounded_kinds_raise_full_and_count_tasks_like_the_stdlib(kind: str) -> None:
    def script(q) -> list[object]:
        q.put_nowait(2)
        q.put(1, block=False)
        with pytest.raises(queue.Full):
            q.put_nowait(3)
        with pytest.raises(queue.Full):
            q.put(3, block=False)
        seen: list[object] = [q.full(), q.qsize(), q.unfinished_tasks, q.get(), q.full()]
        q.task_done()
        seen.append(q.unfinished_tasks)
        q.get()
        q.task_done()
        q.join()  # nothing unfinished: returns at once
        with pytest.raises(ValueError, match="task_done"):
            q.task_done()
        return seen

    assert script(getattr(sched, kind)(maxsize=2)) == script(getattr(queue, kind)(maxsize=2))


@pytest.mark.parametrize("kind", KINDS)
def test_a_negative_timeout_of_a_blocking_call_is_a_value_error_like_the_stdlib(kind: str) -> None:
    bounded = kind != "SimpleQueue"
    for module in (sched, queue):
        cls = getattr(module, kind)
        q = cls(maxsize=1) if bounded else cls()
        if bounded:
            with pytest.raises(ValueError, match="non-negative"):
                q.put(1, timeout=-1)
            cls().put(1, timeout=-1)  # unbounded: a put never waits, the timeout is not looked at
        q.put(1, block=False, timeout=-1)  # not blocking: the timeout is ignored
        with pytest.raises(ValueError, match="non-negative"):
            q.get(timeout=-1)
        assert q.get(block=False, timeout=-1) == 1
        if not bounded:
            q.put(1, timeout=-1)  # a SimpleQueue's put never blocks: ignored


def test_simple_queue_has_no_bound_or_task_accounting_and_is_not_a_queue() -> None:
    for module in (sched, queue):
        simple = module.SimpleQueue()
        assert not isinstance(simple, module.Queue)
        for missing in ("task_done", "join", "full", "maxsize"):
            assert not hasattr(simple, missing), f"{module.__name__}.SimpleQueue.{missing}"
        assert isinstance(module.LifoQueue(), module.Queue)
        assert isinstance(module.PriorityQueue(), module.Queue)
        assert module.SimpleQueue[int] is not None  # generic, as the standard ones
    names = [LifoQueue().name, PriorityQueue().name, SimpleQueue().name, LifoQueue().name]
    assert names[0].startswith("lifo-queue-") and names[1].startswith("priority-queue-")
    assert names[2].startswith("simple-queue-") and names[3] != names[0]
    with pytest.raises(TypeError, match="maxsize must be an integer"):
        LifoQueue(maxsize=1.5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", MODES)
def test_each_queue_kind_hands_every_item_from_producers_to_consumers(run_threads, mode: str, kind: str) -> None:
    module = impl(mode)
    cls = getattr(module, kind)
    q = cls() if kind == "SimpleQueue" else cls(maxsize=2)
    got: list[int] = []

    def producer(first: int) -> None:
        for item in range(first, first + 4):
            q.put(item)

    def consumer() -> None:
        for _ in range(4):
            got.append(q.get(timeout=LONG))

    errors = run_in(
        mode, run_threads, {"p0": lambda: producer(0), "p1": lambda: producer(10), "c0": consumer, "c1": consumer}
    )
    assert not errors
    assert sorted(got) == [0, 1, 2, 3, 10, 11, 12, 13]


@pytest.mark.parametrize("kind", ["LifoQueue", "PriorityQueue", "SimpleQueue"])
def test_a_get_nobody_feeds_is_a_deadlock_naming_the_queue(kind: str) -> None:
    result = explore({"consumer": lambda q: q.get()}, setup=getattr(sched, kind))
    assert result.kind == "deadlock"
    prefix = {"LifoQueue": "lifo-queue", "PriorityQueue": "priority-queue", "SimpleQueue": "simple-queue"}[kind]
    assert f"consumer waits for condition '{prefix}-1.not-empty'" in result.message


# -- queues: bugs explore finds -------------------------------------------------------------


class Jobs:
    """Three jobs, a producer, a consumer and a stopper that sends the stop sentinel once the producer is done."""

    def __init__(self, kind: str, stop_priority: int = 0) -> None:
        self.kind = kind
        self.queue = getattr(sched, kind)()
        self.produced = Event()
        self.processed: list[int] = []
        self.stop: object = None if kind == "LifoQueue" else (stop_priority, None)

    def item(self, job: int) -> object:
        return job if self.kind == "LifoQueue" else (1, job)

    def is_stop(self, item: object) -> bool:
        return item == self.stop


def consumer(jobs: Jobs) -> None:
    while not jobs.is_stop(item := jobs.queue.get()):
        jobs.processed.append(item if jobs.kind == "LifoQueue" else item[1])


def producer(jobs: Jobs) -> None:
    for job in range(3):
        jobs.queue.put(jobs.item(job))
    jobs.produced.set()


def stopper(jobs: Jobs) -> None:
    jobs.produced.wait()
    jobs.queue.put(jobs.stop)  # every job is queued, so this is "after the work": not for a LIFO or a heap


def all_processed(jobs: Jobs) -> bool:
    return sorted(jobs.processed) == [0, 1, 2]


@pytest.mark.parametrize("kind", ["LifoQueue", "PriorityQueue"])
def test_a_stop_sentinel_that_overtakes_queued_work_is_found_and_replayed(kind: str) -> None:
    threads = {"consumer": consumer, "producer": producer, "stopper": stopper}
    result = explore(threads, setup=lambda: Jobs(kind), check=all_processed, schedules=200)
    assert result.failed and result.kind == "check", result
    assert result.schedule, "the probe (consumer drains before the stop is sent) passes"
    again = result.replay()
    assert (again.kind, again.step, again.message, again.tape) == (
        result.kind,
        result.step,
        result.message,
        result.tape,
    )


def test_a_stop_sentinel_with_the_lowest_priority_loses_no_work() -> None:
    threads = {"consumer": consumer, "producer": producer, "stopper": stopper}
    result = explore(threads, setup=lambda: Jobs("PriorityQueue", stop_priority=9), check=all_processed, schedules=150)
    assert not result.failed, result


class Tokens:
    def __init__(self, locked: bool) -> None:
        self.queue = SimpleQueue()
        self.lock = Lock() if locked else None


def put_token_once(state: Tokens) -> None:
    if state.lock is None:
        if state.queue.empty():  # check, then act: another thread may put in between
            state.queue.put("token")
        return
    with state.lock:
        if state.queue.empty():
            state.queue.put("token")


def one_token(state: Tokens) -> bool:
    return state.queue.qsize() == 1


def test_a_check_then_put_on_a_simple_queue_is_found_and_replayed() -> None:
    result = explore([put_token_once, put_token_once], setup=lambda: Tokens(False), check=one_token, schedules=200)
    assert result.failed and result.kind == "check", result
    again = result.replay()
    assert (again.kind, again.step, again.tape) == (result.kind, result.step, result.tape)
    fixed = explore([put_token_once, put_token_once], setup=lambda: Tokens(True), check=one_token, schedules=150)
    assert not fixed.failed, fixed


# -- Barrier: threading.Barrier's semantics -------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_barrier_action_runs_once_per_round_before_anyone_leaves(run_threads, mode: str) -> None:
    log: list[tuple[str, int]] = []
    rounds = [0]

    def action() -> None:
        log.append(("action", rounds[0]))
        rounds[0] += 1

    barrier = impl(mode).Barrier(3, action)
    indices: dict[int, list[int]] = {0: [], 1: []}

    def party(name: str) -> None:
        for rnd in (0, 1):
            log.append(("arrive", rnd))
            indices[rnd].append(barrier.wait(timeout=LONG))
            log.append(("leave", rnd))

    errors = run_in(mode, run_threads, {n: (lambda n=n: party(n)) for n in ("a", "b", "c")})
    assert not errors
    for rnd in (0, 1):
        at = [i for i, entry in enumerate(log) if entry[1] == rnd]
        kinds = [log[i][0] for i in at]
        assert kinds == ["arrive"] * 3 + ["action"] + ["leave"] * 3, (rnd, log)
        assert sorted(indices[rnd]) == [0, 1, 2]
    assert (barrier.broken, barrier.n_waiting, barrier.parties) == (False, 0, 3)


@pytest.mark.parametrize("mode", MODES)
def test_barrier_abort_breaks_it_for_waiting_and_later_parties_until_reset(run_threads, mode: str) -> None:
    barrier = impl(mode).Barrier(3)
    outcome: dict[str, str] = {}

    def waiter(name: str) -> None:
        try:
            barrier.wait(timeout=LONG)
            outcome[name] = "released"
        except threading.BrokenBarrierError:
            outcome[name] = "broken"

    def aborter() -> None:
        until(lambda: barrier.n_waiting == 2)
        barrier.abort()

    errors = run_in(mode, run_threads, {"w1": lambda: waiter("w1"), "w2": lambda: waiter("w2"), "aborter": aborter})
    assert not errors
    assert outcome == {"w1": "broken", "w2": "broken"}
    assert barrier.broken and barrier.n_waiting == 0
    with pytest.raises(threading.BrokenBarrierError):
        barrier.wait()
    barrier.reset()
    assert not barrier.broken

    # whole again: three parties pass it
    errors = run_in(mode, run_threads, {n: (lambda n=n: waiter(n)) for n in ("p1", "p2", "p3")})
    assert not errors
    assert [outcome[n] for n in ("p1", "p2", "p3")] == ["released"] * 3


@pytest.mark.parametrize("mode", MODES)
def test_barrier_reset_breaks_the_waiting_round_and_leaves_it_usable(run_threads, mode: str) -> None:
    barrier = impl(mode).Barrier(3)
    outcome: dict[str, str] = {}

    def waiter(name: str) -> None:
        try:
            outcome[name] = f"released {barrier.wait(timeout=LONG)}"
        except threading.BrokenBarrierError:
            outcome[name] = "broken"

    def resetter() -> None:
        until(lambda: barrier.n_waiting == 2)
        barrier.reset()
        outcome["after reset"] = f"broken={barrier.broken} waiting={barrier.n_waiting}"

    errors = run_in(mode, run_threads, {"w1": lambda: waiter("w1"), "w2": lambda: waiter("w2"), "resetter": resetter})
    assert not errors
    assert outcome == {"w1": "broken", "w2": "broken", "after reset": "broken=False waiting=0"}


@pytest.mark.parametrize("mode", MODES)
def test_a_failing_action_raises_in_its_thread_and_breaks_the_barrier_for_the_others(run_threads, mode: str) -> None:
    def action() -> None:
        raise KeyError("action failed")

    barrier = impl(mode).Barrier(3, action)
    outcome: dict[str, str] = {}

    def party(name: str) -> None:
        try:
            barrier.wait(timeout=LONG)
            outcome[name] = "released"
        except threading.BrokenBarrierError:
            outcome[name] = "broken"
        except KeyError:
            outcome[name] = "ran the failing action"

    errors = run_in(mode, run_threads, {n: (lambda n=n: party(n)) for n in ("a", "b", "c")})
    assert not errors
    assert sorted(outcome.values()) == ["broken", "broken", "ran the failing action"]
    assert barrier.broken


def test_a_free_waiter_out_of_patience_breaks_the_barrier_for_the_others(run_threads) -> None:
    barrier = Barrier(3)
    outcome: dict[str, str] = {}

    def impatient() -> None:
        try:
            barrier.wait(timeout=SHORT)
        except WaitTimeout:
            outcome["impatient"] = "timed out"

    def patient() -> None:
        until(lambda: "impatient" in outcome or barrier.broken)
        try:
            barrier.wait(timeout=LONG)
        except BrokenBarrierError:
            outcome["patient"] = "broken"

    scheduler = FreeScheduler(0, yield_probability=0.0, wait_timeout=SHORT)
    assert not run_threads(scheduler, {"impatient": impatient, "patient": patient}, expect_errors=True)
    assert outcome == {"impatient": "timed out", "patient": "broken"}
    assert barrier.broken


def test_barrier_arguments_are_threadings_and_the_name_is_keyword_only() -> None:
    assert BrokenBarrierError is threading.BrokenBarrierError
    assert Barrier(2, name="phase").name == "phase"
    assert Barrier(2, "phase").name == "phase"  # the model's older form: a string is never an action
    assert Barrier(2).name.startswith("barrier-")
    with pytest.raises(TypeError, match="two names"):
        Barrier(2, "a", name="b")
    with pytest.raises(TypeError, match="action must be callable"):
        Barrier(2, 3)
    for parties in (0, -1, True, 2.0):
        with pytest.raises(ValueError, match="one or more parties"):
            Barrier(parties)
    assert repr(Barrier(2, name="b")) == "<testbed.sched.Barrier 'b' waiters=0/2>"


# -- Barrier: a bug explore finds -----------------------------------------------------------


class Sums:
    """Two workers, two rounds: each writes its partial into a shared buffer, one of them adds the buffer up."""

    def __init__(self, with_action: bool) -> None:
        self.partial = [0, 0]
        self.totals: list[int] = []
        self.with_action = with_action
        self.barrier = Barrier(2, self.add_up if with_action else None)

    def add_up(self) -> None:
        self.totals.append(sum(self.partial))


def summing_worker(state: Sums, me: int) -> None:
    for rnd in (1, 2):
        state.partial[me] = rnd * 10 + me
        if state.barrier.wait() == 0 and not state.with_action:
            # Adds up after the barrier: the other worker may already be writing the next round.
            point("read-partials")
            state.add_up()


def right_totals(state: Sums) -> bool:
    return state.totals == [21, 41]


def test_adding_up_after_a_barrier_without_a_second_one_is_found_and_replayed() -> None:
    threads = {"w0": lambda s: summing_worker(s, 0), "w1": lambda s: summing_worker(s, 1)}
    result = explore(threads, setup=lambda: Sums(False), check=right_totals, schedules=200)
    assert result.failed and result.kind == "check", result
    again = result.replay()
    assert (again.kind, again.step, again.tape) == (result.kind, result.step, result.tape)
    # The barrier's action adds up while every worker is still inside: no schedule fails.
    fixed = explore(threads, setup=lambda: Sums(True), check=right_totals, schedules=150)
    assert not fixed.failed, fixed


# -- Timer: threading.Timer's semantics -----------------------------------------------------


@pytest.mark.parametrize("mode", ["stdlib", "ours"])
def test_a_timer_fires_after_its_interval_and_a_cancel_before_stops_it(mode: str) -> None:
    cls = threading.Timer if mode == "stdlib" else Timer
    fired: list[str] = []
    started = time.monotonic()
    timer = cls(0.05, fired.append, args=("late",))
    assert not timer.is_alive()
    timer.start()
    timer.join(LONG)
    elapsed = time.monotonic() - started
    assert fired == ["late"] and 0.05 <= elapsed < 2.0
    assert timer.finished.is_set() and not timer.is_alive()

    started = time.monotonic()
    timer = cls(30.0, fired.append, kwargs={"object": "never"})
    timer.start()
    assert timer.is_alive()
    timer.cancel()
    timer.join(LONG)
    assert fired == ["late"] and time.monotonic() - started < 2.0, "a cancel wakes the sleeping timer"
    assert not timer.is_alive()
    with pytest.raises(RuntimeError, match="once"):
        timer.start()


def test_a_free_timer_in_a_free_run_fires_and_its_function_passes_points(run_threads) -> None:
    fired = Event()
    out: list[int] = []

    def body() -> None:
        timer = Timer(0.02, lambda: (point("in-timer"), out.append(1), fired.set()))
        timer.start()
        fired.wait(timeout=LONG)
        timer.join(timeout=LONG)

    run_threads(FreeScheduler(0, wait_timeout=LONG), {"body": body})
    assert out == [1]


def test_timer_misuse_is_refused_like_threading() -> None:
    timer = Timer(1.0, print)
    with pytest.raises(RuntimeError, match="before it is started"):
        timer.join()
    with pytest.raises(TypeError, match="interval must be a number"):
        Timer("1", print)
    with pytest.raises(ValueError, match="finite"):
        Timer(float("inf"), print)
    with pytest.raises(TypeError, match="must be callable"):
        Timer(1.0, "print")
    selfish = Timer(0.0, lambda: selfish.join())
    errors: list[BaseException] = []
    hook, threading.excepthook = threading.excepthook, lambda args: errors.append(args.exc_value)
    try:
        selfish.start()
        selfish.join(LONG)
    finally:
        threading.excepthook = hook
    assert len(errors) == 1 and "cannot join itself" in str(errors[0])
    assert repr(Timer(1.5, print, name="t")) == "<testbed.sched.Timer 't' initial, interval 1.5s>"


# -- Timer under control: the interval is the schedule's choice ----------------------------


def start_then_cancel(fired: list[str]) -> Callable[[], None]:
    def body() -> None:
        timer = Timer(3600.0, fired.append, args=("fired",))
        timer.start()
        point("work")
        timer.cancel()
        timer.join()

    return body


def test_under_control_a_cancel_before_the_timers_turn_wins(run_threads) -> None:
    # Never preempting, the starter runs on to its cancel: the timer, runnable all along, sees it.
    fired: list[str] = []
    run_threads(ControlledScheduler(NoPreemptionStrategy()), {"w": start_then_cancel(fired)})
    assert fired == []


def test_under_control_a_thread_waiting_for_the_timer_gives_it_the_turn_at_once(run_threads) -> None:
    # An hour's interval, but nothing else can run: the timer fires now, no wall time passes.
    fired = Event()
    started = time.monotonic()

    def body() -> None:
        timer = Timer(3600.0, fired.set)
        timer.start()
        fired.wait()
        timer.join()

    run_threads(ControlledScheduler(NoPreemptionStrategy()), {"body": body})
    assert fired.is_set() and time.monotonic() - started < 2.0


def test_under_control_whether_a_cancel_wins_is_a_function_of_the_seed(run_threads) -> None:
    outcomes: dict[int, list[str]] = {}
    for seed in range(12):
        runs = []
        for _ in range(2):
            fired: list[str] = []
            run_threads(
                ControlledScheduler(RandomStrategy(seed, switch_probability=0.5)), {"w": start_then_cancel(fired)}
            )
            runs.append(fired)
        assert runs[0] == runs[1], f"seed {seed}: {runs}"
        outcomes[seed] = runs[0]
    assert {tuple(o) for o in outcomes.values()} == {(), ("fired",)}, "both outcomes occur across seeds"


# -- Timer: a bug explore finds -------------------------------------------------------------


class Job:
    """A job with a watchdog: if it takes too long, the watchdog aborts it."""

    def __init__(self, decided: bool) -> None:
        self.aborted = False
        self.committed = False
        self.lock = Lock() if decided else None

    def abort(self) -> None:
        if self.lock is None:
            self.aborted = True
            return
        with self.lock:
            if not self.committed:
                self.aborted = True


def guarded_job(job: Job) -> None:
    watchdog = Timer(1.0, job.abort)
    watchdog.start()
    point("work")
    point("more-work")
    watchdog.cancel()
    if job.lock is None:
        # The bug: trusting that cancel() means the watchdog did not (and will not) fire.
        assert not job.aborted, "committing a job the watchdog aborted"
        job.committed = True
    else:
        with job.lock:
            if not job.aborted:
                job.committed = True
    watchdog.join()


def committed_xor_aborted(job: Job) -> bool:
    return job.committed != job.aborted


def test_trusting_cancel_to_beat_a_watchdog_timer_is_found_and_replayed() -> None:
    result = explore([guarded_job], setup=lambda: Job(False), check=committed_xor_aborted, schedules=100)
    assert result.failed and result.kind == "exception", result
    assert result.message == "AssertionError: committing a job the watchdog aborted"
    assert result.threads == ["guarded_job", "timer-1"], "the timer's thread is steered, and named per schedule"
    for _ in range(2):
        again = result.replay()
        assert (again.kind, again.step, again.thread, again.tape) == (
            result.kind,
            result.step,
            result.thread,
            result.tape,
        )
    fixed = explore([guarded_job], setup=lambda: Job(True), check=committed_xor_aborted, schedules=100)
    assert not fixed.failed, fixed


def test_the_new_drop_ins_are_exported() -> None:
    for name in ("LifoQueue", "PriorityQueue", "SimpleQueue", "Timer", "BrokenBarrierError", "Barrier", "Queue"):
        assert name in sched.__all__ and getattr(sched, name) is not None
