"""The order in which a worker applies lines produced through one topic per event type: for each
partition, the partition of every topic merged by event time. Written from Kafka's and the
product's documented behaviour, importing nothing under test:

* ``produce`` sends a line to the topic of its ``type`` (a line without a known type to the
  first topic), keyed by its ``user_id``; Kafka's default partitioner puts a keyed record in
  partition ``murmur2(key) & 0x7fffffff % partitions`` (Kafka's ``Utils.murmur2``, seed
  0x9747b28c);
* within a topic partition, lines keep the order they were produced in;
* the worker merges the same partition of every topic: it always takes, of the topics' next
  lines, the one with the smallest ``ts`` (a line it rejects has no time and goes first), the
  first topic in the settings' order on a tie; a topic that has no line left is not waited for.

Lines without a usable key go to some partition at random: they are all rejected (no
``user_id``), which no order changes, so they are merged first here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

TYPES = ("chat_created", "message_sent", "call", "registered")


def murmur2(data: bytes) -> int:
    """Kafka's 32-bit murmur2 (``org.apache.kafka.common.utils.Utils.murmur2``), as a signed int."""
    seed, m, r = 0x9747B28C, 0x5BD1E995, 24
    length = len(data)
    h = (seed ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length % 4
    base = length - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h >= 1 << 31 else h


def partition_of(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def _routing(line: bytes) -> tuple[bytes | None, str | None]:
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, None
    if not isinstance(obj, dict):
        return None, None
    user, etype = obj.get("user_id"), obj.get("type")
    key = user.encode() if isinstance(user, str) and user else None
    return key, etype if isinstance(etype, str) and etype in TYPES else None


def merged_order(lines: Sequence[bytes], partitions: int, ts_of: Callable[[int], int]) -> list[int]:
    """Indexes of ``lines`` in the order the worker applies them. ``ts_of(i)``: the event time the
    worker gives line ``i`` (-1 for a line it rejects)."""
    unkeyed: list[int] = []
    queues: dict[int, dict[str, list[int]]] = {}
    for index, line in enumerate(lines):
        key, etype = _routing(line)
        if key is None:
            unkeyed.append(index)
            continue
        topic = etype or TYPES[0]
        queues.setdefault(partition_of(key, partitions), {t: [] for t in TYPES})[topic].append(index)
    order = list(unkeyed)
    for partition in sorted(queues):
        heads = {topic: 0 for topic in TYPES}
        topics = queues[partition]
        while True:
            best: tuple[int, int, str] | None = None
            for rank, topic in enumerate(TYPES):
                position = heads[topic]
                if position < len(topics[topic]):
                    candidate = (ts_of(topics[topic][position]), rank, topic)
                    if best is None or candidate[:2] < best[:2]:
                        best = candidate
            if best is None:
                break
            topic = best[2]
            order.append(topics[topic][heads[topic]])
            heads[topic] += 1
    return order
