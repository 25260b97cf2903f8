"""Mutator threads: the JavaScript threads of the model, with their roots.

A :class:`Mutator` is what V8 splits over ``LocalHeap`` (thread state,
LABs, and here the store buffer) and the thread's part of ``Isolate`` roots
(handle scopes, stack frames).  Its public methods are the API a workload
program is written against (docs/design.md, 'Python API'): every heap access goes
through a handle, every store through the write barrier, and ``poll`` is
the stack check where the thread joins a pending GC.

Several mutators running JavaScript in one isolate at once is a model
choice: V8 lets one thread at a time use an isolate (docs/v8-mapping.md).

Each heap operation first tells the observer (so the world-stopped checker
can see a mutator acting during a GC) and then reports what it did (so the
shadow graph can follow the program without looking at the heap).
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from testbed.heap import (
    Code,
    Handle,
    HandleScope,
    HeapObject,
    Kind,
    Map,
    StaleHandleError,
    StoreBuffer,
    Tagged,
    ThreadAllocator,
    write_field,
)
from testbed.heap.double_buffer import buffer_fields, buffer_length, carve_heap_number, reserve_lids, trim_to_header
from testbed.heap.folding import allocate_folded, fold, initialize_folded
from testbed.heap.layout import property_holder, tagged_count
from testbed.heap.normalize import migrate_to_dictionary
from testbed.runtime.frames import Frame
from testbed.runtime.safepoint import ThreadState
from testbed.sched import point

if TYPE_CHECKING:
    from testbed.runtime.isolate import Isolate

__all__ = ["HeapExhausted", "Mutator", "Value"]

#: what workload code passes around: a handle, a Smi or nothing
Value = Handle | int | None


#: collections one allocation may wait through before giving up
_ALLOCATION_ATTEMPTS = 64


class HeapExhausted(RuntimeError):
    """New space stayed full even after collecting (live young data too large)."""


class Mutator:
    """One mutator thread's state and its workload API."""

    def __init__(self, isolate: Isolate, index: int, seed: int) -> None:
        config = isolate.config
        self.isolate = isolate
        self.index = index
        self.name = f"mutator-{index}"
        #: the program's only source of randomness, derived from the run seed
        self.rng = random.Random(seed)
        self.state = ThreadState.RUNNING
        #: the StackGuard interrupt: set by a GC initiator, tested by poll()
        self.interrupt = False
        self.store_buffer = StoreBuffer(config.store_buffer_capacity, isolate.heap.remembered_set, config.faults)
        self.allocator = ThreadAllocator(isolate.heap)
        self.scopes: list[HandleScope] = []
        self.frames: list[Frame] = []
        self.allocations = 0
        self.thread: threading.Thread | None = None
        self._observer = isolate.observer
        self._globals_base = index * config.globals_per_mutator
        self._gc_interval = config.gc_interval
        self._faults = config.faults

    # -- safepoint ------------------------------------------------------------

    def poll(self) -> None:
        """Stack check at a loop back-edge: join a pending GC, if any."""
        self.isolate.safepoint.poll(self)

    @contextlib.contextmanager
    def parked(self) -> Iterator[None]:
        """A blocking region: the thread may not touch the heap inside it.

        With the isolate's Locker it is a ``v8::Unlocker``: the thread is
        archived, frames and all, and another may run until it re-enters.
        """
        locker = self.isolate.locker
        if locker is not None:
            locker.leave(self)
            try:
                yield
            finally:
                locker.enter(self)
            return
        self.isolate.safepoint.park(self)
        try:
            yield
        finally:
            self.isolate.safepoint.unpark(self)

    # -- handle scopes and frames ----------------------------------------------

    def open_scope(self) -> HandleScope:
        scope = HandleScope(len(self.scopes))
        self.scopes.append(scope)
        self._observer.on_root_push(self, "scope", 0)
        return scope

    def close_scope(self) -> None:
        scope = self.scopes.pop()
        scope.closed = True
        self._observer.on_root_pop(self, "scope")

    @contextlib.contextmanager
    def scope(self) -> Iterator[HandleScope]:
        """``with m.scope():`` -- handles made inside die at the end."""
        scope = self.open_scope()
        try:
            yield scope
        finally:
            if self.scopes and self.scopes[-1] is scope:
                self.close_scope()

    def enter_frame(self, size: int, code: HeapObject | None = None) -> Frame:
        frame = Frame(len(self.frames), size, code)
        self.frames.append(frame)
        self._observer.on_root_push(self, "frame", size)
        return frame

    def leave_frame(self) -> None:
        self.frames.pop()
        self._observer.on_root_pop(self, "frame")

    def frame_store(self, index: int, value: Value) -> None:
        """Write a slot of the innermost frame."""
        self.frame_store_word(index, self._raw(value))

    def frame_store_word(self, index: int, raw: Tagged) -> None:
        """Write a raw word into a slot of the innermost frame (the deoptimizer's output frame)."""
        self._observer.on_heap_op(self, "frame-store")
        self.frames[-1].slots[index] = raw
        self._observer.on_root_write(self, "frame", index, raw)

    def frame_load(self, index: int) -> Value:
        self._observer.on_heap_op(self, "frame-load")
        return self._wrap(self.frames[-1].slots[index])

    def describe_frame(self) -> list[Tagged]:
        """A copy of the innermost frame's words (V8's input ``FrameDescription``).

        The copy is raw: no GC visits it, so its object words go stale if
        objects move while it is held.
        """
        self._observer.on_heap_op(self, "frame-load")
        return list(self.frames[-1].slots)

    def newest_handle(self) -> Handle | None:
        """The handle made last in the innermost scope, if that scope has any."""
        if not self.scopes or not self.scopes[-1].slots:
            return None
        scope = self.scopes[-1]
        return Handle(scope, len(scope.slots) - 1)

    def set_global(self, index: int, value: Value) -> None:
        """Write this mutator's global handle ``index`` (a strong root)."""
        raw = self._raw(value)
        self._observer.on_heap_op(self, "global-store")
        self.isolate.globals[self._globals_base + index] = raw
        self._observer.on_global_write(self, index, raw)

    def get_global(self, index: int) -> Value:
        self._observer.on_heap_op(self, "global-load")
        return self._wrap(self.isolate.globals[self._globals_base + index])

    # -- heap operations -------------------------------------------------------

    def alloc(self, fields: int = 2, old: bool = False, kind: Kind = Kind.PLAIN) -> Handle:
        """Allocate an object with empty fields; may run (or join) a scavenge first."""
        self.allocations += 1
        if self._gc_interval and self.allocations % self._gc_interval == 0:
            self.isolate.collect_garbage(self)
        for _ in range(_ALLOCATION_ATTEMPTS):
            self._observer.on_heap_op(self, "alloc")
            obj = self.allocator.allocate(kind, fields, old)
            if obj is not None:
                self._observer.on_alloc(self, obj)
                return self._new_handle(obj)
            # Allocation slow path: new space is exhausted, so collect.  Other
            # threads may use up the freed space before this one retries (a
            # scheduler may starve it); survivors of two scavenges are promoted,
            # so only starvation can make this loop run out.
            self.isolate.collect_garbage(self)
        raise HeapExhausted(f"{self.name}: no room in new space after {_ALLOCATION_ATTEMPTS} collections")

    def store(self, host: Handle, index: int, value: Value, barrier: bool = True) -> None:
        """``host.fields[index] = value`` through the write barrier (``barrier=False``: only a bug)."""
        raw = self._raw(value)
        self._observer.on_heap_op(self, "store")
        obj = property_holder(host.get())
        write_field(obj, index, raw, self.store_buffer if barrier else None)
        self._observer.on_field_write(self, obj, index, raw)

    def initialize_map(self, host: Handle, kind: Kind) -> None:
        """Publish ``host``'s final map after its fields were written in place (a release store).

        The last step of turning placeholder storage into the object it
        stands for (the deoptimizer's ``set_map(..., kReleaseStore)``).
        """
        self._observer.on_heap_op(self, "set-map")
        obj = host.get()
        point("object-set-map", obj.lid)
        obj.map_word = Map.of(kind)

    def load(self, host: Handle, index: int) -> Value:
        """``host.fields[index]``, with a new handle for an object value."""
        self._observer.on_heap_op(self, "load")
        obj = property_holder(host.get())
        raw = obj.fields[index]
        self._observer.on_field_read(self, obj, index, raw)
        return self._wrap(raw)

    # -- optimized code -------------------------------------------------------

    def load_embedded(self, code: Code, index: int) -> Tagged:
        """Running ``code``: load field 0 of its embedded object ``index`` (what the load got).

        The object's address is in the instructions, not in a handle or a
        frame: code the deoptimizer invalidated holds nothing there (None,
        which has no fields: the load reads None and the thread runs on), and
        a freed object's fields are the zap value.
        """
        self._observer.on_heap_op(self, "load")
        point("code-embedded-read", code.lid)
        target = code.embedded[index]
        self._observer.on_embedded_read(self, code, index, target)
        if not isinstance(target, HeapObject):
            return None
        raw = target.fields[0]
        self._observer.on_field_read(self, target, 0, raw)
        return raw

    def call_optimized(self, function: int) -> Frame:
        """Call function ``function``: a new activation, running optimized code if it is hot."""
        self.isolate.deoptimizer.call(self, function)
        return self.frames[-1]

    def fail_guard(self) -> bool:
        """A speculative guard of the innermost activation fails: eager deopt (True if it was optimized)."""
        if self.frames:
            self._observer.on_execute(self, self.frames[-1])
        return self.isolate.deoptimizer.fail_guard(self)

    def return_from_call(self) -> None:
        """Return from the innermost activation, deoptimizing it lazily first if its code was marked."""
        if self.frames:
            self._observer.on_execute(self, self.frames[-1])
        self.isolate.deoptimizer.check_lazy(self)
        self.leave_frame()

    # -- layout changes and folded allocation -----------------------------------

    def normalize(self, host: Handle) -> Handle | None:
        """Migrate ``host`` to dictionary mode (V8's ``NormalizeProperties``); its dictionary's handle.

        The properties are copied into a young property dictionary (a
        ``Kind.PROPERTY_DICTIONARY`` object, which is not plain and so is
        never normalized itself), then the host's map changes and its in-object words other than field 0 stop
        being tagged (:mod:`testbed.heap.normalize`).  Loads and stores of
        the host then reach the dictionary.  None if ``host`` is already slow
        or not a plain object.
        """
        if host.get().map is not Map.PLAIN:
            return None
        fields = len(host.get().fields)
        dictionary = self.alloc(fields, kind=Kind.PROPERTY_DICTIONARY)  # may scavenge: read the host after it
        obj, target = host.get(), dictionary.get()
        for index in range(fields):
            raw = obj.fields[index]
            self._observer.on_heap_op(self, "store")
            write_field(target, index, raw, self.store_buffer)
            self._observer.on_field_write(self, target, index, raw)
        self._observer.on_heap_op(self, "normalize")
        migrate_to_dictionary(obj, target, self.store_buffer, self.isolate.heap.remembered_set, self._faults)
        # The program's graph: the host now holds only its dictionary.
        for index in range(fields):
            self._observer.on_field_write(self, obj, index, target if index < tagged_count(obj) else None)
        return dictionary

    def alloc_folded(self, count: int = 2, fields: int = 2, old: bool = False, value: Value = None) -> list[Handle]:
        """A nested literal from optimized code: ``count`` objects, each one's field 0 the next, the last's ``value``.

        A young group is one folded allocation whose initializing stores skip
        the barrier (:mod:`testbed.heap.folding`); a pretenured (``old``)
        group is allocated object by object with barriers, as nodejs/node#7303
        proposed for nodejs/node#5900 (its landing unconfirmed), unless the
        fault folds it anyway.
        """
        if count < 1 or fields < 1:
            raise ValueError(f"a folded group needs count >= 1 and fields >= 1, got {count}, {fields}")
        if not fold(old, self._faults):
            handles = [self.alloc(fields, old=old) for _ in range(count)]
            for position, handle in enumerate(handles):
                self.store(handle, 0, handles[position + 1] if position + 1 < count else value)
            return handles
        self.allocations += 1
        if self._gc_interval and self.allocations % self._gc_interval == 0:
            self.isolate.collect_garbage(self)
        for _ in range(_ALLOCATION_ATTEMPTS):
            self._observer.on_heap_op(self, "alloc")
            objects = allocate_folded(self.allocator, [fields] * count, old)
            if objects is not None:
                break
            self.isolate.collect_garbage(self)
        else:
            raise HeapExhausted(f"{self.name}: no room in new space after {_ALLOCATION_ATTEMPTS} collections")
        for obj in objects:
            self._observer.on_alloc(self, obj)
        handles = [self._new_handle(obj) for obj in objects]
        raw = self._raw(value)
        self._observer.on_heap_op(self, "store")
        for host, index, stored in initialize_folded(objects, raw, self.store_buffer, elide_barrier=True):
            self._observer.on_field_write(self, host, index, stored)
        return handles

    def build_json_object(self, values: list[int]) -> Handle:
        """``JSON.parse`` building a pretenured object whose fields are heap numbers (``BuildJsonObject``).

        One old ByteArray is allocated for all the numbers, then the object
        (an allocation: a mark-compact may run here and hand the buffer's
        page to the concurrent sweeper); then, allocating nothing, each
        number is carved out of the buffer's payload and stored, and the
        buffer is trimmed to its header (:mod:`testbed.heap.double_buffer`).
        Before the trim the buffer's page must be swept (V8 81181a8ad80a,
        v8:11837); fault ``json-buffer-trimmed-unswept`` trims at once.
        """
        isolate = self.isolate
        buffer = self.alloc(buffer_fields(len(values)), old=True, kind=Kind.BYTE_ARRAY)
        self.store(buffer, 0, buffer_length(len(values)))
        lids = reserve_lids(isolate.heap, len(values))
        host = self.alloc(len(values), old=True)  # may collect: the buffer is marked, its payload words are not
        carved = []
        for index, value in enumerate(values):
            number = carve_heap_number(buffer.get(), index, lids[index], value)
            self._observer.on_alloc(self, number)
            self._observer.on_heap_op(self, "store")
            write_field(host.get(), index, number, self.store_buffer)
            self._observer.on_field_write(self, host.get(), index, number)
            carved.append(number)
        full = isolate.full_collector
        if full is not None and "json-buffer-trimmed-unswept" not in self._faults:
            full.ensure_swept(buffer.get().page, isolate)
        self._observer.on_heap_op(self, "trim")
        trim_to_header(buffer.get(), carved)
        # The program's view: the buffer is now a header-only ByteArray, as if made so.
        self._observer.on_alloc(self, buffer.get())
        isolate.events.record(
            "json-object",
            f"#{host.get().lid}: {len(carved)} heap number(s) carved from ByteArray #{buffer.get().lid} "
            f"on {buffer.get().page.name}, which is trimmed to its header",
        )
        return host

    # -- helpers -------------------------------------------------------------

    def _raw(self, value: Value) -> Tagged:
        return value.get() if isinstance(value, Handle) else value

    def _wrap(self, raw: Tagged) -> Value:
        return self._new_handle(raw) if isinstance(raw, HeapObject) else raw

    def _new_handle(self, obj: HeapObject) -> Handle:
        if not self.scopes:
            raise StaleHandleError(f"{self.name}: no open handle scope")
        handle = self.scopes[-1].new_handle(obj)
        self._observer.on_root_write(self, "scope", handle.index, obj)
        return handle

    def __repr__(self) -> str:
        return f"<Mutator {self.name} {self.state.value}>"
