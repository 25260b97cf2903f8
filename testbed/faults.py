"""The fault catalogue: named, switchable bugs (docs/design.md, 'Faults').

Each fault is a bug put into the model's own code path (the module that
reads the switch is named in ``where``); nothing here detects anything.  A
run with the fault on is caught only when the race or protocol slip really
happened and an invariant checker saw its effect.

Nine faults put back a public bug (``bug`` names its report, ``runtime``
the runtime it was found in; docs/bugs/ tells each story and what the
model leaves out).  Six are V8's: ``lazy-deopt-current-thread-only``
(v8:6563), ``embedded-refs-not-invalidated`` (the dangling embedded
objects of V8 CL 586707, fixed by 596027 and ea0e1e21),
``no-slot-clear-on-layout-change`` (crbug.com/666046),
``deopt-overwrites-during-sweep`` (crbug.com/1228036),
``json-buffer-trimmed-unswept`` (v8:11837) and
``barrier-elided-for-pretenured-fold``, which is one reading of
nodejs/node#5900, not a confirmed account of it.  Three come from other
collectors' versions of the same mechanisms: HotSpot's
``deopt-skipped-when-already-marked`` (JDK-8299074), Go's
``sweep-done-before-popped-page-counted`` (golang/go#46500) and .NET's
``card-clear-past-chunk`` (dotnet/runtime#117968).  The other fifteen are
modelled hazards, not reported bugs: each omits, reorders or unsynchronizes
one step of a protocol V8 follows (a lock, a CAS, a flush, a wait, a
barrier), to show what that step protects; their ``bug`` is None.

``available`` is False for faults whose code path belongs to a part of the
model not built yet; asking for one is a usage error.
"""

from __future__ import annotations

import dataclasses

from testbed.validate import ConfigError, name_list

__all__ = ["FAULTS", "Fault", "UnknownFault", "fault_names", "validate_faults"]


class UnknownFault(ConfigError):
    """A fault name that is not in the catalogue or not available yet."""


@dataclasses.dataclass(frozen=True)
class Fault:
    """One catalogued fault.

    ``summary`` says what the bug does; ``bug`` is the public report of the
    same bug in V8's history (a crbug, v8 or nodejs/node reference) when the
    fault reproduces one, and None for the faults invented to teach the
    mechanism; ``scenario`` is the scenario built to provoke its race.
    """

    name: str
    summary: str
    caught_by: str
    where: str
    scenario: str
    bug: str | None = None
    available: bool = True
    #: the runtime whose bug ``bug`` is (V8 unless said otherwise)
    runtime: str | None = None

    def __post_init__(self) -> None:
        if self.bug is not None and self.runtime is None:
            object.__setattr__(self, "runtime", "V8")


FAULTS: tuple[Fault, ...] = (
    Fault(
        name="skip-flush",
        summary="a mutator enters the safepoint without flushing its store buffer",
        caught_by="store-buffers-flushed / remset-complete",
        where="testbed/runtime/safepoint.py",
        scenario="mixed",
    ),
    Fault(
        name="unlocked-remset-insert",
        summary="remembered-set insertion without the lock",
        caught_by="remset-complete",
        where="testbed/heap/remembered_set.py",
        scenario="store-buffer-storm",
    ),
    Fault(
        name="store-buffer-overflow-drop",
        summary="overflow drops entries instead of flushing",
        caught_by="remset-complete",
        where="testbed/heap/store_buffer.py",
        scenario="store-buffer-storm",
    ),
    Fault(
        name="early-scavenge",
        summary="the initiator starts before the last running mutator arrived",
        caught_by="world-stopped / remset-complete",
        where="testbed/runtime/safepoint.py",
        scenario="mixed",
    ),
    Fault(
        name="resume-before-workers-done",
        summary="the initiator waits only for the first scavenger task, then zaps from-space and resumes the "
        "mutators while other tasks still copy and scan",
        caught_by="world-stopped / no-from-space-refs / no-dangling",
        where="testbed/gc/scavenger.py",
        scenario="store-buffer-storm",
    ),
    Fault(
        name="no-poll-in-deopt",
        summary="deopt entry skips the safepoint poll: it computes the output frame from raw frame words and "
        "materializes while a scavenge moves objects under it",
        caught_by="world-stopped / reachability-preserved / no-from-space-refs / no-dangling",
        where="testbed/deopt/deoptimizer.py",
        scenario="deopt-storm",
    ),
    Fault(
        name="racy-forwarding",
        summary="forwarding installed by check-then-set instead of CAS",
        caught_by="forwarding-unique",
        where="testbed/gc/evacuator.py",
        scenario="mixed",
    ),
    Fault(
        name="unlocked-steal",
        summary="a worker steals from the global pool without the lock",
        caught_by="remset-complete / remset-precise / no-from-space-refs",
        where="testbed/gc/worklist.py",
        scenario="work-stealing",
    ),
    Fault(
        name="promote-without-remset",
        summary="promoted objects' young fields are not recorded",
        caught_by="remset-complete",
        where="testbed/gc/evacuator.py",
        scenario="mixed",
    ),
    Fault(
        name="missing-barrier-in-materialize",
        summary="materialized young values stored without the barrier",
        caught_by="remset-complete",
        where="testbed/deopt/deoptimizer.py",
        scenario="deopt-storm",
    ),
    Fault(
        name="unlocked-weak-unlink",
        summary="weak-list unlink races with a concurrent append",
        caught_by="weak-list-wellformed / weak-list-complete",
        where="testbed/heap/code.py",
        scenario="weak-list-churn",
    ),
    Fault(
        name="unlink-before-marking-done",
        summary="weak-list entries unlinked and released before marking finished",
        caught_by="frames-consistent / weak-list-cleared",
        where="testbed/gc/mark_compact.py",
        scenario="deopt-storm",
    ),
    Fault(
        name="stale-frame-code",
        summary="the rebuilt frame still refers to the optimized code, which then dies",
        caught_by="frames-consistent / weak-list-cleared",
        where="testbed/deopt/deoptimizer.py",
        scenario="deopt-storm",
    ),
    Fault(
        name="resume-without-disarm",
        summary="the resume clears the GC request but leaves the safepoint barrier armed",
        caught_by="safepoint-liveness",
        where="testbed/runtime/safepoint.py",
        scenario="mixed",
    ),
    Fault(
        name="lazy-deopt-current-thread-only",
        summary="code marked for deopt is patched for lazy deopt on the current thread's stack only; "
        "an archived (Unlocker) thread returns into the invalidated code, which loads through its cleared "
        "embedded object",
        caught_by="no-dangling",
        where="testbed/deopt/deoptimizer.py",
        scenario="locker-deopt",
        bug="v8:6563 (fix 596d55a 'Deoptimization and multithreading.'; nodejs/node#19274, #19477, #19486)",
    ),
    Fault(
        name="embedded-refs-not-invalidated",
        summary="code marked for deopt keeps its weak embedded references; a GC frees their targets "
        "while the code is still alive",
        caught_by="no-dangling",
        where="testbed/deopt/deoptimizer.py",
        scenario="locker-deopt",
        bug="V8 CL 586707 (chromium-review), which ea0e1e21's message names as the change that introduced "
        "it; partly fixed by CL 596027 (embedded objects of marked code on the stack), then by V8 ea0e1e21 "
        "'Fixing failure on GC stress.' (all code marked for deopt; footer 'Bug: v8:751825'). nodejs/node#19274's "
        "crash was v8:6563's (lazy-deopt-current-thread-only), which ea0e1e21 exposed",
    ),
    Fault(
        name="no-slot-clear-on-layout-change",
        summary="a fast-to-slow migration leaves the recorded slots of the in-object words that stop being tagged",
        caught_by="remset-precise",
        where="testbed/heap/normalize.py",
        scenario="layout-and-folding",
        bug="crbug.com/666046 (fix: [heap] Clear recorded slots for inobject properties when migrating fast "
        "object to slow mode)",
    ),
    Fault(
        name="barrier-elided-for-pretenured-fold",
        summary="a pretenured (old) allocation is folded and its initializing stores skip the barrier as if young "
        "(one reading of nodejs/node#5900: the model needs no store-buffer overflow, the original did)",
        caught_by="remset-complete",
        where="testbed/heap/folding.py",
        scenario="layout-and-folding",
        bug="nodejs/node#5900, one reading of it (nodejs/node#7303 names three conditions together: a pretenured "
        "site, allocation folding, a store-buffer overflow; its patch stops folding pretenured allocations, its "
        "landing unconfirmed)",
    ),
    Fault(
        name="deopt-overwrites-during-sweep",
        summary="the deoptimizer overwrites a captured object's ByteArray storage in place while the concurrent "
        "sweeper may still be sweeping its page, so the sweeper reads a half-rewritten header and frees the "
        "object's tail",
        caught_by="no-dangling / remset-complete",
        where="testbed/deopt/deoptimizer.py",
        scenario="sweeper-races",
        bug='crbug.com/1228036 (fix: V8 b63a59619530 "[deoptimizer] Finish concurrent sweeping before '
        'overwriting ByteArrays", 2021-07-26; electron/electron#30639)',
    ),
    Fault(
        name="scavenge-while-sweeping",
        summary="a scavenge starts without pausing the concurrent sweeper, which frees objects whose remembered "
        "slots the scavenger is updating and rewrites slot-set cells the scavenger writes",
        caught_by="sweeper-paused-during-scavenge / no-dangling / remset-precise / weak-list-complete / "
        "weak-list-cleared",
        where="testbed/runtime/isolate.py",
        scenario="sweeper-races",
        bug=None,
    ),
    Fault(
        name="deopt-skipped-when-already-marked",
        summary="marking counts only code it newly marked: a thread that finds its code already marked by "
        "another (which has not deoptimized it yet) skips deoptimizing all marked code, then clears the "
        "code's embedded objects while activations of it still run unpatched",
        caught_by="no-dangling",
        where="testbed/deopt/deoptimizer.py",
        scenario="deopt-mark-race",
        bug="JDK-8299074 (fix openjdk/jdk#12012 'nmethod marked for deoptimization is not deoptimized'; "
        "follow-up JDK-8300926, openjdk/jdk#12585)",
        runtime="HotSpot",
    ),
    Fault(
        name="json-buffer-trimmed-unswept",
        summary="JSON.parse trims its heap-number buffer to its header without waiting for the concurrent "
        "sweeper to sweep the buffer's page, so the sweeper sees a short live ByteArray followed by unmarked "
        "words, frees the heap numbers the new object holds and hands their memory out again",
        caught_by="no-dangling",
        where="testbed/runtime/mutator.py",
        scenario="json-parse-sweep",
        bug='v8:11837, CVE-2021-30541 (fix: V8 81181a8ad80a "[JSON] Fix GC issue in BuildJsonObject", 2021; '
        "Node.js cherry-pick nodejs/node#39187 for nodejs/node#37553)",
    ),
    Fault(
        name="sweep-done-before-popped-page-counted",
        summary="with several sweeping threads, one pops a page and is counted as sweeping only afterwards; "
        "another finds the list drained with nobody counted and sweeping is reported done, so the next "
        "mark-compact starts and the page is swept twice against one marking (the second sweep reads the "
        "marks the first consumed) and frees live objects",
        caught_by="sweeper-paused-during-scavenge / no-dangling",
        where="testbed/gc/sweeper.py",
        scenario="sweep-done-race",
        bug="golang/go#46500 (see golang/go#45315; fix: the sweeper count and the drained flag in one word, "
        "activeSweep in src/runtime/mgcsweep.go, Go 1.17)",
        runtime="Go",
    ),
    Fault(
        name="card-clear-past-chunk",
        summary="with .NET card marking (card_chunk_cells), a scavenger task clears the slots it no longer needs "
        "up to the next set bit even past its chunk, so its read-modify-write of the next task's cell writes back "
        "a bit that task cleared along with the cell's summary bit; the bit stays set unseen, and a later "
        "old-to-young store into that slot finds it set and records nothing",
        caught_by="remset-precise / remset-complete / no-from-space-refs",
        where="testbed/gc/evacuator.py",
        scenario="card-mark-stealing",
        bug="dotnet/runtime#117968 ('fixing a bug in card mark stealing': card_transition's card clearing "
        "clamped to the card stealing unit, 2025-07-23)",
        runtime=".NET",
    ),
)

_BY_NAME = {fault.name: fault for fault in FAULTS}


def validate_faults(names: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """The names as a set; raises :class:`UnknownFault` naming the first bad one."""
    for name in sorted(names):
        fault = _BY_NAME.get(name)
        if fault is None:
            known = ", ".join(f.name for f in FAULTS if f.available)
            raise UnknownFault(f"unknown fault {name!r} (known: {known})")
        if not fault.available:
            raise UnknownFault(f"fault {name!r} needs the {fault.where.split(' (')[0]}, which this version lacks")
    return frozenset(names)


def fault_names(value: object, field: str = "faults") -> frozenset[str]:
    """Known, available fault names (any iterable of strings) as a frozenset."""
    return validate_faults(name_list(field, value, "fault"))
