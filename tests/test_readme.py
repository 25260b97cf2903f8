"""The README is executable: every example in it runs, and does what the README says.

Every fenced block of README.md is handled by the rule for its language, so
a new section is tested the moment it is written:

``python``
    Run on its own, in a fresh empty directory, with the checkout on
    PYTHONPATH: a block that defines a top-level ``test_*`` function or
    ``Test*`` class is a pytest file, run with ``python -m pytest`` (as a
    reader who copies it would); any other block is a script run with
    ``python``.  Either must exit 0.  So a block must be self-contained:
    its own imports, its own definitions.  A block whose first line is
    ``# file: NAME.py`` is also written, as NAME.py, into the shell
    session's directory (below), for the commands after it to use (e.g.
    ``testbed run --program NAME.py:FUNCTION``).
``sh``
    One command per line (``\\`` continues a line; ``#`` starts a comment).
    All ``sh`` blocks run in README order in one temporary directory, as a
    reader's shell session would, so a later block may use files an
    earlier one wrote.  ``testbed ...`` runs as ``python -m testbed ...``
    (the console script needs an installed package).  Skipped, by rule:
    ``pip`` / ``python -m pip`` (the test runs the checkout, not an installed copy)
    and ``pytest`` / ``python -m pytest`` / ``tox`` (the suite itself: this
    test is part of it).  Any other command fails the test: say how to run
    it here first.  Checked for every command:

    * exit status: ``exit N`` in its comment, else 0;
    * what its comment quotes in backquotes appears in its output
      (whitespace runs compare equal): ``# exit 1, `reproduced 20/20```;
    * every file or directory it is told to write (``--out``, ``--json``,
      ``--trace-out``, ``-o``) exists afterwards, unless it is to exit 2;
    * ``testbed stress`` names a budget (``--duration`` or ``--schedules``),
      which BUDGETS may shrink, and a ``--duration`` campaign ends within
      its budget plus a margin.

    An ``sh`` block whose first line is ``# not run: REASON`` (it needs
    what a test cannot have, e.g. a Dask cluster on other machines) is not
    run; each of its ``testbed`` commands must still parse (``testbed``'s
    own argument parser accepts it), and its other commands must be among
    NOT_RUN_COMMANDS.
``text``
    Right after an ``sh`` block (nothing but blank lines between), it is
    what that block prints: each of its non-blank lines must match a line
    of the block's output, where every number stands for any number,
    ``...`` for any text, and runs of whitespace compare equal.  Elsewhere
    a ``text`` block is just text.
``json``
    Must parse.

Following the README leaves a checkout clean: the shell session and each
Python block run in a directory that is a git repository ignoring what
the checkout's ``.gitignore`` ignores, and ``git status`` must show
nothing afterwards (a new example that writes a new file needs its entry
in ``.gitignore``).  The ``text`` block after ``testbed scenarios`` is the
scenario list, and must name every scenario of the catalogue.

A block in any other language (or none) fails the test until it gets a rule.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import testbed

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

#: Budget substitutions, (option, value as written) -> value run here: the README
#: shows real budgets, the test needs small ones.  Exact matches only, so a new
#: budget is a decision: without an entry here a command is run as written, and
#: one above MAX_DURATION / MAX_SCHEDULES fails the test asking for an entry.
BUDGETS = {
    # --duration bounds the whole campaign and one that completes no schedule exits 2: leave
    # room for a schedule (and for --jobs' worker processes to start) on a loaded machine
    ("--duration", "20s"): "3s",
    ("--duration", "10s"): "5s",  # the CI example's --jobs 2 workers start first
    ("--schedules", "500"): "4",
    ("--schedules", "50"): "4",
}
MAX_DURATION = 5.0
MAX_SCHEDULES = 60
#: seconds a --duration campaign may run past its budget (startup, the schedule in flight)
DURATION_MARGIN = 20.0
#: seconds any one command or block may take
TIMEOUT = 300

#: options naming what a command writes
OUTPUT_OPTIONS = ("--out", "--json", "--trace-out", "-o", "--output")
#: commands skipped by rule (see the module docstring)
SKIPPED = (("pip",), ("python", "-m", "pip"), ("pytest",), ("python", "-m", "pytest"), ("tox",))
#: the first line of an ``sh`` block the test does not run
NOT_RUN = re.compile(r"#\s*not run:\s*\S.*")
#: commands other than ``testbed`` that a block not run may show
NOT_RUN_COMMANDS = (("dask", "scheduler"), ("dask", "worker"), ("export",))


@dataclasses.dataclass
class Block:
    language: str
    text: str
    line: int  # of the opening fence, 1-based
    after: Block | None  # the block right before, if only blank lines separate them

    @property
    def where(self) -> str:
        return f"README.md:{self.line} ({self.language or 'no language'} block)"


def parse_blocks(markdown: str) -> list[Block]:
    """The fenced blocks (fences at the start of a line), in order."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    previous_end = -2  # line index of the previous block's closing fence
    while i < len(lines):
        opening = re.fullmatch(r"```\s*(\S*).*", lines[i])
        if opening is None:
            i += 1
            continue
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"README.md:{start + 1}: unclosed code block")
        adjacent = blocks and all(not line.strip() for line in lines[previous_end + 1 : start])
        blocks.append(Block(opening.group(1), "\n".join(body) + "\n", start + 1, blocks[-1] if adjacent else None))
        previous_end = i
        i += 1
    return blocks


def split_comment(line: str) -> tuple[str, str]:
    """``command  # comment`` -> (command, comment); a ``#`` inside quotes is not a comment."""
    quote = None
    for i, char in enumerate(line):
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].strip(), line[i + 1 :].strip()
    return line.strip(), ""


def shell_commands(text: str) -> list[tuple[list[str], str]]:
    """(words, comment) per command of an ``sh`` block; comment-only lines dropped."""
    commands = []
    pending = ""
    for raw in text.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        command, comment = split_comment(pending + raw)
        pending = ""
        if command:
            commands.append((shlex.split(command), comment))
    return commands


_NUMBER = r"\d+(?:\.\d+)?"


def shape(line: str) -> re.Pattern[str]:
    """A README output line as a pattern: numbers match any number, ``...`` any text."""
    pattern = ""
    for part in re.split(rf"(\.\.\.|{_NUMBER})", " ".join(line.split())):
        if part == "...":
            pattern += ".*"
        elif re.fullmatch(_NUMBER, part):
            pattern += _NUMBER
        else:
            pattern += re.escape(part)
    return re.compile(pattern)


def _normalized(text: str) -> str:
    return " ".join(text.split())


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _pytest_plugin_args() -> list[str]:
    """``-p testbed.pytest_plugin`` unless an installed testbed already registers it (pytest11)."""
    installed = any(
        ep.value.startswith("testbed.pytest_plugin") for ep in importlib.metadata.entry_points(group="pytest11")
    )
    return [] if installed else ["-p", "testbed.pytest_plugin"]


def _as_checkout(directory: Path) -> None:
    """Make ``directory`` a git repository that ignores what this checkout's ``.gitignore`` ignores."""
    if shutil.which("git") is None:
        return
    subprocess.run(["git", "init", "-q", str(directory)], check=True, capture_output=True, timeout=30)
    (directory / ".git" / "info" / "exclude").write_text((REPO / ".gitignore").read_text())


def untracked(directory: Path) -> list[str]:
    """What ``git status`` shows in a directory made by :func:`_as_checkout` (nothing without git)."""
    if not (directory / ".git").is_dir():
        return []
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return status.stdout.splitlines()


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT, check=False)


def _budget(words: list[str], where: str) -> tuple[list[str], float | None]:
    """Apply BUDGETS; check a stress campaign has a small enough budget; return its duration."""
    from testbed.cli import parse_duration

    words = list(words)
    for i in range(len(words) - 1):
        words[i + 1] = BUDGETS.get((words[i], words[i + 1]), words[i + 1])
    duration = None
    if "--duration" in words:
        duration = parse_duration(words[words.index("--duration") + 1])
        assert duration <= MAX_DURATION, f"{where}: {shlex.join(words)}: add its --duration to BUDGETS"
    if "--schedules" in words:
        schedules = int(words[words.index("--schedules") + 1])
        assert schedules <= MAX_SCHEDULES, f"{where}: {shlex.join(words)}: add its --schedules to BUDGETS"
    if words[:2] == ["testbed", "stress"]:
        assert duration is not None or "--schedules" in words, f"{where}: {shlex.join(words)}: give it a budget"
    return words, duration


def _parse_only(block: Block) -> str:
    """A block marked ``# not run``: its testbed commands parse, its others are known; it prints nothing."""
    from testbed.cli import UsageError, build_parser
    from testbed.cli.arguments import glue_values

    for words, _ in shell_commands(block.text):
        written = shlex.join(words)
        if words[0] == "testbed":
            try:
                build_parser().parse_args(glue_values(words[1:]))
            except (SystemExit, UsageError) as error:
                raise AssertionError(f"{block.where}: testbed does not accept {written!r}: {error}") from None
        else:
            known = any(tuple(words[: len(c)]) == c for c in (*NOT_RUN_COMMANDS, *SKIPPED))
            assert known, f"{block.where}: no rule for {written!r} in a block not run (NOT_RUN_COMMANDS)"
    return ""


def _run_shell_block(block: Block, cwd: Path) -> str:
    """Run the block's commands in ``cwd``, checking each; return everything they printed."""
    if NOT_RUN.fullmatch(block.text.lstrip().splitlines()[0].strip() if block.text.strip() else ""):
        return _parse_only(block)
    printed = []
    for words, comment in shell_commands(block.text):
        if any(tuple(words[: len(skip)]) == skip for skip in SKIPPED):
            continue
        written = shlex.join(words)
        assert words[0] == "testbed", f"{block.where}: no rule to run {written!r} (see tests/test_readme.py)"
        words, duration = _budget(words, block.where)
        started = time.monotonic()
        result = _run([sys.executable, "-m", "testbed", *words[1:]], cwd)
        elapsed = time.monotonic() - started
        output = result.stdout + result.stderr
        printed.append(output)
        said = f"{block.where}: `{written}` (ran {shlex.join(words)})"
        stated = re.search(r"\bexit (\d+)\b", comment)
        expected = int(stated.group(1)) if stated else 0
        assert result.returncode == expected, f"{said} exited {result.returncode}, not {expected}:\n{output}"
        for claim in re.findall(r"`([^`]+)`", comment):
            assert _normalized(claim) in _normalized(output), f"{said} did not print {claim!r}:\n{output}"
        for option in OUTPUT_OPTIONS if expected != 2 else ():  # bad usage writes nothing
            if option in words[:-1] and words[words.index(option) + 1] != "-":
                path = cwd / words[words.index(option) + 1]
                assert path.exists(), f"{said} did not write {path.name}:\n{output}"
        if duration is not None:
            assert elapsed < duration + DURATION_MARGIN, f"{said} took {elapsed:.1f}s for a {duration:g}s budget"
    return "".join(printed)


BLOCKS = parse_blocks(README.read_text())
PYTHON_BLOCKS = [b for b in BLOCKS if b.language == "python"]


def test_every_block_has_a_rule() -> None:
    for block in BLOCKS:
        assert block.language in ("python", "sh", "text", "json"), (
            f"{block.where}: the README test has no rule for this language (tests/test_readme.py)"
        )
        if block.language == "json":
            json.loads(block.text)
    assert PYTHON_BLOCKS and any(b.language == "sh" for b in BLOCKS)


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[f"line{b.line}" for b in PYTHON_BLOCKS])
def test_python_block_runs_as_written(block: Block, tmp_path: Path) -> None:
    _as_checkout(tmp_path)
    tree = ast.parse(block.text)
    is_test = any(
        (isinstance(node, ast.FunctionDef) and node.name.startswith("test_"))
        or (isinstance(node, ast.ClassDef) and node.name.startswith("Test"))
        for node in tree.body
    )
    if is_test:
        (tmp_path / "test_readme_example.py").write_text(block.text)
        result = _run(
            [sys.executable, "-m", "pytest", "-q", *_pytest_plugin_args(), "test_readme_example.py"], tmp_path
        )
    else:
        (tmp_path / "readme_example.py").write_text(block.text)
        result = _run([sys.executable, "readme_example.py"], tmp_path)
    assert result.returncode == 0, f"{block.where} failed:\n{result.stdout}{result.stderr}"
    (tmp_path / ("test_readme_example.py" if is_test else "readme_example.py")).unlink()  # the reader's own file
    assert untracked(tmp_path) == [], f"{block.where} leaves files .gitignore does not cover"


def file_name(block: Block) -> str | None:
    """NAME of a python block that starts with ``# file: NAME``."""
    first = block.text.lstrip().splitlines()[0] if block.text.strip() else ""
    named = re.fullmatch(r"#\s*file:\s*(\S+)\s*", first)
    return named.group(1) if named else None


@pytest.mark.timeout(TIMEOUT * 2)
def test_shell_blocks_run_as_a_session(tmp_path: Path) -> None:
    _as_checkout(tmp_path)
    outputs: dict[int, str] = {}
    for block in BLOCKS:
        name = file_name(block) if block.language == "python" else None
        if name is not None:
            assert "/" not in name, f"{block.where}: a file name, not a path: {name!r}"
            (tmp_path / name).write_text(block.text)
        elif block.language == "sh":
            outputs[block.line] = _run_shell_block(block, tmp_path)
        elif block.language == "text" and block.after is not None and block.after.language == "sh":
            printed = [_normalized(line) for line in outputs[block.after.line].splitlines()]
            for line in filter(str.strip, block.text.splitlines()):
                pattern = shape(line)
                assert any(pattern.fullmatch(got) for got in printed), (
                    f"{block.where}: no output line of the block above looks like {line.strip()!r}:\n"
                    + outputs[block.after.line]
                )
    assert outputs
    assert untracked(tmp_path) == [], "following the README leaves files .gitignore does not cover"


def test_the_readme_lists_every_scenario() -> None:
    (listing,) = [
        b for b in BLOCKS if b.language == "text" and b.after is not None and b.after.text == "testbed scenarios\n"
    ]
    rows = [line.split()[0] for line in listing.text.splitlines()[1:] if line.strip() and not line[0].isspace()]
    assert sorted(rows) == sorted(testbed.SCENARIOS), "the README's scenario list is not the catalogue"


# -- the rules themselves --------------------------------------------------------------


def test_parse_blocks_finds_languages_lines_and_adjacency() -> None:
    blocks = parse_blocks("x\n```sh\ntestbed run\n```\n\n```text\nout 1\n```\nprose\n```json\n{}\n```\n")
    assert [(b.language, b.line) for b in blocks] == [("sh", 2), ("text", 6), ("json", 10)]
    assert blocks[1].after is blocks[0] and blocks[2].after is None


def test_shell_commands_join_continuations_and_split_comments() -> None:
    text = (
        "# a comment line\ntestbed run --seed 7 \\\n    --strategy random   # exit 1, `x  y`\ntestbed replay 'a #b'\n"
    )
    assert shell_commands(text) == [
        (["testbed", "run", "--seed", "7", "--strategy", "random"], "exit 1, `x  y`"),
        (["testbed", "replay", "a #b"], ""),
    ]


def test_a_python_block_can_name_its_file() -> None:
    named, plain = parse_blocks("```python\n# file: work.py\ndef f(m): ...\n```\n```python\nx = 1\n```\n")
    assert (file_name(named), file_name(plain)) == ("work.py", None)


def test_shape_lets_numbers_and_ellipses_vary() -> None:
    assert shape("  preemptions   443 -> 7").fullmatch("preemptions 12 -> 3")
    assert shape("reproduced 20/20, took 0.5s ...").fullmatch("reproduced 3/3, took 12.25s and more")
    assert not shape("reproduced 20/20").fullmatch("reproduced all")


def test_a_block_not_run_must_still_parse(tmp_path: Path) -> None:
    good = "# not run: needs a cluster\ndask scheduler\ntestbed stress --cluster tcp://h:8786 --schedules 5\n"
    assert _run_shell_block(parse_blocks(f"```sh\n{good}```\n")[0], tmp_path) == ""
    for bad, complaint in (("testbed stress --no-such-option", "does not accept"), ("rm -rf x", "no rule for")):
        block = parse_blocks(f"```sh\n# not run: needs a cluster\n{bad}\n```\n")[0]
        with pytest.raises(AssertionError, match=complaint):
            _run_shell_block(block, tmp_path)


@pytest.mark.parametrize(
    ("command", "complaint"),
    [
        ("testbed faults  # exit 1", "exited 0, not 1"),
        ("testbed faults  # `no such line`", "did not print 'no such line'"),
        ("testbed stress --seed 1", "give it a budget"),
        ("testbed stress --duration 1h", "add its --duration to BUDGETS"),
        ("ls -l", "no rule to run 'ls -l'"),
    ],
)
def test_a_command_that_does_not_do_what_the_readme_says_fails(tmp_path: Path, command: str, complaint: str) -> None:
    block = parse_blocks(f"```sh\n{command}\n```\n")[0]
    with pytest.raises(AssertionError, match=re.escape(complaint)):
        _run_shell_block(block, tmp_path)
