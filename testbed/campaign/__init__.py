"""Campaigns: ``stress`` and its machinery.

``driver``: :func:`~testbed.campaign.driver.stress`, schedules with
derived seeds until a count or a time budget; ``arguments``: its
arguments, checked before anything runs; ``results``: what a campaign
found (``StressResult``, ``Finding``); ``hypothesis_campaign`` and
``database``: ``strategy="hypothesis"``, its search and example database.
``buckets``: findings grouped by signature (invariant, violating
operation, recent model events, thread roles, normalised message).
``pins``: after the schedules, each bucket of free findings pinned to a
controlled trace (:mod:`testbed.pinning`).
``monitor``: what a running campaign checks between schedules: stop
requests (SIGINT, SIGTERM), the memory guard, progress lines, checkpoints.
``output``: atomic files, the ``--out`` directory (one smallest trace per
bucket and an index), ``--log-json`` JSON lines, ``--shrink``.
``deadline``: one schedule run under the campaign's deadline, watched
(progress lines during it) and cut when the time is up (stuck: a
``safepoint-liveness`` finding; progressing: listed as cut).
``processes``: ``--jobs N`` worker processes; ``cluster``: ``--cluster``,
a Dask distributed cluster (the optional extra, imported only there).
"""

from __future__ import annotations

from testbed.campaign.buckets import Bucket, Buckets, Signature, signature_of

__all__ = ["Bucket", "Buckets", "Signature", "signature_of"]
