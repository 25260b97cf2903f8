"""docs/design.md cannot drift from the code: what it names exists, and its catalogues are whole.

Every span in backquotes is read word by word:

* a dotted name starting ``testbed.`` must resolve: the longest prefix
  that imports as a module, then attributes (``testbed.heap.code.WeakCodeList.link_once``);
* a path into the repository (its first part is one of the repository's
  top-level folders, or ``README.md``) must exist; a ``*`` in it must match
  at least one file.

Other spans (V8 paths such as src/heap/scavenger.cc are written without
backquotes, commands, option names) are not checked.  Every section names
at least one such module, function or file.  The first column of the
invariants table must be exactly the invariant catalogue, and that of the
faults table exactly the fault catalogue.  Every pointer into the doc from
the code, tests and other docs (the doc's path, a comma, a section title
in single quotes) names one of its sections, nothing cites the design file
that lived outside the repository, and the README links the doc.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from testbed.check import INVARIANTS
from testbed.faults import FAULTS

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "design.md"
#: where a path named in the doc may lead: the repository's own folders and files
REPO_ROOTS = ("testbed", "tests", "docs", "bench", "stress", "examples", "README.md")

_DOTTED = re.compile(r"testbed(?:\.[A-Za-z_]\w*)+")


def spans(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


def words(text: str) -> list[str]:
    return [word.strip(",;:()") for span in spans(text) for word in span.split()]


def resolves(name: str) -> bool:
    """Whether dotted ``name`` is a module, or an attribute (chain) of one."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            if not hasattr(target, part):
                return False
            target = getattr(target, part)
        return True
    return False


def is_repo_path(word: str) -> bool:
    first = word.split("/")[0]
    return first in REPO_ROOTS and ("/" in word or first == word)


def exists(word: str) -> bool:
    return any(REPO.glob(word)) if "*" in word else (REPO / word).exists()


def table_names(section: str) -> set[str]:
    """The backquoted first cells of the table rows in section ``## {section}``."""
    text = DOC.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else len(text)]
    return set(re.findall(r"^\| `([^`]+)` \|", body, flags=re.MULTILINE))


def test_the_helpers_tell_a_missing_name_or_path() -> None:
    assert resolves("testbed.heap.code.WeakCodeList.link_once")
    assert resolves("testbed.gc")
    assert not resolves("testbed.heap.code.WeakCodeList.no_such_method")
    assert not resolves("testbed.no_such_module.Name")
    assert exists("testbed/gc/scavenger.py") and exists("examples/*.json")
    assert not exists("testbed/gc/no_such_file.py")
    assert is_repo_path("docs/bugs/") and is_repo_path("README.md")
    assert not is_repo_path("src/heap/scavenger.cc")


def test_every_dotted_name_resolves() -> None:
    names = sorted({word for word in words(DOC.read_text()) if _DOTTED.fullmatch(word)})
    assert len(names) >= 50, names  # the doc names what it describes
    missing = [name for name in names if not resolves(name)]
    assert not missing, f"docs/design.md names what does not exist: {missing}"


def test_every_repository_path_exists() -> None:
    paths = sorted({word for word in words(DOC.read_text()) if is_repo_path(word)})
    assert len(paths) >= 20, paths
    missing = [path for path in paths if not exists(path)]
    assert not missing, f"docs/design.md names files that do not exist: {missing}"


def test_every_section_names_what_it_describes() -> None:
    """Each ``## `` section names at least one module, function or file of the repository (all checked above)."""
    sections = DOC.read_text().split("\n## ")[1:]
    assert len(sections) >= 10
    for section in sections:
        named = [word for word in words(section) if _DOTTED.fullmatch(word) or is_repo_path(word)]
        assert named, f"section {section.splitlines()[0]!r} names no module, function or file"


def test_the_invariant_table_is_the_catalogue() -> None:
    assert table_names("Invariants") == {invariant.name for invariant in INVARIANTS}


def test_the_fault_table_is_the_catalogue() -> None:
    assert table_names("Faults") == {fault.name for fault in FAULTS}


def headings() -> list[str]:
    return [line.lstrip("#").strip().replace("`", "") for line in DOC.read_text().splitlines() if line.startswith("#")]


def sources() -> list[Path]:
    """The repository's Python and Markdown files (code, tests, docs, benchmarks, stress suites, README)."""
    found = []
    for root in ("testbed", "tests", "docs", "bench", "stress", "README.md"):
        base = REPO / root
        found += [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.suffix in (".py", ".md"))
    return found


def citations() -> list[tuple[str, str]]:
    """Every pointer into a section of the doc (its path, a comma, the section's title in single quotes)
    in :func:`sources`: (file, section)."""
    found = []
    for path in sources():
        for section in re.findall(r"docs/design\.md, '([^']+)'", path.read_text()):
            found.append((str(path.relative_to(REPO)), section))
    return found


def test_every_pointer_into_it_names_a_section() -> None:
    found = citations()
    assert len(found) >= 20, found  # what replaced the old citations of a design file outside the repository
    titles = headings()
    wrong = [(path, section) for path, section in found if not any(t.startswith(section) for t in titles)]
    assert not wrong, f"pointers to sections docs/design.md does not have: {wrong}"


def test_nothing_cites_a_design_file_outside_the_repository() -> None:
    outside = "DESIGN" + ".md"  # spelled apart, so this file does not cite it either
    stale = [str(path.relative_to(REPO)) for path in sources() if outside in path.read_text()]
    assert not stale, stale


def test_the_readme_links_it() -> None:
    assert "docs/design.md" in (REPO / "README.md").read_text()
