"""``stream.contiguity``: a partition's messages are applied without a hole; a hole is read
again from where it starts, or from the log's start when retention deleted it."""

from __future__ import annotations

from types import SimpleNamespace

from faust.types import TP

from stream.contiguity import Contiguity

P0 = TP("events", 0)
P1 = TP("events", 1)
OTHER = TP("user-state-changelog", 0)


def msg(tp: TP, offset: int) -> SimpleNamespace:
    return SimpleNamespace(tp=tp, offset=offset)


def offsets(messages: list[SimpleNamespace]) -> list[tuple[int, int]]:
    return [(m.tp.partition, m.offset) for m in messages]


def test_messages_past_a_hole_after_the_seek_to_the_committed_offset_are_held_back() -> None:
    c = Contiguity(frozenset({"events"}))
    # the seek after a rebalance: partition 0 committed at 100, partition 1 never committed
    c.expect({P0: 100, P1: None, OTHER: 7})
    # the fetcher hands over messages from where another position had read to: 160 onwards
    admitted, holes = c.admit([msg(P0, 160), msg(P1, 5), msg(P0, 161), msg(P1, 6)])
    assert offsets(admitted) == [(1, 5), (1, 6)]  # partition 1 had no commit: its first message
    _, holes_1 = c.admit([msg(P1, 9)])
    assert holes_1 == {P1: 7}  # from then on it is checked too
    assert holes == {P0: 100}
    assert c.next_offset(OTHER) is None  # not an input topic
    # read again from 100: applied, and the pending offset may move past them
    admitted, holes = c.admit([msg(P0, 100), msg(P0, 101), msg(P1, 7)])
    assert offsets(admitted) == [(0, 100), (0, 101), (1, 7)] and holes == {}
    assert c.next_offset(P0) == 102


def test_messages_read_again_below_the_next_offset_are_applied() -> None:
    c = Contiguity(frozenset({"events"}))
    c.expect({P0: 50})
    admitted, _ = c.admit([msg(P0, 50), msg(P0, 51), msg(P0, 52)])
    admitted, holes = c.admit([msg(P0, 40), msg(P0, 53)])  # 40: before the commit, a duplicate
    assert offsets(admitted) == [(0, 40), (0, 53)] and holes == {}
    assert c.next_offset(P0) == 54


def test_nothing_is_applied_between_an_assignment_and_its_seek() -> None:
    c = Contiguity(frozenset({"events"}))
    c.expect({P0: 10})
    c.admit([msg(P0, 10)])
    c.forget()  # a new assignment; Faust resumes the partition before it seeks it
    admitted, holes = c.admit([msg(P0, 900), msg(P0, 901)])
    assert admitted == [] and holes == {}  # dropped quietly: the seek reads them again
    c.expect({P0: 25})
    assert c.next_offset(P0) == 25
    c.expect({P0: 40})  # a newer commit (the previous owner's last flush) covers 25..39
    assert c.next_offset(P0) == 40
    admitted, holes = c.admit([msg(P0, 30), msg(P0, 40), msg(P0, 41)])  # 30: read again
    assert offsets(admitted) == [(0, 30), (0, 40), (0, 41)] and holes == {}


def test_a_hole_deleted_by_retention_goes_on_from_the_log_start() -> None:
    c = Contiguity(frozenset({"events"}))
    c.expect({P0: 10})
    _, holes = c.admit([msg(P0, 500)])
    assert holes == {P0: 10}
    assert c.seek_target(P0, 10, log_start=0) == 10  # still there: read it again
    assert c.seek_target(P0, 10, log_start=480) == 480  # deleted: from the log's start
    admitted, holes = c.admit([msg(P0, 480), msg(P0, 481)])
    assert offsets(admitted) == [(0, 480), (0, 481)] and holes == {}
