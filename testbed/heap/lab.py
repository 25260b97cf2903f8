"""Linear allocation buffers: a thread's private bump-pointer window on a page.

Mirrors V8's ``LinearAllocationArea``: allocation in it is a thread-local
bump with no synchronisation; only getting a new LAB touches the shared
space.  At a GC every LAB is given up (``FreeLinearAllocationArea``), because
the pages under it are about to be flipped or swept.

Simplified: a LAB is just (page, top, limit), and giving one up leaves no
filler object behind: a page here maps each word to its object and needs no
filler to be walked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from testbed.heap.pages import Page

__all__ = ["LinearAllocationBuffer"]


class LinearAllocationBuffer:
    """Words ``[top, limit)`` of ``page`` belong to one thread."""

    __slots__ = ("limit", "page", "top")

    def __init__(self, page: Page, top: int, limit: int) -> None:
        self.page = page
        self.top = top
        self.limit = limit

    def bump(self, words: int) -> int | None:
        """Reserve ``words``; the offset, or None when the LAB is too small."""
        top = self.top
        if top + words > self.limit:
            return None
        self.top = top + words
        return top
