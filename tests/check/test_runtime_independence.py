"""The checker runs none of what it checks: enforced on calls, not on spellings.

``independence_watch.py`` (next to this file) runs small controlled runs of
every scenario, clean and with each fault aimed at it, in a fresh
interpreter whose every thread is profiled; it reports each forbidden
function (the collectors', the barrier's and store buffers', the remembered
and slot sets', the weak list's, the isolate's root enumeration, the page
and space walkers, the layout helpers) that started while a
``testbed.check`` frame was on the stack.  The correct checker has no such
call; a checker edited to make one, by whatever spelling, is reported.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import testbed

WATCH = Path(__file__).with_name("independence_watch.py")
ROOT = Path(testbed.__file__).resolve().parent.parent
TIMEOUT = 100
#: code objects of no ``def`` or ``lambda`` (Python 3.11 compiles each comprehension to one)
COMPREHENSIONS = {"<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>"}


def _run(script: list[str]) -> dict[str, Any]:
    """Run the watcher (or a script calling it) in a fresh interpreter; its JSON report."""
    done = subprocess.run(
        [sys.executable, *script], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _watch_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("independence_watch", WATCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _functions(report: dict[str, Any]) -> set[str]:
    return {hit["function"] for hit in report["hits"]}


def test_the_forbidden_set_is_enumerated_from_the_modules_and_holds_every_helper_the_collectors_share() -> None:
    watch = _watch_module()
    everything = watch.enumerate_code()
    names = set(watch.forbidden_code().values())
    assert set(watch.ALLOWED) <= set(everything.values()), "an allowed name no longer exists"
    assert {
        "testbed.runtime.isolate.Isolate.root_areas",
        "testbed.runtime.isolate.Isolate.named_root_areas",
        "testbed.heap.pages.Page.objects",
        "testbed.heap.pages.Page.object_at",
        "testbed.heap.heap.Heap.old_objects",
        "testbed.heap.heap.Heap.young_objects",
        "testbed.heap.heap.Heap.code_objects",
        "testbed.heap.spaces.NewSpace.below_age_mark",
        "testbed.heap.layout.tagged_fields",
        "testbed.heap.layout.tagged_count",
        "testbed.heap.object_size.size_from_map",
        "testbed.heap.write_barrier.is_old_to_young",
        "testbed.heap.write_barrier.write_field",
        "testbed.heap.store_buffer.StoreBuffer.__len__",
        "testbed.heap.remembered_set.RememberedSet.slots_of",
        "testbed.heap.slot_set.SlotSet.addresses",
        "testbed.heap.slot_set.SlotSet.contains",
        "testbed.heap.code.WeakCodeList.entries",
        "testbed.heap.objects.HeapObject.forwardee",
        "testbed.heap.objects.HeapObject.is_dead",
        "testbed.heap.objects.HeapObject.is_zapped",
        "testbed.gc.evacuator.Evacuator.visit_roots",
    } <= names
    # Nothing of a whole module is missed: as many functions and lambdas as its source defines.
    for module_name in watch.WHOLE_MODULES:
        module = importlib.import_module(module_name)
        tree = ast.parse(Path(module.__file__).read_text())
        defined = sum(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) for n in ast.walk(tree))
        enumerated = [
            code for code in everything if code.co_filename == module.__file__ and code.co_name not in COMPREHENSIONS
        ]
        assert len(enumerated) == defined, module_name


def test_no_checker_frame_is_on_the_stack_of_a_forbidden_call_in_any_scenario_clean_or_faulty() -> None:
    report = _run([str(WATCH), "--faults", "both"])
    assert report["hits"] == [], "\n".join(f"{h['run']}: {h['checker']} ran {h['function']}" for h in report["hits"])

    # The watch saw the model's own forbidden calls (so it was live in every
    # thread that runs them), and the runs passed every verification point.
    assert report["forbidden"] > 100 and report["outside"] > 0
    clean = {run["scenario"]: run for run in report["runs"] if run["fault"] is None}
    assert set(clean) == set(testbed.SCENARIOS)
    for scenario, run in clean.items():
        assert run["scavenges"] > 0, scenario
        if testbed.scenario_config(scenario).mark_compact_every:
            assert run["mark_compacts"] > 0, scenario
    faulty = [run for run in report["runs"] if run["fault"] is not None]
    assert sorted(run["fault"] for run in faulty) == sorted(f.name for f in testbed.FAULTS if f.available)
    assert any(run["violations"] for run in faulty), "no faulty run reached a finding"
    evaluated = {name for run in report["runs"] for name, n in run["checks_by_invariant"].items() if n}
    assert evaluated == {inv.name for inv in testbed.INVARIANTS}


#: a checker edited to call forbidden functions, each by a spelling the name lint once missed;
#: each edit is executed in the checker module's own namespace, as an edit of its source would be
EDITS = '''
import sys
sys.path.insert(0, {watch_dir!r})
import independence_watch
from testbed.check import checkmark, raw, verifier

def edit(module, source):
    exec(compile(source, module.__file__, "exec"), vars(module))

# getattr on the isolate: its root enumeration
edit(verifier, """
_original_at_pause_start = HeapVerifier.at_pause_start
def _at_pause_start(self, isolate):
    getattr(isolate, "root_areas")()
    return _original_at_pause_start(self, isolate)
HeapVerifier.at_pause_start = _at_pause_start
""")
# a bound method held in a local: the page walker
edit(raw, """
_original_objects_on = objects_on
def objects_on(page):
    walk = page.objects
    for _ in walk():
        pass
    return _original_objects_on(page)
""")
# a module alias: the layout helper both collectors use
edit(checkmark, """
from testbed.heap import layout as shape
def tagged_count(obj):
    return len(shape.tagged_fields(obj))
""")
# an aliased module, and the collectors' package imported by its parent's name
edit(verifier, """
from testbed.heap import remembered_set as rs
from testbed import gc
_original_remset_precise = HeapVerifier._remset_precise
def _remset_precise(isolate, found):
    for page in isolate.heap.old_space.pages:
        list(rs.RememberedSet.slots_of(page))
    gc.worklist.ItemQueue([])
    return _original_remset_precise(isolate, found)
HeapVerifier._remset_precise = staticmethod(_remset_precise)
""")
sys.exit(independence_watch.main(["--scenario", "mixed", "--faults", "off"]))
'''


def test_a_checker_edited_to_call_forbidden_functions_by_any_spelling_is_reported(tmp_path: Path) -> None:
    script = tmp_path / "edited_checker.py"
    script.write_text(EDITS.format(watch_dir=str(WATCH.parent)))
    report = _run([str(script)])
    assert _functions(report) >= {
        "testbed.runtime.isolate.Isolate.root_areas",
        "testbed.heap.pages.Page.objects",
        "testbed.heap.layout.tagged_fields",
        "testbed.heap.remembered_set.RememberedSet.slots_of",
        "testbed.gc.worklist.ItemQueue.__init__",
    }
    # the pauses run on the mutator that requested them: the watch covers every thread
    assert {hit["thread"] for hit in report["hits"]} - {"MainThread"}
    assert all(hit["checker"].startswith("testbed.check.") for hit in report["hits"])
