"""The strategies :func:`~testbed.sched.explore` offers by name, with their parameters.

``explore(strategy=...)`` takes a name or a factory; this module turns
either into a *plan*: whether schedule 0 is a probe run (one that never
preempts, counting each thread's points) and how schedule ``i`` with seed
``s`` gets its strategy.

* ``"pct"`` (``depth=``, default 3): PCT (Burckhardt et al., ASPLOS 2010)
  with the probe's step count as its horizon;
* ``"pos"``: partial-order sampling (Yuan et al., CAV 2018) over the
  objects the points name (:mod:`testbed.sched._access`, the drop-ins'
  own names);
* ``"surw"`` (``power=``, default 1): selectively uniform random walk
  (Zhao et al., ASPLOS 2025), weighted by the probe's count of each
  thread's user points left, raised to ``power`` (above 1 the threads
  advance more nearly in step; :mod:`testbed.sched._surw`);
* ``"random"`` (``p=``, default 0.1): at each point switch with
  probability ``p`` to a uniformly chosen other thread (Shuttle's and
  Fray's random walk);
* ``"uniform"``: at every point, a uniform choice among the runnable
  threads, the running one included (SCTBench's "Rand" scheduler, Thomson,
  Donaldson, Betts, TOPC 2016 section 4): on programs with many threads it
  spreads switches evenly, where ``p=0.1`` keeps one thread running long;
* ``"portfolio"``: schedule ``i`` runs ``PORTFOLIO[i % 8]``: ``pos``,
  ``uniform``, ``pct``, ``surw``, ``pct(depth=1)``, ``surw(power=2)``,
  ``pct``, ``surw(power=4)`` (a member's own parameters are in its label;
  ``depth=`` sets the plain ``pct`` members').  So PCT runs 3 schedules in
  8 and SURW 3 in 8: they are the only members that reach some bug of the
  benchmark (bench/sctbench).  PCT alone reaches the 51-thread
  ``fkp2013`` (one thread must run last and no two increments may
  interleave): about 1 schedule in 160 at depth 3, 1 in 100 at depth 1,
  where no change point can break the serial order.  SURW alone reaches
  ``fib_bench``, whose two threads must alternate perfectly (1 in 577 of
  the interleavings of its user points): about 1 schedule in 340 at power
  1, 1 in 150 at power 2, 1 in 60 at power 4 (power 8 runs the checking
  thread too early: no better for fib_bench, and it loses twostage_3).
  The plain members keep the unbiased walks beside the biased ones.  Every
  other program there is found by three or more members within tens of
  schedules; the random walk (``random``) has no slot, as every program
  it finds, ``pos``, ``uniform`` and ``pct`` find too (docs/scheduling.md
  has the measurement).

A factory is called once per schedule with the schedule's seed, and with
the probe's step count when it takes one: as ``horizon=`` when it has a
parameter of that name (``PCTStrategy`` itself, ``functools.partial(PCTStrategy,
depth=2)``), else as the second argument when it requires two (``lambda
seed, horizon: PCTStrategy(seed, 2, horizon)``); a probe is then run first.
"""

from __future__ import annotations

import dataclasses
import inspect
import random
from collections.abc import Callable, Sequence

from testbed.sched._pos import POSStrategy
from testbed.sched._strategies import PCTStrategy, RandomStrategy, Strategy
from testbed.sched._surw import SURWStrategy

__all__ = ["NAMES", "PORTFOLIO", "Member", "Plan", "Probe", "UniformStrategy", "plan"]

#: the names ``explore(strategy=...)`` takes
NAMES = ("pos", "pct", "uniform", "random", "surw", "portfolio")
#: PCT's default depth (bugs needing up to two preemptions)
PCT_DEPTH = 3
#: the random walk's default switch probability
RANDOM_SWITCH = 0.1
#: SURW's default power of its weights (the paper's walk)
SURW_POWER = 1


@dataclasses.dataclass(frozen=True)
class Member:
    """A portfolio member: a named strategy and the parameters it fixes (the others are explore's)."""

    name: str
    depth: int | None = None
    power: int | None = None

    def __str__(self) -> str:
        """Its label in results: ``pct``, ``surw(power=4)``."""
        fixed = [f"{key}={value}" for key, value in (("depth", self.depth), ("power", self.power)) if value]
        return f"{self.name}({', '.join(fixed)})" if fixed else self.name


#: what ``"portfolio"`` rotates through, schedule by schedule
PORTFOLIO = (
    Member("pos"),
    Member("uniform"),
    Member("pct"),
    Member("surw"),
    Member("pct", depth=1),
    Member("surw", power=2),
    Member("pct"),
    Member("surw", power=4),
)


class UniformStrategy(Strategy):
    """At every decision, a uniform choice among the runnable threads (the running one included)."""

    name = "uniform"

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        choice = self._rng.randrange(len(runnable))
        if not current_runnable:
            return choice
        return (choice - runnable.index(current)) % len(runnable)


@dataclasses.dataclass(frozen=True)
class Probe:
    """What the probe run measured: its steps (PCT's horizon) and each thread's user points (SURW's profile)."""

    steps: int
    profile: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Plan:
    """How a campaign gets its strategies: ``make(index, seed, probe)`` (probe None unless ``probe``)."""

    label: str
    probe: bool
    make: Callable[[int, int, Probe | None], Strategy]

    def member(self, index: int) -> str:
        """How schedule ``index``'s result names its strategy (``portfolio:pos`` for a portfolio's member)."""
        if self.label == "portfolio" and not (self.probe and index == 0):
            return f"portfolio:{PORTFOLIO[index % len(PORTFOLIO)]}"
        return self.label


def _named(name: str, depth: int, p: float, power: int) -> Callable[[int, int, Probe | None], Strategy]:
    def make(index: int, seed: int, probe: Probe | None) -> Strategy:
        member = PORTFOLIO[index % len(PORTFOLIO)] if name == "portfolio" else Member(name)
        if member.name == "pct":
            assert probe is not None
            return PCTStrategy(seed, member.depth or depth, max(probe.steps, 1))
        if member.name == "surw":
            assert probe is not None
            return SURWStrategy(seed, probe.profile, user=True, power=member.power or power)
        if member.name == "pos":
            return POSStrategy(seed)
        if member.name == "uniform":
            return UniformStrategy(seed)
        return RandomStrategy(seed, p)

    return make


def _horizon_argument(factory: Callable[..., object]) -> str | None:
    """How ``factory`` takes the horizon: ``"keyword"`` (a ``horizon`` parameter), ``"positional"``
    (two required positional parameters), or None (it does not)."""
    try:
        parameters = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.name == "horizon" and p.kind is not p.POSITIONAL_ONLY for p in parameters):
        return "keyword"
    required = [
        p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return "positional" if len(required) >= 2 else None


def _parameter_problem(name: str, depth: int | None, p: float | None, power: int | None) -> str | None:
    if depth is not None:
        if name not in ("pct", "portfolio"):
            return f"depth= is a parameter of strategy 'pct' (or 'portfolio'), not {name!r}"
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            return f"depth must be an integer of at least 1, got {depth!r}"
    if p is not None:
        if name != "random":
            return f"p= is a parameter of strategy 'random', not {name!r}"
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 < p <= 1.0:
            return f"p must be a probability in (0, 1], got {p!r}"
    if power is not None:
        if name != "surw":
            return f"power= is a parameter of strategy 'surw', not {name!r}"
        if isinstance(power, bool) or not isinstance(power, int) or power < 1:
            return f"power must be an integer of at least 1, got {power!r}"
    return None


def plan(strategy: object, depth: int | None = None, p: float | None = None, power: int | None = None) -> Plan:
    """The plan of ``explore(strategy=..., depth=..., p=..., power=...)``; ``TypeError``/``ValueError`` for bad ones."""
    if isinstance(strategy, str):
        if strategy not in NAMES:
            raise ValueError(
                f"strategy must be one of {', '.join(NAMES)} or a factory seed -> Strategy, got {strategy!r}"
            )
        problem = _parameter_problem(strategy, depth, p, power)
        if problem is not None:
            raise ValueError(problem)
        probe = strategy in ("pct", "surw", "portfolio")
        make = _named(
            strategy,
            PCT_DEPTH if depth is None else depth,
            RANDOM_SWITCH if p is None else float(p),
            SURW_POWER if power is None else power,
        )
        return Plan(strategy, probe, make)
    if isinstance(strategy, Strategy):
        raise TypeError(
            f"strategy must be one of {', '.join(NAMES)} or a factory seed -> Strategy (one strategy per "
            f"schedule), not a {type(strategy).__name__} instance"
        )
    if not callable(strategy):
        raise ValueError(f"strategy must be one of {', '.join(NAMES)} or a factory seed -> Strategy, got {strategy!r}")
    if depth is not None or p is not None or power is not None:
        raise ValueError("depth=, p= and power= are parameters of the named strategies, not of a factory")
    factory = strategy
    how = _horizon_argument(factory)
    label = getattr(factory, "__name__", "custom")
    if how is None:
        return Plan(label, False, lambda index, seed, probe: _checked(factory(seed)))

    def make(index: int, seed: int, probe: Probe | None) -> Strategy:
        assert probe is not None
        horizon = max(probe.steps, 1)
        return _checked(factory(seed, horizon=horizon) if how == "keyword" else factory(seed, horizon))

    return Plan(label, True, make)


def _checked(made: object) -> Strategy:
    if not isinstance(made, Strategy):
        raise TypeError(f"the strategy factory must return a Strategy, got {made!r}")
    return made
