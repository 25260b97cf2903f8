"""Per-page slot sets: the buckets of bit cells the remembered set is made of.

Mirrors V8's ``SlotSet`` (src/heap/base/basic-slot-set.h): a page's slots are
split into buckets of ``BUCKET_SLOTS`` slots, each bucket allocated lazily
and made of 32-bit cells with one bit per slot.  Setting a bit is a
read-modify-write of its cell, and allocating a bucket is a read-then-publish
of the bucket pointer; V8 makes both atomic or runs them under a lock.  Here
there is a scheduling point inside each, so an insertion that skips the
remembered set's lock can really lose another thread's bit or bucket.

Clearing a range (the sweeper) reads each cell and stores it back masked,
with a point in between.

Simplified: with pages of a few hundred words a slot set has one or two
buckets; the scavenger releases empty buckets after filtering, atomically
among its tasks.
"""

from __future__ import annotations

from collections.abc import Iterator

from testbed.sched import point

__all__ = ["BUCKET_SLOTS", "CELL_BITS", "SlotSet"]

CELL_BITS = 32
CELLS_PER_BUCKET = 32
BUCKET_SLOTS = CELL_BITS * CELLS_PER_BUCKET


class SlotSet:
    """Bit per slot address; callers provide the locking."""

    __slots__ = ("buckets",)

    def __init__(self, capacity: int) -> None:
        self.buckets: list[list[int] | None] = [None] * (-(-capacity // BUCKET_SLOTS))

    def insert(self, address: int) -> None:
        """Set the bit for ``address``: two read-modify-writes, each with a point inside."""
        index = address // BUCKET_SLOTS
        point("slot-set-read-bucket", index)
        bucket = self.buckets[index]
        if bucket is None:
            bucket = [0] * CELLS_PER_BUCKET
            point("slot-set-publish-bucket", index)
            self.buckets[index] = bucket
        cell = (address // CELL_BITS) % CELLS_PER_BUCKET
        bit = 1 << (address % CELL_BITS)
        point("slot-set-read-cell", address)
        value = bucket[cell]
        point("slot-set-write-cell", address)
        bucket[cell] = value | bit

    def contains(self, address: int) -> bool:
        bucket = self.buckets[address // BUCKET_SLOTS]
        if bucket is None:
            return False
        cell = (address // CELL_BITS) % CELLS_PER_BUCKET
        return bool(bucket[cell] >> (address % CELL_BITS) & 1)

    def remove(self, address: int) -> None:
        bucket = self.buckets[address // BUCKET_SLOTS]
        if bucket is not None:
            cell = (address // CELL_BITS) % CELLS_PER_BUCKET
            bucket[cell] &= ~(1 << (address % CELL_BITS))

    def clear_range(self, start: int, end: int) -> None:
        """Clear the bits of ``[start, end)``: each cell with bits in it is read, then stored back masked.

        V8's ``SlotSet::RemoveRange`` (the sweeper's free ranges).  The point
        between the read and the store is where a write by a thread that does
        not take the caller's lock is lost.
        """
        address = start
        while address < end:
            cell_end = min(end, address - address % CELL_BITS + CELL_BITS)
            bucket = self.buckets[address // BUCKET_SLOTS]
            if bucket is not None:
                cell = (address // CELL_BITS) % CELLS_PER_BUCKET
                mask = ((1 << (cell_end - address)) - 1) << (address % CELL_BITS)
                value = bucket[cell]
                if value & mask:
                    point("slot-set-clear-cell", address)
                    bucket[cell] = value & ~mask
            address = cell_end

    def addresses(self) -> Iterator[int]:
        """Set slot addresses in ascending order."""
        for b, bucket in enumerate(self.buckets):
            if bucket is None:
                continue
            for c, value in enumerate(bucket):
                base = b * BUCKET_SLOTS + c * CELL_BITS
                while value:
                    low = value & -value
                    yield base + low.bit_length() - 1
                    value ^= low

    def release_empty_buckets(self) -> None:
        """Drop buckets with no bit set (V8 frees them after filtering)."""
        for b, bucket in enumerate(self.buckets):
            if bucket is not None and not any(bucket):
                self.buckets[b] = None

    def __len__(self) -> int:
        return sum(1 for _ in self.addresses())
