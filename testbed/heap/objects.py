"""Heap objects: a map word, a kind, tagged fields and a stable logical id.

Mirrors V8's ``HeapObject`` layout: the first word is the map word, which
holds either the object's map or, once the scavenger has evacuated it, a
forwarding pointer to the copy (``MapWord::FromForwardingAddress``).  Fields
are tagged values: a reference to another object, a Smi (a Python ``int``)
or ``None`` for an empty slot.

Identity for checking is ``lid``, a logical id handed out at allocation and
carried over to every copy, so the verifier can say "this is still object 17"
across moves without ever looking at Python's ``id()``.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from testbed.heap.pages import Page

__all__ = ["HEADER_WORDS", "HeapObject", "Kind", "Map", "Tagged"]

#: words before the first field: just the map word
HEADER_WORDS = 1


class Kind(enum.Enum):
    """What an object is, as its map says."""

    PLAIN = "plain"
    HEAP_NUMBER = "heap-number"
    CONTEXT = "context"
    CLOSURE = "closure"
    CODE = "code"


class Map(enum.Enum):
    """Map-word values.  The live ones name a kind; the others are poison.

    ``ZAPPED`` marks a from-space object left behind after a scavenge (the
    scavenger zaps whole pages at once by moving their epoch on, see
    :attr:`HeapObject.is_zapped`) (V8's ``kZapValue`` under ``--zap-from-space``); ``FREED`` over every
    object the sweeper frees.  A reachable reference to either is a dangling
    reference the verifier reports.
    """

    PLAIN = "plain"
    HEAP_NUMBER = "heap-number"
    CONTEXT = "context"
    CLOSURE = "closure"
    CODE = "code"
    ZAPPED = "zapped"
    FREED = "freed"

    @staticmethod
    def of(kind: Kind) -> Map:
        return Map(kind.value)


#: a field value: an object reference, a Smi or an empty slot
Tagged = Union["HeapObject", int, None]


class HeapObject:
    """An object placed at ``offset`` words into ``page``.

    ``map_word`` is a :class:`Map` or, after evacuation, the forwarded copy.
    ``page`` and ``offset`` are the object's address; objects never move in
    place: evacuation makes a new ``HeapObject`` with the same ``lid``.
    """

    __slots__ = ("epoch", "fields", "lid", "map_word", "offset", "page")

    def __init__(self, lid: int, kind: Kind, fields: list[Tagged], page: Page, offset: int) -> None:
        self.lid = lid
        self.map_word: Map | HeapObject = Map.of(kind)
        self.fields = fields
        self.page = page
        self.offset = offset
        #: the page's epoch when the object was placed; a released page moves on
        self.epoch = page.epoch

    @property
    def size(self) -> int:
        """Size in words, header included."""
        return HEADER_WORDS + len(self.fields)

    @property
    def forwardee(self) -> HeapObject | None:
        """The copy this object was evacuated to, if any."""
        word = self.map_word
        return word if isinstance(word, HeapObject) else None

    @property
    def is_zapped(self) -> bool:
        """Left behind in from-space: its page was released after a scavenge."""
        return self.map_word is Map.ZAPPED or self.epoch != self.page.epoch

    @property
    def is_dead(self) -> bool:
        """Zapped (left from-space) or freed (swept): must not be reachable."""
        return self.map_word is Map.FREED or self.is_zapped

    @property
    def kind(self) -> Kind:
        if self.is_zapped:
            raise ValueError(f"object #{self.lid} is zapped")
        word = self.map_word
        while isinstance(word, HeapObject):
            word = word.map_word
        if word is Map.ZAPPED or word is Map.FREED:
            raise ValueError(f"object #{self.lid} is {word.value}")
        return Kind(word.value)

    def slot_address(self, index: int) -> int:
        """Word address of field ``index`` within the page."""
        return self.offset + HEADER_WORDS + index

    def __repr__(self) -> str:
        word = self.map_word
        state = f"->{word.page.name}" if isinstance(word, HeapObject) else word.value
        return f"<#{self.lid} {state} @{self.page.name}+{self.offset}>"
