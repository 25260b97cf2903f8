"""``testbed run --explain``: the story of one deopt that met a scavenge, or why there is none.

When there is none, the hint must fit the run: a program that never
deopts gets no "try another --seed" (no seed makes it deopt), a run
without a pause is told to collect more often.
"""

from __future__ import annotations

import re

from testbed.explain import explain
from testbed.runtime import Event


def never_deopts(m) -> None:  # a custom program without optimized code: stores and polls only
    with m.scope():
        holder = m.alloc(fields=2, old=True)
        for i in range(60):
            m.store(holder, i % 2, m.alloc(fields=1))
            m.poll()


def test_explain_on_a_program_that_never_deopts_gives_no_seed_hint(cli) -> None:
    outcome = cli("run", "--program", f"{__file__}:never_deopts", "--gc-interval", "10", "--explain")
    assert outcome.code == 0, outcome
    assert "no deopt in this run" in outcome.out
    assert "try another --seed" not in outcome.out and "smaller --gc-interval" not in outcome.out


def test_explain_tells_the_waltz_story(cli) -> None:
    outcome = cli("run", "--scenario", "waltz", "--strategy", "random", "--seed", "1", "--explain")
    assert outcome.code == 0, outcome
    assert re.search(r"^deopt of code #\d+ on mutator-\d+ met a pending scavenge:$", outcome.out, re.M)
    assert re.search(r"^  step +\d+  mutator-\d+ +(guard-failed|lazy-deopt) ", outcome.out, re.M)


def test_deopts_without_a_pause_are_told_to_collect_more_often() -> None:
    events = [Event(1, "mutator-0", "guard-failed", "f1 code #3"), Event(2, "mutator-0", "deopt-entry", "code #3")]
    (line,) = explain(events)
    assert "no GC pause" in line and "--gc-interval" in line and "--seed" not in line


def test_deopts_that_missed_the_pauses_may_try_another_seed() -> None:
    events = [
        Event(1, "mutator-0", "pause-start", ""),
        Event(2, "mutator-0", "guard-failed", "f1 code #3"),
        Event(3, "mutator-0", "deopt-entry", "code #3"),
    ]
    (line,) = explain(events)
    assert "(1 deopts, 1 pauses)" in line and "--seed" in line
