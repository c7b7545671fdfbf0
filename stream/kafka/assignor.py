"""The group's assignment: whole partition numbers, sticky.

The worker keeps a user's state in the partition of the user's key, and reads the same partition
number of every input topic together (``stream.kafka.align``): so every input topic's partition
``p`` must go to the same member, with the changelog partition ``p``. Kafka's round-robin and
range assignors do not promise that. Here the unit of assignment is the partition number.

Sticky: each member says in its metadata which partition numbers it owns now; it keeps them, up
to an even share, and only the rest move. A rolling restart then moves nothing, and a member that
joins takes only its share. (With static membership a restarted member keeps its place in the
group and no rebalance happens at all.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata

VERSION = 0


def assign_numbers(numbers: Iterable[int], owned: Mapping[str, Iterable[int]]) -> dict[str, list[int]]:
    """Partition numbers per member: an even share each (sizes differ by at most one), members
    keeping what they own as far as their share allows. ``owned``: every member, with what it owns."""
    members = sorted(owned)
    pending = sorted(set(numbers))
    if not members:
        return {}
    base, extra = divmod(len(pending), len(members))
    # the members owning the most keep the larger shares: fewer partitions move
    by_owned = sorted(members, key=lambda m: (-len(set(owned[m]) & set(pending)), m))
    quota = {member: base + (1 if rank < extra else 0) for rank, member in enumerate(by_owned)}
    result: dict[str, list[int]] = {member: [] for member in members}
    free = set(pending)
    for member in by_owned:
        for number in sorted(set(owned[member])):
            if number in free and len(result[member]) < quota[member]:
                result[member].append(number)
                free.discard(number)
    for number in sorted(free):
        member = min(members, key=lambda m: (len(result[m]) - quota[m], len(result[m]), m))
        result[member].append(number)
    return {member: sorted(numbers) for member, numbers in result.items()}


def _encode(numbers: Iterable[int]) -> bytes:
    return ",".join(str(n) for n in sorted(numbers)).encode()


def _decode(raw: bytes) -> list[int]:
    try:
        return [int(n) for n in raw.decode().split(",") if n]
    except (UnicodeDecodeError, ValueError):
        return []  # another version's metadata: owns nothing we know of


def copartitioned_assignor(owned_now: Callable[[], Iterable[int]]) -> type[AbstractPartitionAssignor]:
    """The assignor class for one consumer; ``owned_now()`` says which partition numbers it owns."""

    class CopartitionedAssignor(AbstractPartitionAssignor):  # type: ignore[misc]  # aiokafka is untyped
        name = "sferum-copartitioned"
        version = VERSION

        @classmethod
        def assign(
            cls, cluster: ClusterMetadata, members: Mapping[str, ConsumerProtocolMemberMetadata]
        ) -> dict[str, ConsumerProtocolMemberAssignment]:
            topics = sorted({topic for meta in members.values() for topic in meta.subscription})
            numbers: set[int] = set()
            for topic in topics:
                numbers |= set(cluster.partitions_for_topic(topic) or ())
            owned = {member: _decode(meta.user_data) for member, meta in members.items()}
            shares = assign_numbers(numbers, owned)
            result = {}
            for member, meta in members.items():
                mine = shares.get(member, [])
                assignment = [
                    (topic, [n for n in mine if n in (cluster.partitions_for_topic(topic) or ())])
                    for topic in sorted(meta.subscription)
                ]
                result[member] = ConsumerProtocolMemberAssignment(cls.version, assignment, b"")
            return result

        @classmethod
        def metadata(cls, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
            return ConsumerProtocolMemberMetadata(cls.version, list(topics), _encode(owned_now()))

        @classmethod
        def on_assignment(cls, assignment: ConsumerProtocolMemberAssignment) -> None:
            pass

    return CopartitionedAssignor
