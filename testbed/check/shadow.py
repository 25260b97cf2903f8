"""The shadow-graph oracle: the logical heap as the mutators' programs built it.

A collector is correct when, after it ran, the graph reachable from the
roots is the graph the program built: same objects (by logical id), same
edges, same Smis.  The shadow graph records that graph from the mutators'
own operations (allocations, stores, root writes), never from the heap, so
a collector bug cannot corrupt both sides the same way.  V8 has no such
oracle; its nearest relative is ``--verify-heap`` plus differential fuzzing.

Mutators write the shadow from their own threads, right after each
operation; each mutator only touches its own roots and objects, so the
updates never race each other.  It is read only with the world stopped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from testbed.heap import HeapObject, Tagged

if TYPE_CHECKING:
    from testbed.runtime import Mutator

__all__ = ["Logical", "ShadowGraph", "logical"]

#: a logical value: an object's lid, ("smi", n), or None
Logical = int | tuple[str, int] | None


def logical(value: Tagged) -> Logical:
    if isinstance(value, HeapObject):
        return value.lid
    if value is None:
        return None
    return ("smi", value)


class ShadowGraph:
    """Objects' logical fields and every root slot's logical value."""

    def __init__(self, mutators: int, globals_per_mutator: int) -> None:
        self.fields: dict[int, list[Logical]] = {}
        self.scopes: list[list[list[Logical]]] = [[] for _ in range(mutators)]
        self.frames: list[list[list[Logical]]] = [[] for _ in range(mutators)]
        self.globals: list[Logical] = [None] * (mutators * globals_per_mutator)
        self._globals_per_mutator = globals_per_mutator

    def alloc(self, obj: HeapObject) -> None:
        self.fields[obj.lid] = [logical(v) for v in obj.fields]

    def field_write(self, host: HeapObject, index: int, value: Tagged) -> None:
        self.fields[host.lid][index] = logical(value)

    def _stack(self, mutator: Mutator, stack: str) -> list[list[Logical]]:
        return (self.scopes if stack == "scope" else self.frames)[mutator.index]

    def root_push(self, mutator: Mutator, stack: str, size: int) -> None:
        self._stack(mutator, stack).append([None] * size)

    def root_pop(self, mutator: Mutator, stack: str) -> None:
        self._stack(mutator, stack).pop()

    def root_write(self, mutator: Mutator, stack: str, index: int, value: Tagged) -> None:
        area = self._stack(mutator, stack)[-1]
        if index == len(area):
            area.append(logical(value))
        else:
            area[index] = logical(value)

    def global_write(self, mutator: Mutator, index: int, value: Tagged) -> None:
        self.globals[mutator.index * self._globals_per_mutator + index] = logical(value)

    def areas(self) -> list[list[Logical]]:
        """Root slot lists in the order :func:`testbed.check.raw.roots` lists the heap's."""
        areas = [self.globals]
        for scopes, frames in zip(self.scopes, self.frames, strict=True):
            areas.extend(scopes)
            areas.extend(frames)
        return areas

    def prune(self, reachable: set[int]) -> None:
        """Forget objects no root reaches; they can never be reached again."""
        self.fields = {lid: f for lid, f in self.fields.items() if lid in reachable}
