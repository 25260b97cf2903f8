"""Hypothesis strategies for configurations and schedules, and a state machine.

``schedules()`` draws a decision tape as a short list of preemptions, each
"keep running for ``gap`` decisions, then switch to the ``choice``-th other
thread".  Hypothesis shrinks such a list by dropping preemptions and
shortening gaps, so a failing ``@given`` test ends on the fewest, earliest
thread switches that still break the invariant: the minimal schedule.
A drawn tape is a plain list of decisions, so ``testbed.run`` replays it
unchecked (any list is a schedule); the trace of that run records the full
tape with each decision's expectations, and replays of it are checked.

    import testbed
    from hypothesis import given, settings
    from testbed.strategies import configs, schedules

    @settings(deadline=None)  # a schedule can take longer than the default 200 ms
    @given(config=configs(scenarios=["store-buffer-storm"], ops=300), tape=schedules())
    def test_remset_stays_complete(config, tape):
        assert testbed.run(config, tape=tape).ok

``ModelMachine`` is a ``RuleBasedStateMachine`` over one mutator's
operations (allocate, folded groups, store, load, layout changes, scopes,
scavenge) on a checked isolate, for finding single-threaded collector bugs
with Hypothesis's stateful testing; run it with ``ModelMachine.TestCase``
(a subclass may set ``faults``).
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from testbed.check import Checker
from testbed.faults import validate_faults
from testbed.gc import SerialScavenger
from testbed.heap import Handle
from testbed.runtime import Config, Isolate
from testbed.scenarios import SCENARIOS, scenario_config

__all__ = ["ModelMachine", "configs", "schedules", "tape_from_preemptions"]


def tape_from_preemptions(preemptions: Sequence[tuple[int, int]]) -> list[int]:
    """The tape for "``gap`` zeros, then ``choice``" for each (gap, choice)."""
    tape: list[int] = []
    for gap, choice in preemptions:
        tape.extend([0] * gap)
        tape.append(choice)
    return tape


def schedules(max_preemptions: int = 24, max_gap: int = 2000, max_choice: int = 3) -> st.SearchStrategy[list[int]]:
    """Decision tapes with at most ``max_preemptions`` thread switches."""
    preemption = st.tuples(st.integers(0, max_gap), st.integers(1, max_choice))
    return st.lists(preemption, max_size=max_preemptions).map(tape_from_preemptions)


@st.composite
def configs(
    draw: st.DrawFn,
    scenarios: Sequence[str] | None = None,
    faults: Sequence[str] = (),
    ops: int | None = None,
) -> Config:
    """Replayable configs: a scenario, a workload seed, ``faults``; strategy ``replay``.

    Pair with :func:`schedules` and pass the tape to ``testbed.run``.
    """
    names = list(scenarios) if scenarios is not None else sorted(SCENARIOS)
    fault_set = validate_faults(list(faults))
    changes: dict[str, object] = {"strategy": "replay", "faults": fault_set}
    if ops is not None:
        changes["ops"] = ops
    return scenario_config(
        draw(st.sampled_from(names)),
        seed=draw(st.integers(0, 2**32 - 1)),
        **changes,
    )


class ModelMachine(RuleBasedStateMachine):
    """One mutator driven operation by operation; the verifier checks every scavenge.

    The operations run on the test's own thread (an isolate with one mutator
    needs no other thread to stop), so Hypothesis controls every step and
    shrinks a failure to the shortest operation sequence.
    """

    #: faults switched on in the isolate (none: the correct model)
    faults: frozenset[str] = frozenset()

    def __init__(self) -> None:
        super().__init__()
        self.config = Config(
            mutators=1, ops=0, new_space_pages=1, page_words=256, lab_words=16, max_fields=3, faults=self.faults
        )
        self.isolate = Isolate(self.config, SerialScavenger(), Checker(self.config))
        self.mutator = self.isolate.mutators[0]
        self.mutator.open_scope()
        self.handles: list[list[Handle]] = [[]]

    def _live(self) -> list[Handle]:
        return [h for scope in self.handles for h in scope]

    @rule(fields=st.integers(1, 3), old=st.booleans())
    def allocate(self, fields: int, old: bool) -> None:
        if len(self.handles[-1]) >= 40:
            return
        self.handles[-1].append(self.mutator.alloc(fields, old=old))

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data())
    def store(self, data: st.DataObject) -> None:
        live = self._live()
        host = data.draw(st.sampled_from(live))
        value = data.draw(st.one_of(st.sampled_from(live), st.integers(-5, 5), st.none()))
        index = data.draw(st.integers(0, len(host.get().fields) - 1))
        self.mutator.store(host, index, value)

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data())
    def load(self, data: st.DataObject) -> None:
        host = data.draw(st.sampled_from(self._live()))
        value = self.mutator.load(host, data.draw(st.integers(0, len(host.get().fields) - 1)))
        if isinstance(value, Handle) and len(self.handles[-1]) < 40:
            self.handles[-1].append(value)

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data())
    def normalize(self, data: st.DataObject) -> None:
        """A layout change: the host goes to dictionary mode (its untagged words' slots are cleared)."""
        dictionary = self.mutator.normalize(data.draw(st.sampled_from(self._live())))
        if dictionary is not None and len(self.handles[-1]) < 40:
            self.handles[-1].append(dictionary)

    @rule(data=st.data(), count=st.integers(1, 3), fields=st.integers(1, 3), old=st.booleans())
    def allocate_folded(self, data: st.DataObject, count: int, fields: int, old: bool) -> None:
        """A folded group (young: one allocation, no barriers on its initializing stores)."""
        if len(self.handles[-1]) + count > 40:
            return
        live = self._live()
        value = data.draw(st.one_of(st.sampled_from(live), st.integers(-5, 5), st.none())) if live else None
        self.handles[-1].extend(self.mutator.alloc_folded(count, fields, old=old, value=value))

    @precondition(lambda self: len(self.handles) < 4)
    @rule()
    def open_scope(self) -> None:
        self.mutator.open_scope()
        self.handles.append([])

    @precondition(lambda self: len(self.handles) > 1)
    @rule()
    def close_scope(self) -> None:
        self.mutator.close_scope()
        self.handles.pop()

    @rule()
    def scavenge(self) -> None:
        self.isolate.collect_garbage(self.mutator)

    @invariant()
    def no_violations(self) -> None:
        assert not self.isolate.violations, [v.message for v in self.isolate.violations]

    def teardown(self) -> None:
        if not self.isolate.violations:
            self.isolate.observer.on_run_end(self.isolate)
            assert not self.isolate.violations, [v.message for v in self.isolate.violations]
