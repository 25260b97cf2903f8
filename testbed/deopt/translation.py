"""Deoptimization data: what an optimized frame holds and how to rebuild it.

Mirrors V8's ``DeoptimizationData`` and its translations
(src/deoptimizer/translation-array.h, ``TranslatedState``): per deopt point,
which frame slots hold plain values and which hold the raw parts of
*captured* objects that optimized code never allocated (escape analysis
removed them), which the deoptimizer must materialize as real heap objects,
here a heap number boxing an unboxed value or a closure over the context.

Simplified: the deoptimization data is a plain Python value on the code
object, not a heap object; a translation lists only the captured objects
(every other slot is kept as it is), each a heap number or a closure whose
unboxed part is in one frame slot.
"""

from __future__ import annotations

import dataclasses
import random

from testbed.heap import Kind

__all__ = ["CapturedObject", "DeoptimizationData", "Translation"]


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
class Translation:
    captured: tuple[CapturedObject, ...]


@dataclasses.dataclass(frozen=True)
class DeoptimizationData:
    """One translation per deopt point of an optimized code object."""

    frame_size: int
    context_fields: int
    points: tuple[Translation, ...]

    @staticmethod
    def generate(rng: random.Random, frame_size: int, context_fields: int, points: int) -> DeoptimizationData:
        """Deopt data for a function compiled with the given frame shape (seeded)."""
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
            translations.append(Translation(captured))
        return DeoptimizationData(frame_size, context_fields, tuple(translations))
