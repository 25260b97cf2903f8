"""The example database of a Hypothesis campaign (``stress(strategy="hypothesis")``).

Failing examples are saved so that the next campaign with the same configs
replays them before it generates anything; keys are prefixed with a digest
of the campaign's configs so campaigns never see each other's examples.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from testbed.runtime import Config, ConfigError

__all__ = ["HYPOTHESIS_DB", "campaign_database"]

#: where ``stress(strategy="hypothesis")`` keeps its example database unless told otherwise
HYPOTHESIS_DB = ".hypothesis/testbed"


def campaign_database(where: Any, configs: list[Config]) -> Any:
    """``where`` (a directory path, an ExampleDatabase, or None) as the campaign's database.

    The campaign sees the database under keys prefixed with a digest of its
    configs (scenarios, faults, overrides): a campaign replays only what
    failed under the same configs, and a clean campaign never deletes
    another's failures.  Once ``stopped`` is set nothing more is saved:
    Hypothesis saves the example an exception interrupts, and the example a
    budget stop (or Ctrl-C) interrupts did not fail.
    """
    from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

    if where is None:
        return None
    if not isinstance(where, ExampleDatabase):
        if not isinstance(where, str | os.PathLike) or not os.fspath(where):
            raise ConfigError(
                f"hypothesis_db must be a directory path, a hypothesis ExampleDatabase or None, got {where!r}"
            )
        if os.path.exists(where) and not os.path.isdir(where):
            raise ConfigError(f"hypothesis_db {os.fspath(where)!r} exists and is not a directory")
        where = DirectoryBasedExampleDatabase(os.fspath(where))
    digest = hashlib.sha256(json.dumps([c.to_json() for c in configs], sort_keys=True).encode()).hexdigest()
    prefix = f"testbed.stress.{digest[:24]}.".encode()

    class CampaignDatabase(ExampleDatabase):
        def __init__(self) -> None:
            super().__init__()
            self.stopped = False

        def __repr__(self) -> str:
            return f"CampaignDatabase({where!r}, {prefix!r})"

        def save(self, key: bytes, value: bytes) -> None:
            if not self.stopped:
                where.save(prefix + key, value)

        def fetch(self, key: bytes) -> Any:
            return where.fetch(prefix + key)

        def delete(self, key: bytes, value: bytes) -> None:
            where.delete(prefix + key, value)

        def move(self, src: bytes, dest: bytes, value: bytes) -> None:
            if not self.stopped:
                where.move(prefix + src, prefix + dest, value)

    return CampaignDatabase()
