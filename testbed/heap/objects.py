"""Heap objects: a map word, a kind, tagged fields and a stable logical id.

Mirrors V8's ``HeapObject`` layout: the first word is the map word, which
holds either the object's map or, once the scavenger has evacuated it, a
forwarding pointer to the copy (``MapWord::FromForwardingAddress``).  Fields
are tagged values: a reference to another object, a Smi (a Python ``int``)
or ``None`` for an empty slot.

Simplified: a map is one of a few enum values (no hidden classes or
descriptors); fields are tagged except the in-object words of a
dictionary-mode object after its dictionary pointer, which stand for raw
data (:mod:`testbed.heap.layout` says which words are tagged); a byte
array's data words are held as Smis, so a visitor reading them finds no
pointer; there are no unboxed doubles; fields are a Python list rather than
words of the page, and an evacuated copy is a new Python object carrying
the same lid.

Identity for checking is ``lid``, a logical id handed out at allocation and
carried over to every copy, so the verifier can say "this is still object 17"
across moves without ever looking at Python's ``id()``.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from testbed.heap.pages import Page

__all__ = ["HEADER_WORDS", "ZAP", "HeapObject", "Kind", "Map", "Tagged", "poison"]

#: words before the first field: just the map word
HEADER_WORDS = 1


class Kind(enum.Enum):
    """What an object is, as its map says."""

    PLAIN = "plain"
    HEAP_NUMBER = "heap-number"
    CONTEXT = "context"
    CLOSURE = "closure"
    CODE = "code"
    #: a plain object in dictionary ("slow") mode: field 0 points at its
    #: property dictionary, its other in-object words are untagged
    #: (see :mod:`testbed.heap.layout`)
    DICTIONARY = "dictionary"
    #: the property store of a slow object (V8's ``NameDictionary``, a hash
    #: table; here the properties by index, every field tagged).  Not a
    #: plain object: it is never normalized itself
    PROPERTY_DICTIONARY = "property-dictionary"
    #: raw bytes (V8's ``ByteArray``): a length word in bytes, then untagged data
    BYTE_ARRAY = "byte-array"
    #: a length word in elements, then tagged elements (V8's ``FixedArray``)
    FIXED_ARRAY = "fixed-array"


class Map(enum.Enum):
    """Map-word values.  The live ones name a kind; the others are poison.

    ``ZAPPED`` is written over every object left in from-space when a
    scavenge releases its pages (V8's ``ZapFromSpace`` under
    ``--verify-heap``, which fills the semispace with ``kZapValue``);
    ``FREED`` over every object the sweeper frees and every copy given up
    after a lost forwarding race.  Poisoning (see :func:`poison`) also
    overwrites the object's fields, so a stale reference reads poison, never
    valid-looking data.
    """

    PLAIN = "plain"
    HEAP_NUMBER = "heap-number"
    CONTEXT = "context"
    CLOSURE = "closure"
    CODE = "code"
    DICTIONARY = "dictionary"
    PROPERTY_DICTIONARY = "property-dictionary"
    BYTE_ARRAY = "byte-array"
    FIXED_ARRAY = "fixed-array"
    ZAPPED = "zapped"
    FREED = "freed"

    @staticmethod
    def of(kind: Kind) -> Map:
        return Map(kind.value)


#: a field value: an object reference, a Smi or an empty slot (an untagged
#: word of a dictionary-mode object holds whatever it held before; see
#: :mod:`testbed.heap.layout`)
Tagged = Union["HeapObject", int, None]


class HeapObject:
    """An object placed at ``offset`` words into ``page``.

    ``map_word`` is a :class:`Map` or, after evacuation, the forwarded copy.
    ``page`` and ``offset`` are the object's address; objects never move in
    place: evacuation makes a new ``HeapObject`` with the same ``lid``.
    ``kind`` may be given as a :class:`Map` (a copy takes its original's map
    word as it is, poison included, as V8's ``MigrateObject`` copies raw
    words).
    """

    __slots__ = ("fields", "lid", "map_word", "offset", "page")

    def __init__(self, lid: int, kind: Kind | Map, fields: list[Tagged], page: Page, offset: int) -> None:
        self.lid = lid
        self.map_word: Map | HeapObject = kind if isinstance(kind, Map) else Map.of(kind)
        self.fields = fields
        self.page = page
        self.offset = offset

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
        """Left behind in from-space when a scavenge released its page."""
        return self.map_word is Map.ZAPPED

    @property
    def is_dead(self) -> bool:
        """Zapped (left from-space) or freed (swept): must not be reachable."""
        word = self.map_word
        return word is Map.FREED or word is Map.ZAPPED

    @property
    def map(self) -> Map:
        """The map, read through a forwarding pointer; poison maps included."""
        word = self.map_word
        while isinstance(word, HeapObject):
            word = word.map_word
        return word

    @property
    def kind(self) -> Kind:
        word = self.map
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


def poison(obj: HeapObject, dead: Map) -> None:
    """Kill ``obj``: its map word becomes ``dead`` and every field the zap value.

    V8 zaps dead memory with ``kZapValue`` so that a stale pointer reads a
    value that crashes when used instead of plausible data; here the zap
    value is :data:`ZAP`, a dead object a checker recognises wherever it
    meets one.
    """
    obj.map_word = dead
    fields = obj.fields
    for index in range(len(fields)):
        fields[index] = ZAP


class _ZapPage:
    """Where the zap value pretends to live: in no space, young for nobody."""

    __slots__ = ()
    owner = "zap"
    name = "zap"
    young = False
    index = -1


#: the zap value (V8's ``kZapValue``): a dead object with logical id 0 and no fields
ZAP = HeapObject(0, Map.ZAPPED, [], _ZapPage(), 0)  # type: ignore[arg-type]
