"""The ``testbed`` command.

Exit status: 0 no violation, 1 violation found, 2 bad usage or bad input.
Bad input is reported in one line naming the problem, never a traceback,
and is detected before any schedule runs, so nothing found is ever lost to
it.  Human output goes to stdout, or to stderr when ``--json -`` claims
stdout for the JSON result.

One module per command (``run``, ``stress``, ``replay``, ``shrink``,
``timeline``, ``catalogues`` for ``scenarios``/``faults``/``invariants``),
each with its ``add_parser`` and its ``cmd_*`` function; ``arguments`` and
``output`` hold what they share, ``parser`` the whole parser and
``entry`` the :func:`main` that dispatches.
"""

from __future__ import annotations

from testbed.cli.arguments import EXAMPLES, UsageError, parse_duration
from testbed.cli.entry import main
from testbed.cli.parser import build_parser, config_from_command

__all__ = ["EXAMPLES", "UsageError", "build_parser", "config_from_command", "main", "parse_duration"]
