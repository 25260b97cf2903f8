"""The checker shares no code with what it checks (DESIGN.md section 4).

A collector bug that lives in a helper both sides call (the root
enumeration, the barrier's old-to-young predicate, the slot set's bit
decoding, the page walkers) would fool the checker exactly as it fools the
collector.  These tests read ``testbed/check/*.py`` with ``ast`` and fail on
any import or call of such a helper, and pin the checker's own restatement
of the heap layout against the heap's, so a layout change is noticed.
"""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

import testbed.check
from testbed.check import raw
from testbed.heap import HEADER_WORDS, HeapObject, Kind, Page
from testbed.heap import slot_set as heap_slot_set

CHECK_DIR = Path(testbed.check.__file__).parent
SOURCES = sorted(CHECK_DIR.glob("*.py"))

#: modules the checker may not import at all
FORBIDDEN_MODULES = ("testbed.gc", "testbed.heap.write_barrier", "testbed.heap.remembered_set", "testbed.heap.slot_set")
#: helpers the checker may not import by name from anywhere
FORBIDDEN_NAMES = {"is_old_to_young", "write_field", "RememberedSet", "SlotSet", "Evacuator", "MarkCompact"}
#: methods whose results the checker must derive itself instead of calling
FORBIDDEN_CALLS = {
    "root_areas",  # Isolate's root enumeration, which both collectors use
    "named_root_areas",
    "old_objects",  # the heap's page walkers
    "young_objects",
    "code_objects",
    "objects",
    "object_at",
    "addresses",  # the slot set's decoding
    "contains",
    "slots_of",
    "entries",  # the weak list's iterator
    "below_age_mark",
}
#: heap-object helpers the collectors use, which the checker re-derives from the map word
FORBIDDEN_ATTRIBUTES = {"is_zapped", "is_dead", "forwardee", "is_old_to_young"}


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
            names: list[str] = []
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
            names = [alias.name for alias in node.names]
        else:
            modules, names = [], []
        for module in modules:
            if any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN_MODULES):
                found.append(f"line {node.lineno}: imports {module}")
        found.extend(f"line {node.lineno}: imports {name}" for name in names if name in FORBIDDEN_NAMES)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in FORBIDDEN_CALLS:
            found.append(f"line {node.lineno}: calls .{node.func.attr}()")
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            found.append(f"line {node.lineno}: reads .{node.attr}")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_checker_module_uses_no_helper_of_what_it_checks(path: Path) -> None:
    assert _violations(path) == []


def test_the_rule_catches_each_kind_of_forbidden_use(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from testbed.gc.scavenger import ParallelScavenger\n"
        "import testbed.heap.remembered_set\n"
        "from testbed.heap import is_old_to_young\n"
        "isolate.root_areas()\n"
        "page.slot_set.addresses()\n"
        "obj.forwardee\n"
    )
    assert len(_violations(bad)) == 6


def test_the_checker_sources_were_found() -> None:
    assert {"verifier.py", "checkmark.py", "raw.py", "checker.py"} <= {p.name for p in SOURCES}


def test_layout_constants_restate_the_heaps() -> None:
    assert raw.HEADER_WORDS == HEADER_WORDS
    assert raw.CELL_BITS == heap_slot_set.CELL_BITS
    assert raw.CELLS_PER_BUCKET == heap_slot_set.CELLS_PER_BUCKET


def test_raw_slot_decoding_agrees_with_the_slot_set() -> None:
    rng = random.Random(5)
    page = Page("old", 0, 4096)
    addresses = {rng.randrange(4096) for _ in range(300)}
    for address in addresses:
        page.slot_set.insert(address)
    assert raw.remembered_addresses(page) == addresses == set(page.slot_set.addresses())


def test_raw_object_walk_agrees_with_the_page_walker() -> None:
    page = Page("old", 0, 256)
    offset = 0
    for lid, fields in enumerate([1, 3, 2, 5, 1], start=1):
        obj = HeapObject(lid, Kind.PLAIN, [None] * fields, page, offset)
        page.place(obj)
        offset += obj.size + (lid % 2)  # leave gaps
    assert raw.objects_on(page) == list(page.objects())
    obj = raw.objects_on(page)[2]
    assert raw.slot_address(obj, 1) == obj.slot_address(1)
