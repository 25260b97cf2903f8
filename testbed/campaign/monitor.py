"""What a running campaign checks between schedules.

:class:`StopRequests` turns SIGINT and SIGTERM into a request to stop: the
first one lets the schedules that are running finish (they take well under
a second), the second one stops at once (KeyboardInterrupt); either way
the campaign keeps everything found.  :class:`Monitor` is the
``monitor`` hook of :func:`testbed.stress`: it reports a stop request, ends
the campaign when the memory of its processes (children included, by
psutil) passes ``--max-rss``, prints a progress line every
``--progress-interval`` when the output is not a terminal, updates the live
status line when it is, and calls the checkpoint writer every few seconds.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

import psutil

__all__ = ["CHECKPOINT_INTERVAL", "Monitor", "StopRequests", "campaign_rss_mb", "default_max_rss_mb"]

#: seconds between checkpoints of the result JSON
CHECKPOINT_INTERVAL = 5.0
#: seconds between memory measurements
RSS_INTERVAL = 1.0
#: the default memory guard, as a fraction of the machine's memory
RSS_FRACTION = 0.5


def campaign_rss_mb() -> float:
    """Resident memory of this process and all its descendants (worker processes), in MB."""
    me = psutil.Process()
    total = 0
    for process in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return round(total / 2**20, 1)


def default_max_rss_mb() -> int:
    """Half of the machine's memory, in MB: the default ``--max-rss``."""
    return int(psutil.virtual_memory().total * RSS_FRACTION / 2**20)


class StopRequests:
    """SIGINT and SIGTERM as requests to stop (``with StopRequests() as stop: ... stop.reason``).

    Outside the main thread (where handlers cannot be installed) it does nothing.
    """

    def __init__(self) -> None:
        self.reason: str | None = None
        #: set while the summary and the result are written: a signal is noted, never raised
        self.finishing = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.reason is not None and not self.finishing:
            raise KeyboardInterrupt  # the second request: stop now
        self.reason = self.reason or signal.Signals(signum).name

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    @property
    def exit_status(self) -> int:
        """What a shell reports for a process ended by the signal: 128 + its number."""
        return 128 + int(signal.Signals[self.reason]) if self.reason else 130


class Monitor:
    """The ``monitor`` hook of a ``stress`` campaign; see the module docstring.

    ``progress`` is the stream for progress lines (None: none);
    ``status(result, elapsed)`` updates a live status line; ``checkpoint(result)``
    writes the result so far; ``events`` gets each progress record too.
    """

    def __init__(
        self,
        stop: StopRequests,
        max_rss_mb: float,
        progress: TextIO | None = None,
        progress_interval: float = 10.0,
        status: Callable[[Any, float], None] | None = None,
        checkpoint: Callable[[Any], None] | None = None,
        events: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.stop = stop
        self.max_rss_mb = max_rss_mb
        self.progress = progress
        self.progress_interval = progress_interval
        self.status = status
        self.checkpoint = checkpoint
        self.events = events
        self.started = time.monotonic()
        self.peak_rss_mb = 0.0
        self.rss_mb = 0.0
        self.progress_lines = 0
        self._next_progress = self.started + progress_interval
        self._next_checkpoint = self.started + CHECKPOINT_INTERVAL
        self._next_rss = self.started

    def measure(self) -> float:
        self.rss_mb = campaign_rss_mb()
        self.peak_rss_mb = max(self.peak_rss_mb, self.rss_mb)
        return self.rss_mb

    def __call__(self, result: Any) -> str | None:
        now = time.monotonic()
        elapsed = now - self.started
        reason = self.stop.reason
        if now >= self._next_rss:
            self._next_rss = now + RSS_INTERVAL
            if self.measure() > self.max_rss_mb and reason is None:
                reason = "max-rss"
        if self.status is not None:
            self.status(result, elapsed)
        if now >= self._next_progress:
            self._next_progress = now + self.progress_interval
            self.report(result, elapsed)
        if self.checkpoint is not None and now >= self._next_checkpoint:
            self._next_checkpoint = now + CHECKPOINT_INTERVAL
            self.checkpoint(result)
        return reason

    def record(self, result: Any, elapsed: float) -> dict[str, Any]:
        """What a progress line says, as a record."""
        return {
            "elapsed_s": round(elapsed, 1),
            "schedules": result.schedules,
            "rate": round(result.schedules / elapsed, 2) if elapsed > 0 else 0.0,
            "findings": len(result.findings),
            "failing": result.failed_schedules,
            "buckets": len(result.buckets),
            "rss_mb": self.rss_mb,
        }

    def report(self, result: Any, elapsed: float) -> None:
        """One progress line (schedules, rate, findings, buckets, memory)."""
        record = self.record(result, elapsed)
        if self.events is not None:
            self.events(record)
        if self.progress is None:
            return
        self.progress_lines += 1
        self.progress.write(
            f"[{record['elapsed_s']:7.1f}s] progress: {record['schedules']} schedules ({record['rate']:.1f}/s), "
            f"{record['findings']} findings in {record['buckets']} buckets, rss {record['rss_mb']:.0f} MB\n"
        )
        self.progress.flush()
