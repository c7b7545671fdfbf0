"""A Faust table that remembers its changelog sends until a flush has seen them acknowledged.

A table write puts its changelog message in Faust's producer buffer, which a background task
drains. ``Producer.flush()`` is no barrier for it: the buffer's flush returns as soon as no
message has left it for 0.1 s, which a busy event loop easily causes. Offsets committed then can
cover state changes the broker never received, and a restart or a new owner of the partition
restores older state and never re-reads the events that made the newer one (the rebalance
fault test lost about 6 % of the rows this way). So each send's future is kept, and a flush
waits for the broker's acknowledgement of every one of them before it commits.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import FutureMessage


class DurableTable(faust.Table):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unacknowledged: list[FutureMessage] = []

    def send_changelog(self, *args: Any, **kwargs: Any) -> FutureMessage:
        future: FutureMessage = super().send_changelog(*args, **kwargs)
        self._unacknowledged.append(future)
        return future

    def take_sent(self) -> list[FutureMessage]:
        """The changelog sends since the last call; each resolves once the broker has it."""
        sent, self._unacknowledged = self._unacknowledged, []
        return sent
