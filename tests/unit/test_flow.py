"""Resuming a running flow keeps what is queued; resuming after a suspension drops it."""

from __future__ import annotations

import asyncio

from mode.utils.queues import FlowControlEvent, FlowControlQueue

from stream.flow import ResumeOnceFlowControl


def queued_after(flow: FlowControlEvent, *, suspend_first: bool) -> int:
    async def scenario() -> int:
        queue: FlowControlQueue = FlowControlQueue(flow_control=flow, clear_on_resume=True)
        flow.resume()  # a flow starts suspended; this is the worker starting
        for n in range(3):
            queue.put_nowait(n)
        if suspend_first:
            flow.suspend()
        flow.resume()
        return queue.qsize()

    return asyncio.run(scenario())


def test_resume_while_running_keeps_queued_messages() -> None:
    assert queued_after(ResumeOnceFlowControl(), suspend_first=False) == 3


def test_resume_after_a_suspension_drops_messages_fetched_before_it() -> None:
    assert queued_after(ResumeOnceFlowControl(), suspend_first=True) == 0


def test_modes_own_resume_drops_them_even_while_running() -> None:
    """The behaviour ResumeOnceFlowControl exists for: if mode changes it, this test says so."""
    assert queued_after(FlowControlEvent(), suspend_first=False) == 0
