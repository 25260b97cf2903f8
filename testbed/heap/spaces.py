"""Spaces: new space as two semispaces with an age mark, and old space.

Mirrors V8's ``SemiSpaceNewSpace`` (src/heap/new-spaces.cc) and
``OldSpace``.  Mutators allocate young objects in to-space through
per-thread linear allocation buffers.  A scavenge flips the semispaces, so
yesterday's to-space becomes from-space, and copies survivors into the new
to-space; the age mark is the to-space top after the copy, so an object
found below it at the next scavenge has survived once and is promoted
(``Heap::ShouldBePromoted``).

Old space takes a new LAB from its free list (:mod:`testbed.heap.free_list`,
filled by the sweeper) before it bumps, as V8's ``PagedSpace::RefillLabMain``
tries the free list before it expands.

Simplified: no large-object space; code space only grows (the sweeper
poisons dead code and its words are never reused); a semispace has a fixed
number of pages.
"""

from __future__ import annotations

from testbed.heap.free_list import FreeList
from testbed.heap.lab import LinearAllocationBuffer
from testbed.heap.pages import Page
from testbed.sched import Lock, point

__all__ = ["CODE", "NEW_FROM", "NEW_TO", "OLD", "NewSpace", "OldSpace", "SemiSpace"]

NEW_TO = "new-to"
NEW_FROM = "new-from"
OLD = "old"
CODE = "code"


class _PagedSpace:
    """Pages carved into LABs by a bump pointer under the space's lock."""

    def __init__(self, name: str, page_words: int) -> None:
        self.name = name
        self.page_words = page_words
        self.pages: list[Page] = []
        self._page = 0  # index of the page being carved
        self._top = 0  # next free word on that page
        self.lock = Lock(f"{name}-allocation")

    def _carve(self, words: int, minimum: int) -> LinearAllocationBuffer | None:
        """A LAB of up to ``words`` (at least ``minimum``); caller holds the lock."""
        while self._page < len(self.pages):
            page = self.pages[self._page]
            free = page.capacity - self._top
            if free >= minimum:
                size = min(words, free)
                lab = LinearAllocationBuffer(page, self._top, self._top + size)
                self._top += size
                return lab
            self._page += 1
            self._top = 0
        return None

    @property
    def top(self) -> tuple[int, int]:
        """(page index, word) of the allocation top, comparable with addresses."""
        return (self._page, self._top)


class SemiSpace(_PagedSpace):
    """A fixed set of pages; allocation past the last page fails."""

    def __init__(self, name: str, pages: int, page_words: int) -> None:
        super().__init__(name, page_words)
        self.pages = [Page(name, i, page_words, young=True) for i in range(pages)]

    def rename(self, name: str) -> None:
        self.name = name
        for page in self.pages:
            page.owner = name
            page.name = f"{name}:{page.index}"

    def reset(self) -> None:
        for page in self.pages:
            page.reset()
        self._page = 0
        self._top = 0

    def used_words(self) -> int:
        return sum(p.capacity for p in self.pages[: self._page]) + self._top


class NewSpace:
    """Two semispaces; young objects live in to-space between scavenges."""

    def __init__(self, pages: int, page_words: int) -> None:
        self.to_space = SemiSpace(NEW_TO, pages, page_words)
        self.from_space = SemiSpace(NEW_FROM, pages, page_words)
        # (page index, word) below which to-space objects survived a scavenge
        self.age_mark: tuple[int, int] = (0, 0)

    def allocate_lab(self, words: int, minimum: int) -> LinearAllocationBuffer | None:
        """A mutator's new LAB, or None when new space is exhausted (GC time)."""
        point("new-space-lab", words)
        with self.to_space.lock:
            return self.to_space._carve(words, minimum)

    def flip(self) -> None:
        """Swap the semispaces: survivors will be copied into an empty to-space."""
        self.to_space, self.from_space = self.from_space, self.to_space
        self.to_space.rename(NEW_TO)
        self.from_space.rename(NEW_FROM)
        self.to_space.reset()

    def below_age_mark(self, page: Page, offset: int) -> bool:
        """True for a from-space object that already survived one scavenge."""
        return (page.index, offset) < self.age_mark

    def set_age_mark(self) -> None:
        self.age_mark = self.to_space.top

    def used_words(self) -> int:
        return self.to_space.used_words()

    def capacity_words(self) -> int:
        return sum(p.capacity for p in self.to_space.pages)


class OldSpace(_PagedSpace):
    """Pages added on demand; never fails to allocate in this model (old and code space).

    ``free_list`` (old space only): what the sweeper freed, handed out first.
    """

    def __init__(self, page_words: int, name: str = OLD) -> None:
        super().__init__(name, page_words)
        self.free_list: FreeList | None = FreeList() if name == OLD else None

    def allocate_lab(self, words: int, minimum: int) -> LinearAllocationBuffer:
        point("old-space-lab", words)
        with self.lock:
            free_list = self.free_list
            taken = free_list.take(words, minimum) if free_list is not None else None
            if taken is not None:
                page_index, start, end = taken
                return LinearAllocationBuffer(self.pages[page_index], start, end)
            lab = self._carve(words, minimum)
            if lab is None:
                self.pages.append(Page(self.name, len(self.pages), self.page_words))
                lab = self._carve(words, minimum)
            assert lab is not None, "object larger than a page"
            return lab

    def reset_free_list(self) -> None:
        """Sweeping starts (world stopped): no listed memory until a page is swept again."""
        with self.lock:
            if self.free_list is not None:
                self.free_list.reset()

    def add_free(self, page: Page, ranges: list[tuple[int, int]]) -> None:
        """A swept page's free ranges become available to the allocator (``RefillFreeList``)."""
        if self.free_list is None or not ranges:
            return
        with self.lock:
            for start, end in ranges:
                self.free_list.add(page.index, start, end)
