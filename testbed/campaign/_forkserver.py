"""Imported by a campaign's forkserver (``set_forkserver_preload``): SIGTERM is left to the campaign process.

A CI runner or ``kill -TERM -PGID`` signals the whole process group.  The
forkserver reports each worker's exit to the pool; killed, it would make
every worker look dead and break the pool, losing the schedules in flight.
Ignoring SIGTERM here (the workers do too), the campaign process stops
the campaign cleanly, and the forkserver ends when that process is gone.
"""

from __future__ import annotations

import signal

signal.signal(signal.SIGTERM, signal.SIG_IGN)
