"""What the campaign tests share: a short campaign that finds ``unlocked-remset-insert`` in most schedules."""

from __future__ import annotations

#: CLI words of a campaign whose schedules mostly find the fault (store buffers of 4, 300 ops)
FAULTY = (
    "--scenario",
    "store-buffer-storm",
    "--fault",
    "unlocked-remset-insert",
    "--strategy",
    "random",
    "--ops",
    "300",
)
