"""A thread on the scheduling layer: a drop-in for :class:`threading.Thread`.

Code under test that starts its own threads is steered when it starts them
as ``testbed.sched.Thread(target=..., args=..., kwargs=..., name=...,
daemon=...)`` (or subclasses it and overrides :meth:`run`), the way Fray
instruments ``java.lang.Thread`` and Shuttle/Loom offer ``thread::spawn``:

* started by a thread a controlled scheduler steers (an
  :func:`~testbed.sched.explore` thread, or a steered ``Thread`` itself),
  its OS thread is spawned through the scheduler, registered at that point
  of the schedule (so its index on the tape is the same in every run) and
  steered like its starter; the schedule ends only when it has ended;
* started by any other thread (free mode, no run), it is a plain
  ``threading.Thread``.

``join(timeout=None)`` waits through the thread's own parking lot, so a
steered thread joining a steered thread hands the turn over instead of
blocking the OS thread the other needs; its ``timeout`` is patience, as for
every wait here (a join nobody can end is a deadlock under control).  An
exception escaping a steered thread is the explored schedule's failure
(the scheduler's ``on_thread_error``); elsewhere it goes to
:func:`threading.excepthook`, as from a ``threading.Thread``.  Automatic
names are ``thread-1``, ``thread-2``, ... per schedule (never ``id()``).
"""

from __future__ import annotations

import sys
import threading
from _thread import get_ident
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from testbed.sched import _points
from testbed.sched._halts import Cancelled, Halt
from testbed.sched._joinable import Joinable
from testbed.sched._points import point
from testbed.sched._primitives import auto_name

__all__ = ["Thread"]


class Thread(Joinable):
    """Run ``target(*args, **kwargs)`` (or :meth:`run`) in a thread of its own, steered when its starter is."""

    def __init__(
        self,
        group: None = None,
        target: Callable[..., object] | None = None,
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        daemon: bool | None = None,
    ) -> None:
        if group is not None:
            raise ValueError("group must be None (as for threading.Thread)")
        if target is not None and not callable(target):
            raise TypeError(f"thread target must be callable, got {target!r}")
        self.name = auto_name("thread") if name is None else str(name)
        self.daemon = bool(daemon) if daemon is not None else False
        self._target = target
        self._args = tuple(args)
        self._kwargs = dict(kwargs) if kwargs is not None else {}
        super().__init__(f"thread {self.name}")

    def start(self) -> None:
        """Start the thread: steered when the caller is, else a plain ``threading.Thread``."""
        if self._started:
            raise RuntimeError("threads can only be started once")
        self._started = True
        scheduler = _points._active
        if scheduler.current_task() is not None:
            point("thread-start", self.name)
            scheduler.spawn(self.name, self._bootstrap)
        else:
            threading.Thread(target=self._bootstrap, name=self.name, daemon=self.daemon).start()

    def run(self) -> None:
        """What the thread does: call the target (override it in a subclass, as with ``threading.Thread``)."""
        if self._target is not None:
            self._target(*self._args, **self._kwargs)

    def _bootstrap(self) -> None:
        self._ident = get_ident()
        try:
            self.run()
        except Cancelled:
            pass  # the schedule already failed elsewhere
        except BaseException as error:
            report = _points._active.on_thread_error
            if report is not None and (isinstance(error, Halt) or _points._active.current_task() is not None):
                report(error, self.name)
            elif not isinstance(error, Halt):
                threading.excepthook(threading.ExceptHookArgs((*sys.exc_info(), threading.current_thread())))
            else:
                raise
        finally:
            self._ending()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the thread has ended."""
        self._join(
            "thread", self.name, timeout, "cannot join thread before it is started", "cannot join current thread"
        )

    def __repr__(self) -> str:
        state = "initial" if not self._started else ("stopped" if self._ended else "started")
        return f"<testbed.sched.Thread {self.name!r} {state}>"
