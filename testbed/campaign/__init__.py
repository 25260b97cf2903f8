"""Campaign machinery of ``testbed stress``, kept out of ``api.py`` and ``cli.py``.

``buckets``: findings grouped by signature (invariant, violating
operation, recent model events, thread roles, normalised message).
``monitor``: what a running campaign checks between schedules: stop
requests (SIGINT, SIGTERM), the memory guard, progress lines, checkpoints.
``output``: atomic files, the ``--out`` directory (one smallest trace per
bucket and an index), ``--log-json`` JSON lines, ``--shrink``.
``processes``: ``--jobs N`` worker processes; ``cluster``: ``--cluster``,
a Dask distributed cluster (the optional extra, imported only there).
"""

from __future__ import annotations

from testbed.campaign.buckets import Bucket, Buckets, Signature, signature_of

__all__ = ["Bucket", "Buckets", "Signature", "signature_of"]
