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

Each bucket has a summary word, one bit per cell, that an insertion sets
after the cell: readers skip a cell whose summary bit is clear.  It is
.NET's card bundle over its card table (a cell of 32 slot bits stands for a
card word of 32 cards, src/coreclr/gc/gc.cpp): with ``Config.card_chunk_cells``
the scavenger clears a bundle bit once its chunk leaves the cell empty
(:meth:`SlotSet.clear_empty_summaries`), and an insertion that finds its bit
already set writes nothing, as .NET's write barrier does not touch a card
(or its bundle) that is already set.  Otherwise nothing clears a summary bit
but releasing its bucket, so it covers every non-empty cell and changes
nothing.

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

    __slots__ = ("buckets", "summary")

    def __init__(self, capacity: int) -> None:
        self.buckets: list[list[int] | None] = [None] * (-(-capacity // BUCKET_SLOTS))
        #: per bucket, bit ``c`` set: cell ``c`` may hold bits (.NET's card bundle bits)
        self.summary: list[int] = [0] * len(self.buckets)

    def insert(self, address: int, skip_if_set: bool = False) -> None:
        """Set the bit for ``address``, then its cell's summary bit; points inside each read-modify-write.

        ``skip_if_set``: a bit already set is left alone and the summary is
        not written (.NET's barrier: a set card is not written again).
        """
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
        if skip_if_set and value & bit:
            return
        bucket[cell] = value | bit
        self.summary[index] |= 1 << cell

    def contains(self, address: int) -> bool:
        b = address // BUCKET_SLOTS
        bucket = self.buckets[b]
        if bucket is None:
            return False
        cell = (address // CELL_BITS) % CELLS_PER_BUCKET
        return bool(self.summary[b] >> cell & 1 and bucket[cell] >> (address % CELL_BITS) & 1)

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

    def clear_cards(self, start: int, end: int) -> None:
        """Clear the bits of ``[start, end)`` as .NET's ``clear_cards`` does, with no lock.

        A partial first or last cell is read, then stored back masked (a
        point in between), whether or not it has bits in the range; whole
        cells are stored as 0.  Safe only while no other thread writes the
        cells the range touches: a scavenger task clears inside its own chunk.
        """
        address = start
        while address < end:
            cell_start = address - address % CELL_BITS
            cell_end = min(end, cell_start + CELL_BITS)
            bucket = self.buckets[address // BUCKET_SLOTS]
            if bucket is not None:
                cell = (address // CELL_BITS) % CELLS_PER_BUCKET
                if address == cell_start and cell_end == cell_start + CELL_BITS:
                    bucket[cell] = 0
                else:
                    mask = ((1 << (cell_end - address)) - 1) << (address % CELL_BITS)
                    value = bucket[cell]
                    point("card-clear-write", cell_start)
                    bucket[cell] = value & ~mask
            address = cell_end

    def clear_empty_summaries(self, start: int, end: int) -> None:
        """Clear the summary bit of each empty cell in ``[start, end)`` (cell-aligned); callers lock.

        .NET clears a card bundle bit once it finds none of its cards set.
        """
        for cell_start in range(start, end, CELL_BITS):
            b = cell_start // BUCKET_SLOTS
            bucket = self.buckets[b]
            cell = (cell_start // CELL_BITS) % CELLS_PER_BUCKET
            if bucket is None or not bucket[cell]:
                self.summary[b] &= ~(1 << cell)

    def next_set(self, address: int) -> int | None:
        """The first address at or after ``address`` whose bit is set, summary or not."""
        for b in range(address // BUCKET_SLOTS, len(self.buckets)):
            bucket = self.buckets[b]
            if bucket is None:
                continue
            for c in range(CELLS_PER_BUCKET):
                base = b * BUCKET_SLOTS + c * CELL_BITS
                value = bucket[c]
                if base + CELL_BITS <= address or not value:
                    continue
                if base < address:
                    value &= ~((1 << (address - base)) - 1)
                if value:
                    return base + (value & -value).bit_length() - 1
        return None

    def addresses(self, start: int = 0, end: int | None = None) -> Iterator[int]:
        """Set slot addresses in ascending order, in cells whose summary bit is set.

        ``start`` and ``end`` (cell-aligned) bound the cells visited.
        """
        first_bucket = start // BUCKET_SLOTS
        for b, bucket in enumerate(self.buckets[first_bucket:], first_bucket):
            if bucket is None:
                continue
            summary = self.summary[b]
            for c, value in enumerate(bucket):
                base = b * BUCKET_SLOTS + c * CELL_BITS
                if base < start or not summary >> c & 1:
                    continue
                if end is not None and base >= end:
                    return
                while value:
                    low = value & -value
                    yield base + low.bit_length() - 1
                    value ^= low

    def release_empty_buckets(self) -> None:
        """Drop buckets with no bit set (V8 frees them after filtering)."""
        for b, bucket in enumerate(self.buckets):
            if bucket is not None and not any(bucket):
                self.buckets[b] = None
                self.summary[b] = 0

    def __len__(self) -> int:
        return sum(1 for _ in self.addresses())
