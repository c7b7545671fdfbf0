"""``stream.kafka.align.Merge``: one partition's input topics merged by event time, waiting (up to
an idle bound) for a topic whose next records are on the broker but not fetched yet."""

from __future__ import annotations

from dataclasses import dataclass

from stream.kafka.align import Merge


@dataclass(frozen=True)
class Item:
    name: str
    ts: int


def names(items: list[Item]) -> list[str]:
    return [i.name for i in items]


def caught_up(*sources: str):  # type: ignore[no-untyped-def]
    return lambda source: source in sources


def test_one_topic_passes_through_in_offset_order() -> None:
    merge: Merge[str, Item] = Merge(["m"], idle_s=1.0)
    merge.add("m", [Item("m1", 30), Item("m2", 10), Item("m3", 20)])
    assert names(merge.take(0.0, caught_up(), limit=10)) == ["m1", "m2", "m3"]


def test_topics_are_merged_by_event_time_each_in_its_own_order() -> None:
    merge: Merge[str, Item] = Merge(["chat", "msg", "reg"], idle_s=1.0)
    merge.add("chat", [Item("c1", 5), Item("c2", 40)])
    merge.add("msg", [Item("m1", 10), Item("m2", 7), Item("m3", 50)])  # m2 stays after m1
    merge.add("reg", [Item("r1", 1), Item("r2", 45)])
    got = merge.take(0.0, caught_up("chat", "msg", "reg"), limit=100)
    assert names(got) == ["r1", "c1", "m1", "m2", "c2", "r2", "m3"]


def test_a_tie_goes_to_the_first_topic_of_the_settings() -> None:
    merge: Merge[str, Item] = Merge(["a", "b"], idle_s=1.0)
    merge.add("b", [Item("b1", 5)])
    merge.add("a", [Item("a1", 5)])
    assert names(merge.take(0.0, caught_up("a", "b"), limit=10)) == ["a1", "b1"]


def test_a_rejection_has_no_time_and_goes_first() -> None:
    merge: Merge[str, Item] = Merge(["a", "b"], idle_s=1.0)
    merge.add("a", [Item("a1", 100)])
    merge.add("b", [Item("bad", -1), Item("b1", 200)])
    assert names(merge.take(0.0, caught_up("a", "b"), limit=10)) == ["bad", "a1", "b1"]


def test_records_wait_for_a_topic_with_more_on_the_broker_then_go_when_it_comes() -> None:
    holds: list[str] = []
    held: list[float] = []
    merge: Merge[str, Item] = Merge(
        ["dense", "sparse"], idle_s=5.0, on_hold=lambda: holds.append("hold"), on_held=held.append
    )
    merge.add("dense", [Item("d1", 10), Item("d2", 20)])
    # sparse is empty and not caught up: its fetch has not come; nothing goes
    assert merge.take(0.0, caught_up("dense"), limit=10) == []
    assert merge.take(1.0, caught_up("dense"), limit=10) == []
    merge.add("sparse", [Item("s1", 15)])
    # s1 came, with more of sparse still on the broker: d1 and s1 go, d2 waits again
    assert names(merge.take(2.0, caught_up("dense"), limit=10)) == ["d1", "s1"]
    assert holds == ["hold", "hold"] and held == [2.0]
    # the rest of sparse is fetched: nothing more of it on the broker
    assert names(merge.take(2.5, caught_up("dense", "sparse"), limit=10)) == ["d2"]
    assert held == [2.0, 0.5]


def test_a_caught_up_topic_is_not_waited_for() -> None:
    merge: Merge[str, Item] = Merge(["dense", "sparse"], idle_s=5.0)
    merge.add("dense", [Item("d1", 10), Item("d2", 20)])
    assert names(merge.take(0.0, caught_up("dense", "sparse"), limit=10)) == ["d1", "d2"]


def test_after_the_idle_bound_records_go_without_the_lagging_topic() -> None:
    held: list[float] = []
    merge: Merge[str, Item] = Merge(["dense", "sparse"], idle_s=5.0, on_held=held.append)
    merge.add("dense", [Item("d1", 10)])
    assert merge.take(0.0, caught_up("dense"), limit=10) == []
    assert merge.take(4.9, caught_up("dense"), limit=10) == []
    assert names(merge.take(5.0, caught_up("dense"), limit=10)) == ["d1"]
    merge.add("dense", [Item("d2", 20)])  # still lagging: the bound has passed, no new wait
    assert names(merge.take(5.5, caught_up("dense"), limit=10)) == ["d2"]
    assert held == [5.0]


def test_take_stops_at_the_limit_and_keeps_the_rest() -> None:
    merge: Merge[str, Item] = Merge(["a", "b"], idle_s=1.0)
    merge.add("a", [Item(f"a{i}", i * 2) for i in range(5)])
    merge.add("b", [Item(f"b{i}", i * 2 + 1) for i in range(5)])
    first = merge.take(0.0, caught_up("a", "b"), limit=4)
    rest = merge.take(0.0, caught_up("a", "b"), limit=100)
    assert names(first) == ["a0", "b0", "a1", "b1"]
    assert names(rest) == ["a2", "b2", "a3", "b3", "a4", "b4"]
    assert merge.buffered("a") == merge.buffered("b") == 0
