"""``testbed scenarios``, ``testbed faults``, ``testbed invariants``: the catalogues as tables or JSON."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from testbed.check import INVARIANTS
from testbed.cli import output
from testbed.cli.arguments import add_command
from testbed.faults import FAULTS
from testbed.scenarios import DEFAULT_SCENARIO, SCENARIOS

__all__ = ["CATALOGUES", "add_parsers", "cmd_catalogue"]

#: the catalogue commands
CATALOGUES = ("scenarios", "faults", "invariants")


def add_parsers(commands: Any) -> None:
    for name in CATALOGUES:
        p = add_command(commands, name)
        p.add_argument("--json", metavar="FILE", help="write the table as JSON (- for stdout)")


def _table(rows: list[list[str]], header: list[str], out: TextIO) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out)


def _scenarios(out: TextIO) -> list[dict[str, Any]]:
    data = [
        {"name": s.name, "description": s.description, "aims_at": s.aims_at, "default": s.name == DEFAULT_SCENARIO}
        for s in SCENARIOS.values()
    ]
    _table([[d["name"], d["aims_at"], d["description"]] for d in data], ["scenario", "aims at", "what"], out)
    return data


def _faults(out: TextIO) -> list[dict[str, Any]]:
    data = [
        {
            "name": f.name,
            "summary": f.summary,
            "bug": f.bug,
            "caught_by": f.caught_by,
            "scenario": f.scenario,
            "available": f.available,
            "where": f.where,
        }
        for f in FAULTS
    ]
    _table(
        [[d["name"], d["scenario"], d["caught_by"], d["summary"], d["bug"] or "-"] for d in data],
        ["fault", "provoked by", "caught by", "what goes wrong", "V8 bug"],
        out,
    )
    return data


def _invariants(out: TextIO) -> list[dict[str, Any]]:
    data = [{"name": i.name, "holds": i.holds, "checked_at": i.checked_at, "checked": i.checked} for i in INVARIANTS]
    _table(
        [[d["name"], "yes" if d["checked"] else "no", d["holds"]] for d in data],
        ["invariant", "checked", "holds"],
        out,
    )
    return data


def cmd_catalogue(args: argparse.Namespace, out: TextIO) -> int:
    output.outputs.claim_file("--json", args.json)
    table = {"scenarios": _scenarios, "faults": _faults}.get(args.command, _invariants)
    output.write_json(args.json, table(out))
    return 0
