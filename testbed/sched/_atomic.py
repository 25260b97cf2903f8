"""Atomics: fetch-and-add, per-thread tallies summed on read, and a compare-and-swap's critical section.

Under the GIL a ``self.count += 1`` from several threads rarely loses an
increment, and ``next()`` on an :func:`itertools.count` is atomic; on a
free-threaded CPython (PEP 703, ``python3.13t``) threads really run at once,
``+=`` on a shared attribute is a load, an add and a store that another
core can interleave, and 3.13t's ``itertools.count`` is not thread-safe
either.  The model does what V8 does:

* :class:`AtomicCounter` is ``std::atomic<int>::fetch_add``: one shared
  value, each caller gets a distinct one (V8's ``Heap::NextScriptId``,
  the scavenger's item index).  Here a raw lock around the add.  It is not
  a scheduling point: an atomic instruction cannot be preempted in its
  middle, so a controlled run's tape does not change.
* :func:`atomic_word` is the critical section of one atomic instruction on
  one word (V8's ``HeapObject::release_compare_and_swap_map_word`` when the
  scavenger installs a forwarding address): a raw lock from a fixed table
  of stripes chosen by the word's key, so two threads contend only when
  they really touch the same word (or, rarely, a word of the same stripe).
  Not a scheduling point either; the caller passes one just before it.
* :class:`Tally` is V8's local tracers and per-task counters
  (``GCTracer::Scope`` with ``LocalTracer``s, each ``Scavenger``'s
  ``copied_size_``/``promoted_size_`` merged in ``Finalize``): every thread
  counts in its own shard, and a reader sums the shards.  Counting costs no
  synchronisation at all and no increment is ever lost.

They live in ``sched`` because a bare :mod:`threading` lock is allowed
nowhere else; none ever blocks for longer than the few bytecodes under its
guard, and none contains a scheduling point, so none can deadlock the model.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

__all__ = ["AtomicCounter", "Tally", "atomic_word"]

#: stripes of :func:`atomic_word` (a power of two)
_STRIPES = 64
_stripes = tuple(threading.Lock() for _ in range(_STRIPES))


def atomic_word(key: int) -> threading.Lock:
    """The guard of the word ``key`` names (e.g. an object's logical id): ``with atomic_word(k): read; write``.

    Whatever runs under it must be a few plain reads and writes: no
    scheduling point, no wait, no other guard.
    """
    return _stripes[key & (_STRIPES - 1)]


class AtomicCounter:
    """``std::atomic<int>`` with ``fetch_add``: each call returns a distinct, increasing value."""

    __slots__ = ("_guard", "_next")

    def __init__(self, start: int = 0) -> None:
        self._next = start
        self._guard = threading.Lock()

    def fetch_add(self, n: int = 1) -> int:
        """The value before adding ``n`` (no two callers ever get the same one)."""
        with self._guard:
            value = self._next
            self._next = value + n
        return value

    @property
    def value(self) -> int:
        """The current value (a plain read; exact once the adding threads have finished)."""
        return self._next


class Tally:
    """Named counts kept per thread and summed on read: no increment is lost, no add ever waits.

    ``add(key)`` touches only the calling thread's shard (a dict only that
    thread writes); :meth:`totals` and ``tally[key]`` sum the shards.  A sum
    taken while threads still add is a lower bound; taken after they have
    finished (a run's statistics are collected after every model thread
    ended) it is exact.
    """

    __slots__ = ("_guard", "_keys", "_local", "_shards")

    def __init__(self, keys: Iterable[str] = ()) -> None:
        #: keys present in :meth:`totals` even at zero, in this order (the rest follow sorted)
        self._keys = tuple(keys)
        self._local = threading.local()
        self._shards: list[dict[str, int]] = []
        self._guard = threading.Lock()

    def add(self, key: str, n: int = 1) -> None:
        """Count ``n`` more ``key`` on the calling thread's shard."""
        shard: dict[str, int] | None = getattr(self._local, "shard", None)
        if shard is None:
            shard = self._local.shard = {}
            with self._guard:  # once per thread: the list of shards is shared
                self._shards.append(shard)
        shard[key] = shard.get(key, 0) + n

    def _snapshot(self) -> list[dict[str, int]]:
        with self._guard:
            shards = list(self._shards)
        # dict.copy() is atomic on either build: never "changed size during iteration".
        return [shard.copy() for shard in shards]

    def __getitem__(self, key: str) -> int:
        return sum(shard.get(key, 0) for shard in self._snapshot())

    def totals(self) -> dict[str, int]:
        """Every key's sum: the catalogued keys first (zeros included), then the others sorted."""
        totals = dict.fromkeys(self._keys, 0)
        extra: dict[str, int] = {}
        for shard in self._snapshot():
            for key, count in shard.items():
                if key in totals:
                    totals[key] += count
                else:
                    extra[key] = extra.get(key, 0) + count
        totals.update(sorted(extra.items()))
        return totals
