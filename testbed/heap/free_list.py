"""The free list of old space: ranges the sweeper freed, handed out before the space bumps.

Mirrors V8's ``FreeList`` (src/heap/free-list.h, free-list.cc) as
``PagedSpace`` uses it: the sweeper frees the dead ranges of a page
(``Sweeper::RawSweep`` calls ``FreeAndProcessFreedMemory`` /
``PagedSpace::UnaccountedFree``), the swept page's free memory becomes
available to the allocator (``Sweeper::AddSweptPage``, then
``PagedSpace::RefillFreeList``), and a new linear allocation area is taken
from the free list before the space expands
(``PagedSpace::RefillLabMain`` -> ``TryAllocationFromFreeListMain``).  At the
start of sweeping the free list is emptied (``StartSweeping`` evicts the
pages to sweep from it: memory on a page not yet swept is never handed out),
so the only way memory of an unswept page reaches the allocator is through
the sweeper.

Simplified: one address-ordered list of ``(page, start, end)`` ranges with
first fit, where V8 keeps per-page categories by size
(``FreeListCategory``, ``FreeListManyCached``) and picks by size class; a
range enters the list when its page is fully swept (V8: when the swept page
is handed back, the same moment); a LAB's unused remainder is dropped, not
returned (V8 frees it back, ``FreeLinearAllocationArea``); code space keeps
bumping only.
"""

from __future__ import annotations

import bisect

__all__ = ["FreeList"]


class FreeList:
    """Free word ranges of swept pages, as ``(page index, start, end)``; the owning space's lock guards it."""

    __slots__ = ("_ranges", "handed_out")

    def __init__(self) -> None:
        self._ranges: list[tuple[int, int, int]] = []
        #: words handed out again so far (a run statistic)
        self.handed_out = 0

    def reset(self) -> None:
        """Forget every range: the pages are about to be swept again (``FreeList::Reset``)."""
        self._ranges = []

    def add(self, page_index: int, start: int, end: int) -> None:
        """Words ``[start, end)`` of page ``page_index`` are free (``FreeList::Free``)."""
        if end > start:
            bisect.insort(self._ranges, (page_index, start, end))

    def take(self, words: int, minimum: int) -> tuple[int, int, int] | None:
        """First range with at least ``minimum`` words: up to ``words`` of it, the rest stays listed."""
        for position, (page_index, start, end) in enumerate(self._ranges):
            if end - start < minimum:
                continue
            del self._ranges[position]
            size = min(words, end - start)
            self.handed_out += size
            if start + size < end:
                self._ranges.insert(position, (page_index, start + size, end))
            return page_index, start, start + size
        return None

    def free_words(self) -> int:
        return sum(end - start for _, start, end in self._ranges)

    def __len__(self) -> int:
        return len(self._ranges)
