"""Raw reads of the model's data, written apart from the code that maintains it.

The verifier must not be fooled by the bug it is looking for, so it never
asks the model's own helpers what the heap holds: not the isolate's root
enumeration (``Isolate.root_areas``), not the page walkers
(``Page.objects``, ``Heap.old_objects``), not the write barrier's
old-to-young predicate, not the remembered set's slot encoding or decoding
(``SlotSet.addresses``/``contains``, ``RememberedSet.slots_of``), not the
weak list's iterator.  It reads the data those helpers read (root slot
lists, the page's word-to-object map, the slot set's bucket words, the
``next_code_link`` chain) and derives everything itself, as Go's
``gccheckmark`` re-marks the heap with its own code.  A bug in one of those
helpers then shows up as a disagreement instead of fooling the collector
and its checker alike.

The layout constants below restate what the heap's layout is (one map word
before the fields; 32-bit cells, 32 cells a bucket); a test checks them
against the heap's own, so a change of layout is noticed, not absorbed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from testbed.heap import HeapObject, Map, Tagged

if TYPE_CHECKING:
    from testbed.heap import Code, Page
    from testbed.runtime import Isolate

__all__ = [
    "CELLS_PER_BUCKET",
    "CELL_BITS",
    "HEADER_WORDS",
    "death",
    "code_roots",
    "objects_on",
    "remembered_addresses",
    "roots",
    "slot_address",
    "tagged_count",
    "weak_list",
]

#: words before an object's first field (the map word)
HEADER_WORDS = 1
#: slot bits per slot-set cell, and cells per bucket
CELL_BITS = 32
CELLS_PER_BUCKET = 32
#: tagged fields of a dictionary-mode object (its dictionary pointer); its other words are untagged
DICTIONARY_TAGGED_FIELDS = 1


def death(obj: HeapObject) -> str | None:
    """``"zapped"`` or ``"freed"`` when the object's map word is poison, else None."""
    word = obj.map_word
    if word is Map.ZAPPED:
        return "zapped"
    if word is Map.FREED:
        return "freed"
    return None


def roots(isolate: Isolate) -> Iterator[tuple[str, list[Tagged]]]:
    """Every root slot list with a name: global handles, then each mutator's scopes and frames.

    The order is the shadow graph's (globals first, then per mutator its
    handle scopes, then its frames), so the two can be compared area by area.
    """
    yield "globals", isolate.globals
    for mutator in isolate.mutators:
        for scope in mutator.scopes:
            yield f"{mutator.name} scope {scope.depth}", scope.slots
        for frame in mutator.frames:
            yield f"{mutator.name} frame {frame.depth}", frame.slots


def code_roots(isolate: Isolate) -> dict[int, HeapObject]:
    """Code that must stay alive: what any frame points at, and every function's code.

    Stricter than the collector on purpose: a frame that still points at
    code will run it, patched or not, so freeing it is a bug whichever
    frame kept the pointer.
    """
    live: dict[int, HeapObject] = {}
    for mutator in isolate.mutators:
        for frame in mutator.frames:
            if frame.code is not None:
                live[frame.code.lid] = frame.code
    for function in isolate.deoptimizer.functions if isolate.deoptimizer is not None else ():
        for code in (function.interpreter_code, function.optimized_code):
            if code is not None:
                live[code.lid] = code
    return live


def objects_on(page: Page) -> list[HeapObject]:
    """The objects a page's words are covered by, in address order."""
    # An object covers consecutive words and objects never overlap, so the
    # first-seen order of the distinct objects is their address order.
    return [obj for obj in dict.fromkeys(page.words) if obj is not None]


def tagged_count(host: HeapObject) -> int:
    """How many leading fields of ``host`` are tagged, read from its map word.

    A dictionary-mode object keeps only its dictionary pointer tagged; the
    words after it are untagged data whatever they hold.
    """
    fields = len(host.fields)
    return min(DICTIONARY_TAGGED_FIELDS, fields) if host.map_word is Map.DICTIONARY else fields


def slot_address(host: HeapObject, index: int) -> int:
    """The page word address of field ``index`` of ``host``."""
    return host.offset + HEADER_WORDS + index


def remembered_addresses(page: Page) -> set[int]:
    """Slot addresses whose bit is set in the page's slot-set words, in cells whose summary bit is set.

    A bit under a clear summary bit is one no scavenger reads (.NET: a card
    whose card bundle bit is clear), so it is not remembered.
    """
    found: set[int] = set()
    summaries = page.slot_set.summary
    for b, bucket in enumerate(page.slot_set.buckets):
        if bucket is None:
            continue
        for c, word in enumerate(bucket):
            if not word or not summaries[b] >> c & 1:
                continue
            base = (b * CELLS_PER_BUCKET + c) * CELL_BITS
            found.update(base + bit for bit in range(CELL_BITS) if word >> bit & 1)
    return found


def weak_list(isolate: Isolate, limit: int) -> tuple[list[Code], bool]:
    """The weak code list by its ``next_code_link`` chain; True if it repeats an entry (a cycle)."""
    entries: list[Code] = []
    seen: set[int] = set()
    node = isolate.heap.weak_code_list.head
    while node is not None and len(entries) < limit:
        if node.lid in seen:
            return entries, True
        seen.add(node.lid)
        entries.append(node)
        node = node.next_code_link
    return entries, False
