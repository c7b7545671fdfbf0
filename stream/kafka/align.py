"""One partition's input topics, applied in event-time order.

Kafka orders a user's messages within one topic, not across topics: with the default four topics
(one per event type) a backfill would let a sparse topic run weeks ahead of a dense one in event
time, and the dense topic's events would then look late against a stream time the sparse topic
had moved on. So, as Kafka Streams does across the partitions of a task, the worker merges the
same partition number of every input topic by event time (``ts``): it always applies the buffered
record with the lowest ``ts``, and while a topic's buffer is empty but the broker holds more of it
(its fetch has not come yet) it waits for it, up to ``idle_s``. A topic with nothing more on the
broker (caught up) is not waited for, so live traffic goes through without delay.

Within one topic the order is always the offset order. A record that did not decode has no time
and goes first: it changes no state.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, Protocol, TypeVar


class Timed(Protocol):
    @property
    def ts(self) -> int: ...


T = TypeVar("T", bound=Timed)
Key = TypeVar("Key")


class Merge(Generic[Key, T]):
    """Per-source buffers of one partition, merged by time. ``Key``: the source (a topic partition)."""

    def __init__(
        self,
        sources: Sequence[Key],
        *,
        idle_s: float,
        on_hold: Callable[[], None] = lambda: None,
        on_held: Callable[[float], None] = lambda seconds: None,
    ) -> None:
        self.sources = list(sources)
        self.buffers: dict[Key, deque[T]] = {source: deque() for source in sources}
        self._idle_s = idle_s
        self._waiting_since: float | None = None
        self._expired = False
        self._on_hold = on_hold  # a hold begins
        self._on_held = on_held  # a hold ended (or reached idle_s), after this many seconds

    def add(self, source: Key, items: Iterable[T]) -> None:
        self.buffers[source].extend(items)

    def buffered(self, source: Key) -> int:
        return len(self.buffers[source])

    def take(self, now: float, caught_up: Callable[[Key], bool], limit: int) -> list[T]:
        """Up to ``limit`` records in time order: while every source has a buffered record, or
        the sources without one are caught up, or have been waited for ``idle_s`` already."""
        out: list[T] = []
        buffers = self.buffers
        if len(buffers) == 1:
            (only,) = buffers.values()
            while only and len(out) < limit:
                out.append(only.popleft())
            return out
        while len(out) < limit:
            filled = [source for source in self.sources if buffers[source]]
            if not filled:
                break
            if len(filled) < len(self.sources):
                if not self._may_go(now, caught_up):
                    break
            else:
                self._end_hold(now)
            if len(filled) == 1:
                queue = buffers[filled[0]]
                while queue and len(out) < limit:
                    out.append(queue.popleft())
                continue
            source = min(filled, key=lambda s: buffers[s][0].ts)
            out.append(buffers[source].popleft())
        return out

    def _may_go(self, now: float, caught_up: Callable[[Key], bool]) -> bool:
        """Whether records may go while some source has none buffered. A hold starts when a source
        with more on the broker runs empty, and lasts until it has records again, is caught up,
        or ``idle_s`` has passed (then records go on without it until it has records again)."""
        if not any(not self.buffers[s] and not caught_up(s) for s in self.sources):
            self._end_hold(now)
            return True
        if self._waiting_since is None:
            self._waiting_since = now
            self._expired = False
            self._on_hold()
        if now - self._waiting_since >= self._idle_s:
            if not self._expired:
                self._expired = True
                self._on_held(self._idle_s)
            return True
        return False

    def _end_hold(self, now: float) -> None:
        if self._waiting_since is not None:
            if not self._expired:
                self._on_held(now - self._waiting_since)
            self._waiting_since = None

    def clear(self) -> None:
        for queue in self.buffers.values():
            queue.clear()
        self._waiting_since = None
