"""The checker shares no code with what it checks: the fast, source-level half.

A collector bug that lives in a helper both sides call (the root
enumeration, the barrier's old-to-young predicate, the slot set's bit
decoding, the page walkers, the layout helpers that say which fields are
tagged) would fool the checker exactly as it fools the collector.  These
tests read ``testbed/check/*.py`` with ``ast`` and fail on any import or
use of such a helper, by name, through a module alias (``from testbed
import gc``, ``from testbed.heap import remembered_set as rs``), as a bound
method kept for later (``walk = page.objects``) or as a string
(``getattr(isolate, "root_areas")``); and they pin the checker's own
restatement of the heap layout against the heap's, so a layout change is
noticed.  A lint sees spellings only: ``test_runtime_independence.py``
enforces the same rule on the calls a checked run really makes.
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
#: the package the checked sources are modules of (for relative imports)
CHECK_PACKAGE = "testbed.check"

#: modules the checker may not import at all, by any name
FORBIDDEN_MODULES = (
    "testbed.gc",
    "testbed.heap.write_barrier",
    "testbed.heap.store_buffer",
    "testbed.heap.remembered_set",
    "testbed.heap.slot_set",
    "testbed.heap.layout",  # which fields are tagged: both collectors ask it
    "testbed.heap.object_size",  # the sweeper's object sizes
)
#: helpers the checker may not import by name from outside testbed.check (it has its own
#: ``tagged_count`` in testbed.check.raw, re-derived from the map word)
FORBIDDEN_NAMES = {
    "is_old_to_young",
    "write_field",
    "RememberedSet",
    "SlotSet",
    "StoreBuffer",
    "WeakCodeList",
    "Evacuator",
    "MarkCompact",
    "ParallelScavenger",
    "SerialScavenger",
    "Sweeper",
    "Worklist",
    "tagged_fields",
    "tagged_count",
    "property_holder",
    "size_from_map",
    "poison",
}
#: methods whose results the checker must derive itself: neither called nor looked up
FORBIDDEN_METHODS = {
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
    "tagged_fields",  # the layout helpers, reached through a module alias
    "size_from_map",
}
#: of those, names that are also plain data the checker reads (``StoreBuffer.entries`` is a
#: list): only a call is flagged here; a bound method kept under another name is the
#: run-time test's to catch
DATA_NAMES = {"entries"}
#: heap-object helpers the collectors use, which the checker re-derives from the map word
FORBIDDEN_ATTRIBUTES = {"is_zapped", "is_dead", "forwardee", "is_old_to_young"}


def _is_forbidden_module(module: str) -> bool:
    return any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN_MODULES)


def _absolute(node: ast.ImportFrom) -> str:
    """The module an ``import from`` reads, relative imports resolved against testbed.check."""
    if not node.level:
        return node.module or ""
    parts = CHECK_PACKAGE.split(".")[: len(CHECK_PACKAGE.split(".")) - node.level + 1]
    return ".".join([*parts, *([node.module] if node.module else [])])


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of names, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base is not None else None
    return None


def _imports(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [f"imports {alias.name}" for alias in node.names if _is_forbidden_module(alias.name)]
    module = _absolute(node)
    found = []
    if _is_forbidden_module(module):
        found.append(f"imports {module}")
    for alias in node.names:
        if alias.name == "*" and module.startswith("testbed"):
            found.append(f"imports * from {module}")
        elif _is_forbidden_module(f"{module}.{alias.name}"):
            found.append(f"imports {module}.{alias.name}")  # a module imported by its parent's name
        elif alias.name in FORBIDDEN_NAMES and not module.startswith(CHECK_PACKAGE):
            found.append(f"imports {alias.name}")
    return found


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    called = {node.func for node in ast.walk(tree) if isinstance(node, ast.Call)}  # membership only
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.extend(f"line {line}: {what}" for what in _imports(node))
        elif isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted is not None and _is_forbidden_module(dotted):
                found.append(f"line {line}: uses {dotted}")
            elif node.attr in FORBIDDEN_METHODS and (node.attr not in DATA_NAMES or node in called):
                found.append(f"line {line}: uses .{node.attr}")
            elif node.attr in FORBIDDEN_ATTRIBUTES:
                found.append(f"line {line}: reads .{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # getattr(x, "root_areas"), attrgetter("forwardee"), import_module("testbed.gc");
            # not FORBIDDEN_NAMES: reaching those by string needs their module, flagged above
            text = node.value
            if text in FORBIDDEN_METHODS | FORBIDDEN_ATTRIBUTES or _is_forbidden_module(text):
                found.append(f"line {line}: names {text!r}")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_checker_module_uses_no_helper_of_what_it_checks(path: Path) -> None:
    assert _violations(path) == []


#: one forbidden use per line, each spelled differently
BAD_LINES = [
    "from testbed.gc.scavenger import ParallelScavenger",
    "import testbed.heap.remembered_set",
    "import testbed.gc as collectors",
    "from testbed import gc",
    "from testbed.heap import remembered_set as rs",
    "from testbed.heap import is_old_to_young",
    "from testbed.heap.layout import tagged_fields",
    "from testbed.heap import *",
    "from .. import gc",
    "testbed.gc.scavenger.ParallelScavenger",
    "isolate.root_areas()",
    "getattr(isolate, 'root_areas')()",
    "walk = page.objects",
    "shape.tagged_fields(obj)",
    "page.slot_set.addresses()",
    "heap.weak_code_list.entries()",
    "obj.forwardee",
    "operator.attrgetter('is_dead')(obj)",
    "importlib.import_module('testbed.heap.slot_set')",
]


def test_the_rule_catches_each_kind_of_forbidden_use(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("\n".join(BAD_LINES) + "\n")
    flagged = {int(v.split(":")[0].removeprefix("line ")) for v in _violations(bad)}
    missed = [text for n, text in enumerate(BAD_LINES, start=1) if n not in flagged]
    assert missed == []


def test_the_rule_lets_the_checker_read_raw_data_and_its_own_helpers(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text(
        "from testbed.check.raw import tagged_count\n"
        "from testbed.heap import HeapObject, Map\n"
        "entries = len(mutator.store_buffer.entries)\n"
        "buckets = page.slot_set.buckets\n"
        "word = obj.map_word\n"
    )
    assert _violations(good) == []


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
