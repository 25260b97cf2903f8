"""Classic concurrency bugs from public benchmark suites, ported to ``testbed.sched.explore``.

Each module ports one program (see its docstring: the original's path, the
bug, the instrumentation rule) and defines ``buggy()`` and ``fixed()``, each
returning a :class:`~bench.sctbench._shared.Program`: the keyword arguments
of :func:`testbed.sched.explore` (the threads, usually the C ``main`` as
one function that starts the others as :class:`testbed.sched.Thread`).
``PROGRAMS`` lists them in the benchmark's fixed order (bench/sct.py).
"""

from __future__ import annotations

__all__ = ["PROGRAMS", "REPORTED"]

#: the benchmark's fixed program list, by module name
PROGRAMS = (
    "lazy01",
    "reorder_2",
    "sigma",
    "singleton",
    "twostage_3",
    "bigshot_p",
    "read_write_lock",
    "qw2004",
    "fkp2013",
    "fib_bench",
    "stringbuffer",
)

_SV = "SV-COMP: `false` (a verdict, no schedule count)"
_NOT_IN = "SCTBench: not in it"
_UNCONFIRMED = "TOPC 2016's schedule counts: not confirmed here"

#: per program: its original, and what the suites and papers report about it
#: (bench/sct.py --markdown prints them beside our measurement).  SV-COMP
#: gives each task an expected verdict (``false``: the error is reachable),
#: not a schedule count.  SCTBench's buggy list is mc-imperial/sctbench
#: ``benchmarks/buggy.txt``; its paper (Thomson, Donaldson, Betts,
#: "Concurrency testing using controlled schedulers: an empirical study",
#: TOPC 2016; PPoPP 2014) has per-benchmark tables that could not be read in
#: the sources available to this work, so none of its counts is quoted.
#: Where SCTBench has a variant of one of our SV-COMP programs (its CS group,
#: from ESBMC's concurrent-software-benchmarks) it is named as a variant,
#: not compared line by line.
REPORTED: dict[str, tuple[str, str]] = {
    "lazy01": (
        "sv-benchmarks c/pthread/lazy01_false-unreach-call.c",
        f"{_SV}; SCTBench: CS lazy01_bad (variant); {_UNCONFIRMED}",
    ),
    "reorder_2": (
        "sv-benchmarks c/pthread/reorder_2.c",
        f"{_SV}; SCTBench: CS reorder_3_bad .. reorder_20_bad (more threads); {_UNCONFIRMED}",
    ),
    "sigma": ("sv-benchmarks c/pthread/sigma.c", f"{_SV}; {_NOT_IN}"),
    "singleton": ("sv-benchmarks c/pthread/singleton_false-unreach-call.c", f"{_SV}; {_NOT_IN}"),
    "twostage_3": (
        "sv-benchmarks c/pthread/twostage_3_false-unreach-call.c",
        f"{_SV}; SCTBench: CS twostage_bad, twostage_100_bad (variants); {_UNCONFIRMED}",
    ),
    "bigshot_p": ("sv-benchmarks c/pthread/bigshot_p_false-unreach-call.c", f"{_SV}; {_NOT_IN}"),
    "read_write_lock": ("sv-benchmarks c/pthread-atomic/read_write_lock_false-unreach-call.c", f"{_SV}; {_NOT_IN}"),
    "qw2004": ("sv-benchmarks c/pthread-lit/qw2004_false-unreach-call.c", f"{_SV}; {_NOT_IN}"),
    "fkp2013": ("sv-benchmarks c/pthread-lit/fkp2013_false-unreach-call.c", f"{_SV}; {_NOT_IN}"),
    "fib_bench": ("sv-benchmarks c/pthread/fib_bench_false-unreach-call.c", f"{_SV}; {_NOT_IN}"),
    "stringbuffer": (
        "SCTBench benchmarks/conc-bugs/stringbuffer-jdk1.4",
        f"SCTBench: in its buggy list (CB); {_UNCONFIRMED}",
    ),
}
