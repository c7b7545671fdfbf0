"""Faust's stream flow control, without the clear that loses messages after a recovery.

mode's ``FlowControlEvent.resume()`` empties every stream queue each time it is called, even
when the flow is already running. Faust's table recovery resumes the flow to read the
changelogs, then, when done, resumes the input partitions, awaits the seek to the committed
offsets (messages flow meanwhile), and calls ``resume()`` again: the input messages queued in
that window (about a thousand per partition) were dropped while the consumer had already moved
past them. The crash fault test lost up to 40 % of its rows this way. Here a queue is emptied
only when the flow really resumes after a suspension, which is what the clear is for: messages
fetched before a rebalance, which the seek after it reads again.
"""

from __future__ import annotations

from mode.utils.queues import FlowControlEvent


class ResumeOnceFlowControl(FlowControlEvent):
    def resume(self) -> None:
        if self.is_active():
            return  # already flowing: nothing queued is stale
        super().resume()
