"""``testbed scenarios``, ``testbed faults``, ``testbed invariants``: the catalogues as tables or JSON.

Every table fits a 100-column terminal: the short columns keep their
width and the last one wraps into what is left; the long fields (a
fault's invariants, its real bug (and whose runtime), its source file; a scenario's
description; where an invariant is checked) are printed under their
row with ``-v``, and are all in ``--json``.  A new field goes to the
``-v`` details unless it is as short as a name.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any, TextIO

from testbed.check import INVARIANTS
from testbed.cli import output
from testbed.cli.arguments import add_command
from testbed.faults import FAULTS
from testbed.scenarios import DEFAULT_SCENARIO, SCENARIOS

__all__ = ["CATALOGUES", "WIDTH", "add_parsers", "cmd_catalogue", "table_lines"]

#: the catalogue commands
CATALOGUES = ("scenarios", "faults", "invariants")
#: the terminal width the tables fit
WIDTH = 100
#: the narrowest the last column may wrap to; below it, it goes on its own lines under the row
_MIN_LAST = 30
_DETAIL_INDENT = "    "


def add_parsers(commands: Any) -> None:
    for name in CATALOGUES:
        p = add_command(commands, name)
        p.add_argument("--json", metavar="FILE", help="write the table as JSON (- for stdout)")
        p.add_argument(
            "-v",
            "--verbose",
            dest="details",
            action="store_true",
            help="print the long fields too, under each row (all of them are in --json)",
        )


def table_lines(
    header: list[str], rows: list[list[str]], details: list[list[tuple[str, str]]] | None = None
) -> list[str]:
    """The table, no line over :data:`WIDTH` columns; ``details[i]``: (label, text) lines under row ``i``.

    A detail without text (a fault with no real bug) is left out.
    """
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    indent = sum(widths) + 2 * len(widths)
    if WIDTH - indent < _MIN_LAST:  # the short columns leave too little room: the last one goes under the row
        indent = len(_DETAIL_INDENT)
    lines = []
    for i, row in enumerate([header, *rows]):
        head = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        wrapped = textwrap.wrap(row[-1], WIDTH - indent, break_on_hyphens=False) or [""]
        if len(head) + 2 > indent:
            lines.append(head.rstrip())
            lines += [" " * indent + part for part in wrapped]
        else:
            lines.append(f"{head}  {wrapped[0]}".rstrip())
            lines += [" " * indent + part for part in wrapped[1:]]
        for label, text in details[i - 1] if details is not None and i > 0 else ():
            if not text:
                continue
            lines += textwrap.wrap(
                f"{label}: {text}",
                WIDTH,
                initial_indent=_DETAIL_INDENT,
                subsequent_indent=_DETAIL_INDENT + "  ",
                break_on_hyphens=False,
            )
    return lines


def _print_table(
    out: TextIO,
    header: list[str],
    rows: list[list[str]],
    details: list[list[tuple[str, str]]],
    verbose: bool,
) -> None:
    print("\n".join(table_lines(header, rows, details if verbose else None)), file=out)


def _scenarios(out: TextIO, verbose: bool) -> list[dict[str, Any]]:
    data = [
        {"name": s.name, "description": s.description, "aims_at": s.aims_at, "default": s.name == DEFAULT_SCENARIO}
        for s in SCENARIOS.values()
    ]
    rows = [[d["name"] + (" (default)" if d["default"] else ""), d["aims_at"]] for d in data]
    details = [[("what", d["description"])] for d in data]
    _print_table(out, ["scenario", "aims at"], rows, details, verbose)
    return data


def _faults(out: TextIO, verbose: bool) -> list[dict[str, Any]]:
    data = [
        {
            "name": f.name,
            "summary": f.summary,
            "bug": f.bug,
            "runtime": f.runtime,
            "caught_by": f.caught_by,
            "scenario": f.scenario,
            "available": f.available,
            "where": f.where,
        }
        for f in FAULTS
    ]
    rows = [[d["name"], d["scenario"] or "-", d["runtime"] or "-", d["summary"]] for d in data]
    details = [[("caught by", d["caught_by"]), ("real bug", d["bug"]), ("where", d["where"])] for d in data]
    _print_table(out, ["fault", "provoked by", "runtime", "what goes wrong"], rows, details, verbose)
    return data


def _invariants(out: TextIO, verbose: bool) -> list[dict[str, Any]]:
    data = [{"name": i.name, "holds": i.holds, "checked_at": i.checked_at, "checked": i.checked} for i in INVARIANTS]
    rows = [[d["name"], "yes" if d["checked"] else "no", d["holds"]] for d in data]
    details = [[("checked at", d["checked_at"])] for d in data]
    _print_table(out, ["invariant", "checked", "holds"], rows, details, verbose)
    return data


def cmd_catalogue(args: argparse.Namespace, out: TextIO) -> int:
    output.outputs.claim_file("--json", args.json)
    table = {"scenarios": _scenarios, "faults": _faults}.get(args.command, _invariants)
    output.write_json(args.json, table(out, args.details))
    return 0
