"""Object sizes as a heap walker reads them from the header: ``SizeFromMap``.

Mirrors V8's ``HeapObject::SizeFromMap``: most objects have a fixed size
their map knows; a ``ByteArray``'s size is computed from its map *and* its
length word (a byte count, rounded up to whole tagged words), the second
header word.  A walker that reads the size of an object whose header is
being rewritten (a ByteArray turning into another object in place, as the
deoptimizer's materialization does) reads a size that belongs to neither
layout.

Simplified: a tagged word is ``TAGGED_SIZE`` bytes; in the model a
ByteArray's first field *is* its length word and each further field one
data word, so a consistent ByteArray of ``n`` data words has length
``n * TAGGED_SIZE`` and size ``HEADER_WORDS + 1 + n``, like any object of
``1 + n`` fields.  Every other map's size is its field count (the model's
objects carry their instance size in the field list).
"""

from __future__ import annotations

from testbed.heap.objects import HEADER_WORDS, HeapObject, Map

__all__ = ["TAGGED_SIZE", "byte_array_length_for", "size_from_map"]

#: bytes per tagged word (V8's ``kTaggedSize`` on a 64-bit build without pointer compression)
TAGGED_SIZE = 8


def byte_array_length_for(data_words: int) -> int:
    """The length word of a ByteArray whose data spans ``data_words`` words."""
    return data_words * TAGGED_SIZE


def size_from_map(obj: HeapObject) -> int:
    """The object's size in words as its header (map word, then length word) says.

    Reads the map word, then, for a ByteArray, the length word: two reads
    of a header someone may be rewriting.  A length word that does not hold
    a byte count (a tagged reference) counts as empty data, as garbage bits
    would in C++ give some unrelated size.
    """
    word = obj.map_word
    if word is Map.BYTE_ARRAY:
        length = obj.fields[0] if obj.fields else 0
        data = -(-length // TAGGED_SIZE) if isinstance(length, int) and length > 0 else 0
        return HEADER_WORDS + 1 + data
    return HEADER_WORDS + len(obj.fields)
