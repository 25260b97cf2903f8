"""The layout-change and folded-allocation operations of the Mutator API, end to end.

``m.normalize(h)`` (crbug.com/666046's mechanism) and ``m.alloc_folded(...)``
(nodejs/node#5900's) in custom programs and in the ``layout-and-folding``
scenario: the correct model stays clean under every kind of scheduler, and
each fault is caught by what its bug leads to.
"""

from __future__ import annotations

import pytest

import testbed
from testbed import Config
from testbed.heap import Handle, Map
from testbed.runtime import Mutator

pytestmark = pytest.mark.timeout(120)


def normalizing_program(m: Mutator) -> None:
    """Old hosts holding young values, migrated to dictionary mode, then used through the dictionary."""
    with m.scope():
        for round_ in range(30):
            with m.scope():
                host = m.alloc(fields=3, old=True)
                for index in range(3):
                    m.store(host, index, m.alloc(fields=1))
                m.normalize(host)
                m.store(host, 2, round_)
                assert m.load(host, 2) == round_
                assert isinstance(m.load(host, 1), Handle)
                m.poll()


def folding_program(m: Mutator) -> None:
    """Nested literals, young and pretenured, whose innermost value is a fresh young object."""
    with m.scope():
        for round_ in range(40):
            with m.scope():
                m.alloc_folded(count=2, fields=2, old=round_ % 2 == 1, value=m.alloc(fields=1))
                m.poll()


def _config(program, **changes) -> Config:
    return Config(program=program, mutators=2, gc_interval=7, store_buffer_capacity=4, **changes)


def test_a_normalized_object_keeps_its_properties_in_its_dictionary() -> None:
    seen: list[tuple[Map, int, bool]] = []

    def program(m: Mutator) -> None:
        with m.scope():
            host = m.alloc(fields=2, old=True)
            m.store(host, 1, 41)
            dictionary = m.normalize(host)
            assert dictionary is not None
            seen.append((host.get().map, m.load(host, 1), host.get().fields[0] is dictionary.get()))
            assert m.normalize(host) is None, "already slow"

    result = testbed.run(Config(program=program, mutators=1, strategy="random", seed=3))
    assert result.ok, result.violations
    assert seen == [(Map.DICTIONARY, 41, True)]


def test_a_property_dictionary_is_not_normalized_and_its_host_keeps_reaching_it() -> None:
    """Found by the state machine: a dictionary was a plain object, so normalizing it made the host's
    stores land on the dictionary's own dictionary pointer."""
    seen: list[object] = []

    def program(m: Mutator) -> None:
        with m.scope():
            host = m.alloc(fields=3, old=True)
            dictionary = m.normalize(host)
            assert dictionary is not None
            seen.append(dictionary.get().map)
            seen.append(m.normalize(dictionary))
            m.store(host, 0, m.alloc(fields=1))
            m.store(host, 2, 7)
            seen.append((host.get().fields[0] is dictionary.get(), m.load(host, 2)))

    result = testbed.run(Config(program=program, mutators=1, strategy="random", seed=3))
    assert result.ok, result.violations
    assert seen == [Map.PROPERTY_DICTIONARY, None, (True, 7)]


@pytest.mark.parametrize("strategy", ["free", "random", "pct"])
@pytest.mark.parametrize("program", [normalizing_program, folding_program], ids=["normalize", "fold"])
def test_custom_programs_using_the_new_operations_run_clean(program, strategy: str) -> None:
    result = testbed.stress([None], seed=4, schedules=8, strategy=strategy, program=program, overrides=_overrides())
    assert result.ok, [f.to_json() for f in result.findings[:2]]
    assert result.stats["scavenges"] > 0


def _overrides() -> dict[str, object]:
    return {"mutators": 2, "gc_interval": 7, "store_buffer_capacity": 4}


@pytest.mark.parametrize(
    ("program", "fault", "invariant"),
    [
        (normalizing_program, "no-slot-clear-on-layout-change", "remset-precise"),
        (folding_program, "barrier-elided-for-pretenured-fold", "remset-complete"),
    ],
    ids=["normalize", "fold"],
)
def test_each_fault_is_caught_in_a_custom_program_by_its_consequence(program, fault: str, invariant: str) -> None:
    result = testbed.run(_config(program, strategy="random", seed=5, faults=frozenset({fault})))
    assert result.violations, f"{fault} went unnoticed"
    assert result.violations[0].invariant == invariant, result.violations[0]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("strategy", ["free", "random", "pct"])
def test_the_layout_and_folding_scenario_is_clean(strategy: str) -> None:
    result = testbed.stress(["layout-and-folding"], seed=11, schedules=12, strategy=strategy)
    assert result.ok, [f.to_json() for f in result.findings[:2]]
    checks = result.stats["checks_by_invariant"]
    assert checks["remset-precise"] > 0 and checks["remset-complete"] > 0
