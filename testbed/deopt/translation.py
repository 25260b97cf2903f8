"""Deoptimization data: what an optimized frame holds and how to rebuild it.

Mirrors V8's ``DeoptimizationData`` and its translations
(src/deoptimizer/translation-array.h, ``TranslatedState``): per deopt point,
which frame slots hold plain values and which hold the raw parts of
*captured* objects that optimized code never allocated (escape analysis
removed them), which the deoptimizer must materialize as real heap objects,
here a heap number boxing an unboxed value or a closure over the context.
With ``captured_arrays`` a translation also captures arrays: their elements
are boxed in heap numbers and the array itself is materialized in two
phases through old-space ByteArray storage (:mod:`testbed.deopt.object_storage`).

Simplified: the deoptimization data is a plain Python value on the code
object, not a heap object; a translation lists only the captured objects
(every other slot is kept as it is), each a heap number or a closure whose
unboxed part is in one frame slot.
"""

from __future__ import annotations

import dataclasses
import random

from testbed.heap import Kind

__all__ = ["CapturedArray", "CapturedObject", "DeoptimizationData", "Translation"]


@dataclasses.dataclass(frozen=True)
class CapturedObject:
    """Frame slot ``slot`` holds the unboxed value of an object of ``kind``.

    Materializing it allocates a young object of ``fields`` fields whose
    field 0 is that value, puts it back in the slot, and stores it into
    field ``context_field`` of the activation's (old) context.
    """

    slot: int
    kind: Kind
    fields: int
    context_field: int


@dataclasses.dataclass(frozen=True)
class CapturedArray:
    """Frame slot ``slot`` holds the ``length`` unboxed elements of an array escape analysis removed.

    Materializing it makes an old-space FixedArray of heap numbers, puts it
    back in the slot and stores it into context field ``context_field``.
    """

    slot: int
    length: int
    context_field: int


@dataclasses.dataclass(frozen=True)
class Translation:
    captured: tuple[CapturedObject, ...]
    arrays: tuple[CapturedArray, ...] = ()


@dataclasses.dataclass(frozen=True)
class DeoptimizationData:
    """One translation per deopt point of an optimized code object."""

    frame_size: int
    context_fields: int
    points: tuple[Translation, ...]

    @staticmethod
    def generate(
        rng: random.Random, frame_size: int, context_fields: int, points: int, arrays: bool = False
    ) -> DeoptimizationData:
        """Deopt data for a function compiled with the given frame shape (seeded).

        ``arrays``: each translation also captures one array of 2-4 elements
        (drawn after the objects, so the draws without arrays stay what they
        were).
        """
        translations = []
        for _ in range(points):
            slots = rng.sample(range(1, frame_size), rng.randint(1, min(3, frame_size - 1)))
            captured = tuple(
                CapturedObject(
                    slot=slot,
                    kind=rng.choice((Kind.HEAP_NUMBER, Kind.CLOSURE)),
                    fields=rng.randint(1, 2),
                    context_field=rng.randrange(context_fields),
                )
                for slot in sorted(slots)
            )
            captured_arrays: tuple[CapturedArray, ...] = ()
            if arrays:
                slot = rng.choice([s for s in range(1, frame_size) if s not in slots] or [frame_size - 1])
                captured_arrays = (CapturedArray(slot, rng.randint(2, 4), rng.randrange(context_fields)),)
            translations.append(Translation(captured, captured_arrays))
        return DeoptimizationData(frame_size, context_fields, tuple(translations))
