"""``stress(jobs>1)`` from a script: refused in one line without ``if __name__ == "__main__":``, found under it.

Worker processes import the main script again (multiprocessing's
forkserver), so an unguarded campaign would start again in each of them.
"""

from __future__ import annotations

import importlib.machinery
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import testbed

ROOT = str(Path(testbed.__file__).resolve().parent.parent)

PROBE = """\
from testbed.campaign.main_guard import unguarded_script


def probe(where):
    probed.append((where, unguarded_script() is not None))


probe("top")
if __name__ == "__main__":
    probe("guarded")
if "__main__" == __name__:
    probe("reversed")
if __name__ != "__main__":
    pass
else:
    probe("else")
"""

UNGUARDED = """\
import testbed

testbed.stress(["store-buffer-storm"], overrides={"ops": 100}, schedules=2, jobs=2)
print("ran")
"""


def _python(tmp_path: Path, name: str, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / name).write_text(source)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    command = [sys.executable, *args]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)


def _run_as_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, spec_name: str | None = None) -> list:
    """Execute ``source`` in-process as the ``__main__`` script (its top-level frames in that module); what it probed."""
    path = tmp_path / "probe.py"
    path.write_text(source)
    main = types.ModuleType("__main__")
    main.__file__ = str(path)
    main.__spec__ = None if spec_name is None else importlib.machinery.ModuleSpec(spec_name, None)
    main.probed = []
    monkeypatch.setitem(sys.modules, "__main__", main)
    exec(compile(source, str(path), "exec"), vars(main))
    return main.probed


def test_only_the_top_level_outside_the_guard_counts_as_unguarded(tmp_path: Path, monkeypatch) -> None:
    # the else branch of `if __name__ != "__main__"` guards too, but this check does not read it: it errs on refusing
    assert _run_as_main(tmp_path, monkeypatch, PROBE) == [
        ("top", True),
        ("guarded", False),
        ("reversed", False),
        ("else", True),
    ]


def test_a_package_main_is_not_imported_again(tmp_path: Path, monkeypatch) -> None:
    assert ("top", False) in _run_as_main(tmp_path, monkeypatch, PROBE, spec_name="tool.__main__")


def test_an_unguarded_campaign_with_workers_is_refused_before_anything_runs(tmp_path: Path) -> None:
    ran = _python(tmp_path, "campaign.py", UNGUARDED, "campaign.py")
    assert ran.returncode == 1
    assert "ran" not in ran.stdout
    last = ran.stderr.strip().splitlines()[-1]
    assert last.startswith("testbed.validate.ConfigError: stress(jobs=2) from the top level of ")
    assert 'needs `if __name__ == "__main__":` around it' in last
    assert "bootstrapping" not in ran.stderr  # multiprocessing's own complaint never comes
