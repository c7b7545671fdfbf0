"""The pipeline applies each input partition's messages without a hole.

Every offset the pipeline commits must cover messages that were applied, by this worker or by
one whose state it restored. A message read past a hole (offsets between the last one applied
and it that were never delivered) would move the pending offset past the hole, and the next
commit would skip the events in it for good. The rebalance fault test lost a few hundred events
that way: after a rebalance, the new owner of a partition applied messages from about 2,000
offsets past the committed offset it had sought to.

So, per partition, :class:`Contiguity` keeps the next offset that may be applied:

* set by each seek to the committed offsets (``expect``): everything below a committed offset was
  applied by some owner, and its state is in the changelog;
* moved by each message applied.

A message at or below it is applied (below it: read again, the state knows it); a message above
it is held back, and the pipeline seeks the partition back to it (``seek_target``). If the
partition's log no longer starts that low (retention deleted the records before anyone read
them), it goes on from the log's start, and says so.

From an assignment until its seek to the committed offsets, nothing of the partition is applied
(Faust resumes the partitions before it seeks them, and where the fetcher starts then is not
known): the seek reads those messages again. A partition with nothing committed is sought to
its log's start, which the consumer reads at the seek (``stream.transport``); if it could not,
the partition's first message sets the next offset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from faust.types import TP, Message


class Contiguity:
    def __init__(self, topics: frozenset[str]) -> None:
        self._topics = topics
        #: Per partition, the next offset that may be applied; absent: not sought since the
        #: assignment (nothing is applied), or in ``_from_first``.
        self._next: dict[TP, int] = {}
        #: Partitions sought to their beginning (nothing committed): the first message sets it.
        self._from_first: set[TP] = set()

    def forget(self) -> None:
        """On a new assignment."""
        self._next = {}
        self._from_first = set()

    def expect(self, committed: Mapping[TP, int | None]) -> None:
        """After a seek to the committed offsets (None: nothing committed)."""
        for tp, offset in committed.items():
            if tp.topic not in self._topics:
                continue
            if offset is None or offset < 0:
                if tp not in self._next:
                    self._from_first.add(tp)
            else:
                self._from_first.discard(tp)
                self._next[tp] = max(self._next.get(tp, offset), offset)

    def admit(self, messages: Sequence[Message]) -> tuple[list[Message], dict[TP, int]]:
        """The messages that may be applied, in order, and per partition with a hole the offset
        it should be read from again. A partition's messages after a hole are held back too, and
        so are those of a partition not sought since its assignment."""
        admitted: list[Message] = []
        holes: dict[TP, int] = {}
        nxt = self._next
        for message in messages:
            tp = message.tp
            if tp in holes:
                continue
            expected = nxt.get(tp)
            if expected is None:
                if tp not in self._from_first:
                    continue  # the seek after the assignment reads it again
                self._from_first.discard(tp)
            elif message.offset > expected:
                holes[tp] = expected
                continue
            admitted.append(message)
            if expected is None or message.offset >= expected:
                nxt[tp] = message.offset + 1
        return admitted, holes

    def seek_target(self, tp: TP, expected: int, log_start: int) -> int:
        """Where to seek a partition with a hole at ``expected`` back to: there, or the log's
        start if retention has deleted it. (Each hole seeks again: messages read before the
        seek may still come, each batch of them finds the hole, and a seek costs little.)"""
        target = max(expected, log_start)
        if target > expected:
            self._next[tp] = target
        return target

    def next_offset(self, tp: TP) -> int | None:
        return self._next.get(tp)
