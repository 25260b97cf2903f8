"""The files a campaign writes: atomically, one smallest trace per bucket, JSON lines.

Every file is written whole to a temporary file next to it and moved into
place with ``os.replace``, so a reader (or a campaign killed by SIGKILL or
the OOM killer) sees the previous version or the new one, never half of
one.  ``--out DIR`` holds the file of each bucket's smallest finding,
``trace-SCENARIO-SEED.json`` (its controlled trace) or, for a free run,
``free-SCENARIO-SEED.json`` (its free trace, which pinning turns into a
``trace-SCENARIO-SEED.json`` beside it), removed when a smaller finding
replaces it, and ``index.json`` (``testbed.buckets/1``: the ``buckets`` of the
result JSON).  ``--log-json FILE`` is one JSON object per line, written by
loguru's ``serialize`` sink; each record's ``record.extra.event`` says what
it is (``schedule``, ``finding``, ``bucket``, ``progress``, ``stopped``,
``summary``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger

from testbed._version import __version__

__all__ = ["INDEX", "INDEX_SCHEMA", "BucketFiles", "JsonLog", "atomic_write", "event", "shrink_buckets"]

INDEX = "index.json"
INDEX_SCHEMA = "testbed.buckets/1"
#: the name of a bucket's file under ``--out`` (see :meth:`BucketFiles.path`)
_BUCKET_FILE = re.compile(r"(trace|free|violation)-.+-\d+\.json")


def atomic_write(path: str | Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then move it over ``path``. Raises OSError.

    A path that exists and is not a regular file (``/dev/stdout``, a pipe) is written in place.
    """
    target = Path(path)
    if target.exists() and not target.is_file():
        with target.open("w") as stream:
            stream.write(text)
        return
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)  # as open() would create it, not mkstemp's 0600
        with os.fdopen(fd, "w") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def event(kind: str, text: str, level: str = "INFO", /, **fields: Any) -> None:
    """A campaign event: a line for ``-v`` on stderr and a JSON object for ``--log-json``.

    ``text`` names its ``fields`` in braces (``"schedule {schedule} done"``); every field is in
    the record's ``extra``, with ``event`` = ``kind``.
    """
    logger.bind(event=kind, **fields).log(level, text.format(**fields))


class JsonLog:
    """``--log-json FILE`` as a loguru sink (``serialize=True``) for the campaign's events only.

    The sink is this object's own writer, not loguru's file sink: a write
    that fails (a full disk, ``/dev/full``) costs the log lines, never the
    campaign or its exit status, and is told once through ``on_error``
    (loguru's own sink would print a traceback per record and raise at close).
    Each line is flushed, so a reader of a running campaign sees whole lines.
    """

    def __init__(self, path: str, on_error: Callable[[str], None]) -> None:
        self.path = path
        self.on_error = on_error
        #: why the log stopped being written (None: it is written)
        self.failed: str | None = None
        self._stream = open(path, "w")  # noqa: SIM115 -- closed by close()
        self.handler = logger.add(
            self._write,
            serialize=True,
            level="DEBUG",
            filter=lambda record: "event" in record["extra"],
            catch=False,  # _write catches what it can expect; anything else is a bug to see
        )

    def _write(self, line: str) -> None:
        if self.failed is not None:
            return
        try:
            self._stream.write(line)
            self._stream.flush()
        except OSError as error:
            self._fail(error)

    def _fail(self, error: OSError) -> None:
        self.failed = error.strerror or str(error)
        self.on_error(f"cannot write --log-json {self.path!r} ({self.failed}); the campaign goes on without it")

    def close(self) -> None:
        logger.remove(self.handler)
        try:
            self._stream.close()
        except OSError as error:  # the last buffered bytes (nothing is buffered after a flush, but be sure)
            if self.failed is None:
                self._fail(error)


class BucketFiles:
    """The ``--out`` directory: one file per bucket (its smallest finding) and an index."""

    def __init__(self, directory: str, result_schema: str) -> None:
        self.directory = Path(directory)
        self.result_schema = result_schema
        #: bucket number -> the command that reran its kept finding before the file replaced it
        self._commands: dict[int, str] = {}

    def clear_earlier(self) -> tuple[bool, int]:
        """Remove an earlier campaign's index and bucket files from the directory, before this one runs.

        A reused ``--out`` holds only this campaign's index and files, never
        a mix with an index that names files this campaign replaced.  Files
        are recognised by the names a campaign gives them (``index.json``,
        ``trace-*.json``, ``violation-*.json``) and by the earlier index;
        anything else is left alone, and so is the Hypothesis example
        database (``hypothesis-db/``): it replays saved failures first, on
        purpose.  Returns whether an index was removed, and how many files.
        """
        index = self.directory / INDEX
        named: set[Path] = set()
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError, AttributeError):
            for bucket in json.loads(index.read_text())["buckets"]:
                named.add(Path(bucket["smallest"]["trace"]).resolve())
        removed = 0
        for path in sorted(self.directory.iterdir()):
            ours = _BUCKET_FILE.fullmatch(path.name) is not None or path.resolve() in named
            if ours and path.is_file():
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
        had_index = index.is_file()
        if had_index:
            index.unlink()
        return had_index, removed

    def path(self, outcome: Any, kind: str | None = None) -> Path:
        """``trace-SCENARIO-SEED.json`` (controlled), ``free-SCENARIO-SEED.json`` (a free trace) or
        ``violation-SCENARIO-SEED.json`` (a run with no trace)."""
        config = outcome.config
        if kind is None:
            trace = outcome.trace
            kind = "violation" if trace is None else ("free" if trace.get("kind") == "free" else "trace")
        return self._file(kind, config.scenario, config.program is not None, config.seed)

    def _file(self, kind: str, scenario: str | None, program: bool, seed: int) -> Path:
        label = scenario or ("program" if program else "config")
        return self.directory / f"{kind}-{label}-{seed}.json"

    def pinned(self, result: Any, bucket: Any) -> None:
        """After pinning ``bucket``: its controlled trace beside the free one, and its finding pointed at it."""
        finding = bucket.smallest
        if bucket.pinned_trace is None or bucket.trace is None:
            return
        config = bucket.pinned_trace["config"]
        path = self._file("trace", config.get("scenario"), config.get("program") is not None, finding.seed)
        others = [b for b in result.buckets if b is not bucket and b.trace == str(path)]
        if any(other.pinned_trace != bucket.pinned_trace for other in others):
            # One schedule's two violations in two buckets, pinned to two schedules: one file each.
            path = path.with_name(f"{path.stem}-bucket{bucket.number}.json")
        atomic_write(path, json.dumps(bucket.pinned_trace, separators=(",", ":")) + "\n")
        bucket.free_path = finding.free_trace = bucket.trace
        bucket.trace = finding.trace_path = str(path)
        finding.reproduce = f"testbed replay {shlex.quote(str(path))}"
        self.write_index(result)

    def update(self, result: Any, outcome: Any) -> None:
        """After ``result.add(outcome)``: keep the schedule's file for every bucket it opened or made
        smaller; remove the file it replaces when no other bucket keeps it."""
        changed = False
        path = self.path(outcome)
        for finding, bucket, what in result.filed:
            if what == "counted" or bucket.smallest is not finding:
                continue
            previous = self._kept(result, bucket)
            if not changed:
                if outcome.trace is not None:
                    text = json.dumps(outcome.trace, separators=(",", ":")) + "\n"
                else:
                    text = json.dumps(self._free_document(result, outcome, path), indent=2) + "\n"
                atomic_write(path, text)
                changed = True
            if previous is not None:  # the bucket keeps the smaller finding's file instead
                previous.trace_path = None
                previous.reproduce = self._commands[bucket.number]
                old = bucket.trace
                bucket.trace = None
                if old is not None and all(b.trace != old for b in result.buckets):
                    with contextlib.suppress(OSError):
                        os.unlink(old)
            self._commands[bucket.number] = finding.reproduce
            finding.trace_path = bucket.trace = str(path)
            if outcome.trace is not None and outcome.trace.get("kind") != "free":
                finding.reproduce = f"testbed replay {shlex.quote(str(path))}"
        if changed:
            self.write_index(result)

    def _kept(self, result: Any, bucket: Any) -> Any:
        """The finding whose schedule the bucket's file holds now (None: no file yet)."""
        if bucket.trace is None:
            return None
        return next((f for f in result.findings if f.bucket == bucket.number and f.trace_path == bucket.trace), None)

    def _free_document(self, result: Any, outcome: Any, path: Path) -> dict[str, Any]:
        config = outcome.config
        mine = [f for f, _, _ in result.filed]
        return {
            "schema": self.result_schema,
            "testbed_version": __version__,
            "command": "run",
            "config": config.to_json(),
            "violations": [{**f.to_json(), "trace": str(path)} for f in mine],
            "stats": outcome.stats,
        }

    def write_index(self, result: Any) -> None:
        document = {"schema": INDEX_SCHEMA, "testbed_version": __version__, "buckets": result.buckets.to_json()}
        atomic_write(self.directory / INDEX, json.dumps(document, indent=2) + "\n")


def shrink_buckets(
    result: Any, files: BucketFiles, max_runs: int, stopping: Callable[[], bool], say: Callable[[str], None]
) -> None:
    """``--shrink``: shrink each bucket's kept trace in place; stop between (and within) shrinks when asked."""
    from testbed.campaign.merge import merge_by_races
    from testbed.sched import TraceError
    from testbed.shrink import shrink
    from testbed.traces import load_trace

    class _Stopped(Exception):
        pass

    def check(runs: int, measure: dict[str, int]) -> None:
        if stopping():
            raise _Stopped

    for bucket in result.buckets:
        if stopping():
            say("shrinking stopped: the remaining buckets keep their traces as found")
            break
        if bucket.trace is None:
            continue
        try:
            trace = load_trace(bucket.trace)
        except TraceError:  # a free run's result: nothing to shrink
            continue
        try:
            shrunk = shrink(trace, max_runs=max_runs, on_progress=check)
        except _Stopped:
            say(f"shrinking bucket {bucket.number} stopped: it keeps its trace as found")
            break
        except Exception as error:  # a trace that does not reproduce (free mode never gets here)
            bucket.shrunk = {"error": str(error)}
            continue
        atomic_write(bucket.trace, json.dumps(shrunk.trace, separators=(",", ":")) + "\n")
        bucket.shrunk = {
            "runs": shrunk.runs,
            "before": shrunk.before,
            "after": shrunk.after,
            "minimal": shrunk.minimal,
        }
        say(
            f"bucket {bucket.number}: shrunk in {shrunk.runs} runs, preemptions "
            f"{shrunk.before['preemptions']} -> {shrunk.after['preemptions']}, steps "
            f"{shrunk.before['steps']} -> {shrunk.after['steps']}"
        )
    if not stopping():
        merge_by_races(result.buckets, say)
    files.write_index(result)
