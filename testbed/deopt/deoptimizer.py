"""The deoptimizer: from a failed guard in optimized code back to the interpreter.

Mirrors V8's deoptimization path (src/deoptimizer/, the
``DeoptimizationEntry`` builtins and ``TranslatedState``):

1. a speculative guard fails (eager) or a thread returns into code another
   thread marked (lazy); the check that notices it is a runtime call, during
   which the thread is parked;
2. the deopt entry leaves the runtime through the safepoint (unpark): if a
   GC is pending the thread waits it out before touching anything;
3. the output frame is computed from raw words (``Deoptimizer::New`` and
   ``DoComputeOutputFrames``, which "rely on this function not causing a
   GC"): the activation's words are copied into a frame description no GC
   visits and written back slot by slot as the output frame (a scheduling
   point per slot); then the translation of the deopt point says which
   frame slots hold unboxed parts of captured objects; each is
   materialized (``NotifyDeoptimized``, through handles) as a young object, put
   back in its slot and stored into the activation's old context through
   the write barrier (an old-to-young store: a store-buffer entry); captured
   arrays (``captured_arrays``) go through old-space ByteArray storage that
   is overwritten in place once its page is swept
   (:mod:`testbed.deopt.object_storage`);
4. the frame is rebuilt as an interpreter frame (its code becomes the
   function's interpreter code), the optimized code is marked for
   deoptimization, dropped from the function and linked onto the weak list
   of deoptimized code (once, however many threads deopt it).

Optimized code uses what its instructions embed: an activation that runs
its code (a return that the deoptimizer did not divert, the code up to a
failing guard) loads a field of each embedded object
(:meth:`Mutator.load_embedded`).

Faults: ``no-poll-in-deopt`` leaves the runtime without the safepoint
check, so the output frame is computed and the captured objects are
materialized while a scavenge may be running: a frame word copied before
the scavenger updated the frame is written back as a stale from-space
pointer, and objects allocated and stored during the pause change the
graph under the collector;
``missing-barrier-in-materialize`` stores the materialized objects into the
context without the barrier; ``stale-frame-code`` leaves the rebuilt frame
pointing at the optimized code: the frame counts as patched (the GC no
longer keeps that code alive through it) yet still returns into it, so once
the code's last unpatched activation is gone a mark-compact releases it and
the frame runs freed code; ``deopt-overwrites-during-sweep`` overwrites the
arrays' ByteArray storage without waiting for the sweeper (crbug.com/1228036).

A patched (deoptimized) frame is an interpreter frame: no guard of it can
fail and there is nothing left to deoptimize lazily.

With the isolate's Locker (``Config.locker``) the lazy half is V8's own:
marking code is followed by the deoptimizer's walk of the stacks
(``Deoptimizer::DeoptimizeMarkedCodeForContext`` with its
``ActivationsFinder``), which patches the return address of every other
activation of that code to the lazy-deopt trampoline, on the current
thread and, since V8 596d55a (v8:6563), on every archived thread
(``ThreadManager::IterateArchivedThreads``).  A return then deoptimizes
lazily when its frame was patched, not because the code is marked.  With
``embedded_objects`` the deoptimizer also clears the marked code's embedded
objects first (``InvalidateEmbeddedObjects``; since V8 ea0e1e21 for all code
marked for deoptimization, not only code found on the stack): they are
held weakly, and a marked code object is no longer tracked by the
dependency that would clear them when they die.

Faults: ``lazy-deopt-current-thread-only`` patches only the current
thread's stack (V8 before 596d55a), so an archived thread that enters
again returns into code whose embedded objects were cleared, and the code
loads through the cleared slot;
``embedded-refs-not-invalidated`` marks code without clearing its embedded
objects (V8 after CL 586707, before 596027 and ea0e1e21), so once a collection frees what they point
to, code kept alive by a patched activation still points at it.

Without the Locker, ``embedded_objects`` switches to HotSpot's two steps
(``CodeCache::mark_for_deoptimization``, then
``Deoptimization::deoptimize_all_marked``): a deopt marks its code under the
function's lock and counts what it found; if it found any, it stops the world
(the GC's safepoint protocol) and patches every activation of every marked
code on every thread and makes that code not entrant; only then does it clear
the code's embedded objects.  Fault ``deopt-skipped-when-already-marked``
counts only code this thread newly marked (HotSpot before JDK-8299074,
openjdk/jdk#12012): a thread that finds its code already marked by another,
which has not deoptimized it yet, skips the safepoint and clears the embedded
objects under activations that still run the code
(docs/bugs/jdk-8299074-deopt-skipped-when-already-marked.md).

Simplified: one frame per deopt (no inlined frames), and captured objects
are heap numbers or closures of one or two fields, allocated young (V8
allocates them old).  An eager deopt marks its code, as V8's does, but V8
then makes every activation of that code deoptimize at once, where here,
outside Locker mode, other threads find the mark when they return into it
(docs/v8-mapping.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from testbed.deopt.function import Function
from testbed.deopt.object_storage import materialize_arrays
from testbed.deopt.translation import DeoptimizationData
from testbed.heap import Code, Handle, Kind
from testbed.runtime import RunAborted, ThreadState, derive_seed
from testbed.sched import Tally, point

if TYPE_CHECKING:
    from testbed.runtime import Frame, Isolate, Mutator

__all__ = ["TieringDeoptimizer"]


class TieringDeoptimizer:
    """The isolate's functions, their tiering, and eager and lazy deopts."""

    def __init__(self, isolate: Isolate) -> None:
        config = isolate.config
        self.isolate = isolate
        self.functions = [
            Function(i, isolate.heap, derive_seed(config.seed, 5, i), config.optimize_after, config.captured_arrays)
            for i in range(config.functions)
        ]
        faults = config.faults
        self._skip_poll = "no-poll-in-deopt" in faults
        self._no_barrier = "missing-barrier-in-materialize" in faults
        self._stale_code = "stale-frame-code" in faults
        self._current_thread_only = "lazy-deopt-current-thread-only" in faults
        self._keep_embedded = "embedded-refs-not-invalidated" in faults
        #: without the Locker, embedded objects need every activation patched at a safepoint first
        self._handshake = config.embedded_objects and not config.locker
        self._count_new_marks_only = "deopt-skipped-when-already-marked" in faults
        self._patch_stacks = config.locker or self._handshake
        self._embed = config.embedded_objects
        self._overwrite_unswept = "deopt-overwrites-during-sweep" in faults
        # Every mutator deoptimizes at once on a free-threaded build, so the
        # counts are kept per thread and summed when read (V8's per-thread
        # counters), never a shared ``+= 1`` that loses increments.
        self._counts = Tally(("eager", "lazy", "patched"))

    @property
    def eager(self) -> int:
        """Eager deopts (a guard failed in the running frame)."""
        return self._counts["eager"]

    @property
    def lazy(self) -> int:
        """Lazy deopts (a frame returned into code another thread marked)."""
        return self._counts["lazy"]

    @property
    def patched(self) -> int:
        """Activations whose return the deoptimizer patched (Locker mode, and without it at a deopt-all-marked safepoint)."""
        return self._counts["patched"]

    # -- calls -----------------------------------------------------------------

    def call(self, mutator: Mutator, function: int) -> None:
        target = self.functions[function % len(self.functions)]
        code = target.code_for_call(mutator.allocator if self._embed else None)
        # The caller passes its newest local as the argument (read before the
        # callee's frame and scope exist): most often a young object.
        argument = mutator.newest_handle()
        frame = mutator.enter_frame(target.frame_size + 1, code=code)
        with mutator.scope():
            context = mutator.alloc(target.context_fields, old=True, kind=Kind.CONTEXT)
            mutator.frame_store(0, context)
        for slot in range(1, target.frame_size):
            mutator.frame_store(slot, mutator.rng.randint(-1000, 1000))  # unboxed values
        mutator.frame_store(target.frame_size, argument)  # a tagged parameter slot, past the translated ones
        if code.optimized:
            assert isinstance(code.deopt_data, DeoptimizationData)
            frame.deopt_point = mutator.rng.randrange(len(code.deopt_data.points))

    # -- deopts ----------------------------------------------------------------

    def fail_guard(self, mutator: Mutator) -> bool:
        frame = mutator.frames[-1] if mutator.frames else None
        if frame is None or frame.deoptimized or not _is_optimized(frame.code):
            return False
        if not frame.lazy_deopt:
            # The code ran up to the guard.  A frame whose return was patched
            # resumes in the deoptimizer instead, never in the code.
            self._run_code(mutator, frame)
        self._deoptimize(mutator, frame, lazy=False)
        return True

    def check_lazy(self, mutator: Mutator) -> bool:
        frame = mutator.frames[-1] if mutator.frames else None
        if frame is None or frame.deoptimized or not _is_optimized(frame.code):
            return False
        assert isinstance(frame.code, Code)
        if self._patch_stacks:
            # The return lands in the lazy-deopt trampoline only if the
            # deoptimizer patched this frame; otherwise it runs the code.
            point("frame-return-read", _frame_key(mutator, frame))
            if not frame.lazy_deopt:
                self._run_code(mutator, frame)
                return False
        else:
            point("deopt-check-mark", frame.code.lid)
            if not frame.code.marked_for_deoptimization:
                self._run_code(mutator, frame)
                return False
        self._deoptimize(mutator, frame, lazy=True)
        return True

    @staticmethod
    def _run_code(mutator: Mutator, frame: Frame) -> None:
        """The activation runs its optimized code, which loads through every object it embeds.

        TurboFan code specialized on a constant uses it directly: it loads
        the constant's fields at fixed offsets (the constant's address is an
        ``EMBEDDED_OBJECT`` relocation entry in the instructions).  Code whose
        embedded objects the deoptimizer cleared, or whose objects a GC
        freed, loads through whatever is left there.
        """
        code = frame.code
        assert isinstance(code, Code)
        for index in range(len(code.embedded)):
            mutator.load_embedded(code, index)

    def _deoptimize(self, mutator: Mutator, frame: Frame, lazy: bool) -> None:
        code = frame.code
        assert isinstance(code, Code) and isinstance(code.deopt_data, DeoptimizationData)
        function = code.function
        assert isinstance(function, Function)
        isolate = self.isolate
        isolate.events.record(
            "lazy-deopt" if lazy else "guard-failed",
            f"{function.name} code #{code.lid} frame {frame.depth}: into the runtime (parked)",
        )
        # 1-2. The runtime call that noticed the failure runs parked; the deopt
        # entry leaves it through the safepoint before touching the heap.
        isolate.safepoint.park(mutator)
        # Leaving the runtime changes this thread's safepoint state (its detail, like an interrupt's, is the mutator).
        point("deopt-runtime-call", mutator.name)
        if self._skip_poll:
            mutator.state = ThreadState.RUNNING  # the bug: no wait for a pending GC
        else:
            isolate.safepoint.unpark(mutator)
        isolate.events.record(
            "deopt-entry", f"{'lazy' if lazy else 'eager'} deopt of {function.name} code #{code.lid}: left the runtime"
        )
        translation = code.deopt_data.points[frame.deopt_point % len(code.deopt_data.points)]
        # 3a. Compute the output frame (``Deoptimizer::New`` and
        # ``DoComputeOutputFrames``, "We rely on this function not causing a
        # GC"): the activation's words are copied into the input frame
        # description, which is no root, and translated slot by slot into the
        # output frame that replaces the activation.  Only a thread that left
        # the runtime through the safepoint may hold these raw words: no GC
        # can start until it polls again.
        described = mutator.describe_frame()
        for slot, word in enumerate(described):
            point("deopt-translate-slot", f"{_frame_key(mutator, frame)} slot {slot}")
            mutator.frame_store_word(slot, word)
        # 3b. Materialize the captured objects of this deopt point
        # (``NotifyDeoptimized``: it allocates, so it works through handles).
        with mutator.scope():
            context = mutator.frame_load(0)
            for captured in translation.captured:
                unboxed = frame.slots[captured.slot]
                obj = mutator.alloc(captured.fields, kind=captured.kind)
                mutator.store(obj, 0, unboxed if isinstance(unboxed, int) else 0)
                if captured.kind is Kind.CLOSURE and captured.fields > 1:
                    mutator.store(obj, 1, context)
                mutator.frame_store(captured.slot, obj)
                mutator.store(context, captured.context_field, obj, barrier=not self._no_barrier)
            isolate.events.record(
                "materialize",
                f"code #{code.lid}: {len(translation.captured)} captured object(s) allocated young, stored into the "
                "frame and through the write barrier into the old context",
            )
            if isinstance(context, Handle):
                materialize_arrays(mutator, frame, translation, context, finish_sweeping=not self._overwrite_unswept)
        # 4. Rebuild the frame as an interpreter frame; retire the optimized code.
        if not self._stale_code:
            frame.code = function.interpreter_code
        frame.deoptimized = True
        frame.lazy_deopt = False
        isolate.events.record(
            "frame-rebuilt",
            f"code #{code.lid}: frame {frame.depth} now runs interpreter code #"
            f"{frame.code.lid if frame.code is not None else '?'}",
        )
        point("deopt-mark-code", code.lid)
        if self._handshake:
            # Mark, then deoptimize everything marked (HotSpot's two steps),
            # and only then change what the code assumed.  Marked code goes
            # on the weak list before this thread can stop for any pause.
            found = self._mark(function, code)
            isolate.heap.weak_code_list.link_once(code)
            if found:
                self._deoptimize_all_marked(mutator)
            if not self._keep_embedded:
                self._invalidate_embedded(code)
        else:
            code.marked_for_deoptimization = True
            if self._embed and not self._keep_embedded:
                self._invalidate_embedded(code)
            if self._patch_stacks:
                self._patch_activations(mutator, code)
        function.drop_optimized(code)
        linked = isolate.heap.weak_code_list.link_once(code)
        isolate.events.record(
            "weak-list-link",
            f"code #{code.lid} of {function.name}" + ("" if linked else ": already linked by an earlier deopt"),
        )
        self._counts.add("lazy" if lazy else "eager")

    # -- without the Locker: mark, then deoptimize all marked at a safepoint --------

    def _mark(self, function: Function, code: Code) -> int:
        """Mark ``code`` for deoptimization; how many marked code objects were found.

        ``CodeCache::mark_for_deoptimization``: the dependency walk marks what
        depends on the change and counts what it found.  Since JDK-8299074 it
        counts code another thread marked already (and has not necessarily
        deoptimized yet); before, it counted only what it marked itself.
        """
        with function.lock:
            point("code-mark-read", code.lid)
            newly = not code.marked_for_deoptimization
            code.marked_for_deoptimization = True
        self.isolate.events.record(
            "mark-for-deopt", f"code #{code.lid}" + ("" if newly else ": already marked by another thread")
        )
        return 1 if newly or not self._count_new_marks_only else 0

    def _deoptimize_all_marked(self, mutator: Mutator) -> None:
        """``Deoptimization::deoptimize_all_marked``: a safepoint operation over every thread.

        With the world stopped, every activation of any marked code on any
        thread's stack is patched for a lazy deopt and marked code is made
        not entrant (dropped from its function).  A thread stops only at a
        poll, and between reading its return and running the code it does
        not poll, so no activation is half-way through its decision.  If a
        GC was requested first this thread joins it and asks again.
        """
        done: list[bool] = []

        def operation() -> None:
            self._patch_all_marked()
            done.append(True)

        while not done:
            self.isolate.safepoint.stop_the_world(mutator, operation)
            if self.isolate.is_aborted():
                raise RunAborted

    def _patch_all_marked(self) -> None:
        for thread in self.isolate.mutators:
            for frame in thread.frames:
                code = frame.code
                if not _is_optimized(code) or frame.deoptimized or frame.lazy_deopt:
                    continue
                assert isinstance(code, Code)
                if code.marked_for_deoptimization:
                    point("frame-patch-return", _frame_key(thread, frame))
                    frame.lazy_deopt = True
                    self._counts.add("patched")
        for function in self.functions:
            current = function.optimized_code
            if current is not None and current.marked_for_deoptimization:
                function.drop_optimized(current)
        self.isolate.events.record("deopt-all-marked", f"{self.patched} activation(s) patched so far")

    # -- Locker mode: V8's DeoptimizeMarkedCodeForContext ------------------------

    def _invalidate_embedded(self, code: Code) -> None:
        """``Code::InvalidateEmbeddedObjects``: the marked code points at nothing any more."""
        point("code-embedded-write", code.lid)
        code.embedded = [None] * len(code.embedded)

    def _patch_activations(self, mutator: Mutator, code: Code) -> None:
        """``ActivationsFinder``: patch every other activation of ``code`` for a lazy deopt.

        The current thread's stack first, then (the v8:6563 fix) every archived
        thread's, whose activations would otherwise return into the code.
        """
        threads = [mutator]
        locker = self.isolate.locker
        if locker is not None and not self._current_thread_only:
            threads.extend(locker.archived_threads())
        for thread in threads:
            for frame in thread.frames:
                if frame.code is not code or frame.deoptimized or frame.lazy_deopt:
                    continue
                point("frame-patch-return", _frame_key(thread, frame))
                frame.lazy_deopt = True
                self._counts.add("patched")
                self.isolate.events.record(
                    "patch-return", f"code #{code.lid}: {thread.name} frame {frame.depth} returns into the deoptimizer"
                )


def _frame_key(mutator: Mutator, frame: Frame) -> str:
    """The frame's return slot, as a scheduling point names it."""
    return f"{mutator.name} frame {frame.depth}"


def _is_optimized(code: object) -> bool:
    return isinstance(code, Code) and code.optimized
