"""minimize_tape on synthetic predicates: no threads, so every property is checked exactly and fast."""

from __future__ import annotations

import pytest

from testbed.sched import minimize_tape, trim_tape

pytestmark = pytest.mark.timeout(10)


def needs(*positions: int):
    """A "run" that fails iff every one of ``positions`` holds a nonzero decision; it returns the tape it ran."""

    def attempt(candidate: list[int]) -> list[int] | None:
        return list(candidate) if all(p < len(candidate) and candidate[p] for p in positions) else None

    return attempt


def test_keeps_exactly_the_needed_decisions_and_is_a_fixed_point() -> None:
    tape = [1, 0, 2, 1, 1, 0, 3, 1, 0, 1, 0, 0]
    result = minimize_tape(tape, needs(3, 7), budget=200)
    assert result.fixed_point
    assert result.tape == [0, 0, 0, 1, 0, 0, 0, 1]
    again = minimize_tape(result.tape, needs(3, 7), budget=200)
    assert again.tape == result.tape and again.fixed_point and again.passes == 1


def test_a_fixed_point_is_one_minimal_on_a_non_monotone_predicate() -> None:
    """Fails iff decision 1 is set and decisions 4 and 6 are both set or both clear: from all ones,
    zeroing 4 or 6 alone passes, both together fails again."""

    def attempt(candidate: list[int]) -> list[int] | None:
        bit = [i < len(candidate) and bool(candidate[i]) for i in range(8)]
        return list(candidate) if bit[1] and bit[4] == bit[6] else None

    result = minimize_tape([1, 1, 1, 1, 1, 1, 1, 1], attempt, budget=200)
    assert result.fixed_point
    assert trim_tape(result.tape) == [0, 1]
    for i, decision in enumerate(result.tape):  # 1-minimal: no single nonzero decision can go
        if decision:
            assert attempt([*result.tape[:i], 0, *result.tape[i + 1 :]]) is None


def test_budget_bounds_the_runs_and_says_no_fixed_point() -> None:
    calls = []

    def attempt(candidate: list[int]) -> list[int] | None:
        calls.append(candidate)
        return needs(0, 5, 9)(candidate)

    result = minimize_tape([1] * 12, attempt, budget=3)
    assert len(calls) == result.runs == 3
    assert not result.fixed_point
