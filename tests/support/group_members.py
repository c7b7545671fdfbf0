"""Who owns what in a consumer group, as the broker says: each member's static instance id (its
``group.instance.id``, KIP-345), member id and assigned partitions.

aiokafka's admin client asks DescribeGroups v3, whose answer has no instance id; v4 added it
(Kafka 2.4 and later). This is DescribeGroups v4, built from aiokafka's protocol types, sent to the
group's coordinator; the assignment of each member is decoded with aiokafka's consumer protocol.
Nothing of the code under test is used.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Bytes, Int16, Int32, Schema, String


class DescribeGroupsResponse_v4(Response):  # noqa: N801  # Kafka's protocol names
    API_KEY = 15
    API_VERSION = 4
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "groups",
            Array(
                ("error_code", Int16),
                ("group", String("utf-8")),
                ("state", String("utf-8")),
                ("protocol_type", String("utf-8")),
                ("protocol", String("utf-8")),
                (
                    "members",
                    Array(
                        ("member_id", String("utf-8")),
                        ("group_instance_id", String("utf-8")),  # null for a dynamic member
                        ("client_id", String("utf-8")),
                        ("client_host", String("utf-8")),
                        ("member_metadata", Bytes),
                        ("member_assignment", Bytes),
                    ),
                ),
                ("authorized_operations", Int32),
            ),
        ),
    )


class DescribeGroupsRequest_v4(RequestStruct):  # noqa: N801
    API_KEY = 15
    API_VERSION = 4
    RESPONSE_TYPE = DescribeGroupsResponse_v4
    SCHEMA = Schema(("groups", Array(String("utf-8"))), ("include_authorized_operations", Boolean))


class DescribeGroupsWithInstances(Request[DescribeGroupsRequest_v4]):
    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(self, request_struct_class: type[DescribeGroupsRequest_v4]) -> DescribeGroupsRequest_v4:
        return request_struct_class(self._groups, False)


@dataclass(frozen=True)
class Member:
    member_id: str
    instance_id: str | None
    #: topic -> assigned partition numbers
    assignment: dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class Membership:
    """A consumer group as its coordinator describes it."""

    state: str
    members: tuple[Member, ...]

    def owners(self, topic: str) -> dict[str, tuple[int, ...]]:
        """instance id -> the partitions of ``topic`` assigned to it (static members only)."""
        return {m.instance_id: m.assignment.get(topic, ()) for m in self.members if m.instance_id is not None}

    def member_ids(self) -> dict[str, str]:
        return {m.instance_id: m.member_id for m in self.members if m.instance_id is not None}

    def covers(self, topic: str, partitions: int) -> bool:
        """Every partition of ``topic`` assigned, each to exactly one member."""
        assigned = [p for m in self.members for p in m.assignment.get(topic, ())]
        return sorted(assigned) == list(range(partitions))


def moved(before: dict[str, tuple[int, ...]], after: dict[str, tuple[int, ...]]) -> list[int]:
    """Partitions whose owner (by instance id) differs between two assignments."""
    owner_before = {p: owner for owner, parts in before.items() for p in parts}
    owner_after = {p: owner for owner, parts in after.items() for p in parts}
    return sorted(p for p in set(owner_before) | set(owner_after) if owner_before.get(p) != owner_after.get(p))


def _decode_assignment(raw: bytes | None) -> dict[str, tuple[int, ...]]:
    if not raw:
        return {}
    decoded: Any = ConsumerProtocolMemberAssignment.decode(raw)
    return {topic: tuple(sorted(parts)) for topic, parts in decoded.assignment}


async def describe_group(admin: AIOKafkaAdminClient, group: str) -> Membership:
    coordinator = await admin.find_coordinator(group)
    response: Any = await admin._send_request(DescribeGroupsWithInstances([group]), coordinator)
    error, _, state, _, _, members, _ = response.groups[0]
    if error:
        raise RuntimeError(f"DescribeGroups of {group}: error code {error}")
    return Membership(
        str(state),
        tuple(
            Member(member_id, instance_id, _decode_assignment(assignment))
            for member_id, instance_id, _, _, _, assignment in members
        ),
    )


def membership(group: str, **connection: Any) -> Membership:
    """The group now; ``connection``: aiokafka client arguments (bootstrap servers, security)."""

    async def run() -> Membership:
        admin = AIOKafkaAdminClient(**connection)
        await admin.start()
        try:
            return await describe_group(admin, group)
        finally:
            await admin.close()

    return asyncio.run(run())
