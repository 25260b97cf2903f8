"""Accesses: which shared object a user's scheduling point is about to touch, and how.

``point(kind, obj=..., write=...)`` lets code run by
:func:`~testbed.sched.explore` say that its next operation reads or writes
one shared object.  Partial-order strategies (POS, SURW) then know which
pending operations race: a read and a write of the same object conflict
whatever labels the two points carry, two reads never do.  This is the
information SCTBench's instrumentation gives its schedulers (every
load/store of shared memory is a visible operation on an address) and that
Fray and Shuttle take from the memory location a ``volatile``/atomic
access names.

An object must be named the same way in every run of a schedule, so no
``id()`` is ever part of its name:

* a value that compares by equality (a string, a number, a tuple of them)
  *is* its name: ``point("read", obj="x")`` and ``point("write", obj="x")``
  touch the same object ``x``;
* any other object (a list, an instance of a class without ``__eq__``) is
  named by registration order: the first such object touched in the
  schedule is ``list-1`` (its type and a counter per schedule), found again
  by identity.  :func:`fresh_objects` restarts the registry, so each
  explored schedule names its objects as the previous one did.

A hashable object is looked up in a dict (by equality, which for a plain
object is identity); an unhashable one (a list, a dict) by an identity scan
of the unhashable objects seen in this schedule.  Neither depends on where
an object lives in memory, only on the order objects were first touched,
which the schedule fixes.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

__all__ = ["Access", "access", "fresh_objects", "object_name"]


@dataclasses.dataclass(frozen=True, slots=True)
class Access:
    """The detail of a point that names its object: the object's name, whether it writes, the point's own detail."""

    obj: str
    write: bool
    detail: object = None

    def __str__(self) -> str:
        mode = "write" if self.write else "read"
        return f"{mode} {self.obj}" + ("" if self.detail is None else f" ({self.detail})")


# The objects of this schedule that are not names themselves, with their names.
_hashable: dict[object, str] = {}
_unhashable: list[tuple[object, str]] = []
_counters: dict[str, int] = {}


def _is_value(obj: object) -> bool:
    """A value that names itself (compares by content, the same in every run)."""
    if isinstance(obj, str | int | float | bytes | bool):
        return True
    return isinstance(obj, tuple) and all(_is_value(item) for item in obj)


def object_name(obj: object) -> str:
    """The name of ``obj`` in this schedule (see the module docstring)."""
    if isinstance(obj, str):
        return obj
    if _is_value(obj):
        return repr(obj)
    name = getattr(obj, "name", None)
    if isinstance(name, str) and type(obj).__module__.startswith("testbed.sched"):
        return name  # a drop-in primitive: the name its own points carry
    try:
        found = _hashable.get(obj)
        hashable = True
    except TypeError:
        hashable = False
        found = next((known for other, known in _unhashable if other is obj), None)
    if found is not None:
        return found
    kind = type(obj).__name__
    count = _counters[kind] = _counters.get(kind, 0) + 1
    name = f"{kind}-{count}"
    if hashable:
        _hashable[obj] = name
    else:
        _unhashable.append((obj, name))
    return name


def access(obj: object, write: bool | None, detail: object) -> Access:
    """The detail of ``point(kind, detail, obj=obj, write=write)``; an access of unknown mode is a write."""
    return Access(object_name(obj), True if write is None else bool(write), detail)


@contextlib.contextmanager
def fresh_objects() -> Iterator[None]:
    """Name the objects touched inside the block from scratch (one explored schedule)."""
    _hashable.clear()
    _unhashable.clear()
    _counters.clear()
    try:
        yield
    finally:
        _hashable.clear()
        _unhashable.clear()
        _counters.clear()
