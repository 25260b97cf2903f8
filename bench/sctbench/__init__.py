"""Classic concurrency bugs from public benchmark suites, ported to ``testbed.sched.explore``.

Each module ports one program (see its docstring: the original's path, the
bug, the instrumentation rule) and defines ``buggy()`` and ``fixed()``, each
returning a :class:`~bench.sctbench._shared.Program`: the keyword arguments
of :func:`testbed.sched.explore` (the threads, usually the C ``main`` as
one function that starts the others as :class:`testbed.sched.Thread`).
``PROGRAMS`` lists them in the benchmark's fixed order (bench/sct.py).
"""

from __future__ import annotations

__all__ = ["PROGRAMS"]

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
