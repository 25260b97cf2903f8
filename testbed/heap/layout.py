"""Object layouts: which words of an object hold tagged values.

Mirrors how V8 decides which words of an object the collectors visit: the
object's map names a body descriptor (``BodyDescriptor``, and from 2014 to
2020 a ``LayoutDescriptor`` marking unboxed double fields), so a map change
can turn tagged words into untagged data.  Here the only layout with
untagged words is a plain object in dictionary mode (``Map.DICTIONARY``):
field 0 points at its property dictionary and the other in-object words
are untagged (see :mod:`testbed.heap.normalize`).

Simplified: V8 writes Smi zero over the in-object words of a slow-mode
object (``MigrateFastToSlow``, src/objects.cc); the model leaves them as
they were, so they stand for raw data whose bits look like pointers (an
unboxed double can).  Nothing may read them as values: the collectors ask
:func:`tagged_fields`, and the verifier derives the same from the map word
itself (:mod:`testbed.check.raw`).
"""

from __future__ import annotations

from testbed.heap.objects import HeapObject, Map

__all__ = ["DICTIONARY_TAGGED_FIELDS", "property_holder", "tagged_count", "tagged_fields"]

#: tagged in-object fields of a dictionary-mode object: the dictionary pointer
DICTIONARY_TAGGED_FIELDS = 1


def tagged_count(obj: HeapObject) -> int:
    """How many leading fields of ``obj`` are tagged (the rest are untagged data)."""
    fields = len(obj.fields)
    if obj.map is Map.DICTIONARY:
        return min(DICTIONARY_TAGGED_FIELDS, fields)
    return fields


def tagged_fields(obj: HeapObject) -> range:
    """Indices of ``obj``'s tagged fields, the only ones a collector may visit."""
    return range(tagged_count(obj))


def property_holder(obj: HeapObject) -> HeapObject:
    """Where property ``i`` of ``obj`` lives: ``obj`` itself, or its dictionary once it is slow."""
    if obj.map is Map.DICTIONARY:
        dictionary = obj.fields[0]
        assert isinstance(dictionary, HeapObject), f"#{obj.lid} is in dictionary mode without a dictionary"
        return dictionary
    return obj
