"""The ``explore`` pytest marker: run a test's own threads under the controlled scheduler.

``@pytest.mark.explore(strategy="pos", schedules=500)`` on a test runs its
body as an explored thread (:func:`testbed.sched.explore`), schedule after
schedule; the threads it starts as :class:`testbed.sched.Thread` (and its
:class:`~testbed.sched.Lock`, :class:`~testbed.sched.Queue`... operations
and ``point()`` calls) are steered.  The test fails at the first failing
schedule, with a "testbed explore" report section: the failure, its
explanation (the racing operations behind each preemption of the shrunk
schedule, with source lines), the saved trace and the one line that
replays it: ``pytest --testbed-replay=PATH NODEID``.  With
``--testbed-replay`` the marked test replays that trace instead of
exploring (checked: a schedule the test no longer follows is an error).

The marker takes :func:`~testbed.sched.explore`'s keyword arguments
``strategy`` (a name), ``schedules``, ``seed``, ``depth``, ``p``, ``power``,
``max_steps``, ``timeout``, and ``shrink`` (default True: the report shows
the 1-minimal schedule); anything else, or a bad value, is a one-line
usage error at collection.  Mirrors Fray's ``@ConcurrencyTest``, Shuttle's
``check_pct``/``check_random`` and Loom's ``loom::model``.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testbed.sched import ExploreResult, TraceError, explore, replay
from testbed.sched._explore_strategies import NAMES, plan

__all__ = ["MARKER", "explore_options", "marker_settings", "run_marked"]

MARKER = "explore"
_SETTINGS = ("strategy", "schedules", "seed", "depth", "p", "power", "max_steps", "timeout", "shrink")
_DEFAULTS: dict[str, Any] = {"strategy": "portfolio", "schedules": 1000, "seed": 0, "shrink": True}


def _usage(item: pytest.Item, problem: str) -> pytest.UsageError:
    return pytest.UsageError(f"{item.nodeid}: @pytest.mark.explore: {problem}")


def marker_settings(item: pytest.Item) -> dict[str, Any] | None:
    """The checked settings of ``item``'s explore marker (None: not marked); ``pytest.UsageError`` if bad."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    if marker.args:
        raise _usage(item, f"takes keyword arguments only ({', '.join(_SETTINGS)}), got {marker.args!r}")
    unknown = sorted(set(marker.kwargs) - set(_SETTINGS))
    if unknown:
        raise _usage(item, f"unknown argument {unknown[0]!r} (known: {', '.join(_SETTINGS)})")
    settings = {**_DEFAULTS, **marker.kwargs}
    if settings["strategy"] not in NAMES:
        raise _usage(item, f"strategy must be one of {', '.join(NAMES)}, got {settings['strategy']!r}")
    try:
        plan(settings["strategy"], settings.get("depth"), settings.get("p"), settings.get("power"))
    except (TypeError, ValueError) as error:
        raise _usage(item, str(error)) from None
    for name, least in (("schedules", 1), ("seed", 0), ("max_steps", 1)):
        value = settings.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            raise _usage(item, f"{name} must be an integer >= {least}, got {value!r}")
    timeout = settings.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
        raise _usage(item, f"timeout must be a positive number of seconds, got {timeout!r}")
    if not isinstance(settings["shrink"], bool):
        raise _usage(item, f"shrink must be True or False, got {settings['shrink']!r}")
    return settings


def explore_options(parser: pytest.Parser) -> None:
    """Add ``--testbed-replay`` to the testbed option group."""
    parser.getgroup("testbed").addoption(
        "--testbed-replay",
        default=None,
        metavar="PATH",
        help="replay this saved schedule in the selected @pytest.mark.explore test instead of exploring",
    )


def check_replay_option(config: pytest.Config) -> None:
    """``--testbed-replay`` names an existing file (else a one-line usage error)."""
    path = config.option.testbed_replay
    if path is not None and not Path(path).is_file():
        raise pytest.UsageError(f"--testbed-replay must name a saved schedule file, got {path!r} (no such file)")


def _body(item: pytest.Function) -> tuple[str, Callable[[], object]]:
    """The test as one thread function (its fixtures resolved), named after the test function."""
    function = item.obj
    arguments = {name: item.funcargs[name] for name in item._fixtureinfo.argnames}

    @functools.wraps(function)  # __wrapped__: the trace's program hash is the test's source
    def body() -> object:
        return function(**arguments)

    return function.__name__, body


def _trace_path(item: pytest.Function) -> Path:
    cache = item.config.cache
    directory = cache.mkdir("testbed-explore") if cache is not None else Path(item.config.rootpath, ".testbed-explore")
    directory.mkdir(parents=True, exist_ok=True)
    return directory / (re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid).strip("_") + ".json")


def _report(item: pytest.Function, result: ExploreResult, path: Path) -> str:
    lines = [str(result), "", result.explain(), ""]
    if result.traceback:
        lines += [result.traceback.rstrip(), ""]
    lines.append(f"trace: {path}")
    lines.append(f"replay: pytest --testbed-replay={shlex.quote(str(path))} {shlex.quote(item.nodeid)}")
    return "\n".join(lines)


def run_marked(item: pytest.Function, settings: dict[str, Any]) -> None:
    """Run the marked test under control; fail it (with the report section) at the first failing schedule."""
    name, body = _body(item)
    saved = item.config.option.testbed_replay
    limits = {key: settings[key] for key in ("max_steps", "timeout") if settings.get(key) is not None}
    if saved is not None:
        try:
            result = replay(saved, {name: body}, timeout=limits.get("timeout", 10.0))
        except TraceError as error:
            pytest.fail(f"--testbed-replay {saved}: {error}", pytrace=False)
    else:
        options = {
            key: settings[key] for key in ("strategy", "schedules", "seed", "depth", "p", "power") if key in settings
        }
        result = explore({name: body}, **options, **limits)
        if result.failed and settings["shrink"]:
            result = result.shrink()
    if not result.failed:
        return
    path = _trace_path(item)
    result.save(path)
    report = _report(item, result, path)
    item.testbed_explore_report = report  # type: ignore[attr-defined]
    pytest.fail(f"{result}\n  replay: pytest --testbed-replay={shlex.quote(str(path))} {item.nodeid}", pytrace=False)
