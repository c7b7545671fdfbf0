"""Reading results back: tables from the embedded store, dead letters from Kafka or a file."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from sinks.clickhouse import ClickHouseSink

TeacherWeek = dict[tuple[date, str], tuple[int, int, int, int, int]]


def scrape_metrics(port: int) -> dict[str, list[Sample]]:
    """A worker's ``/metrics`` page over HTTP, parsed: samples by metric family name."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    families: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        families.setdefault(family.name, []).extend(family.samples)
    return families


def read_tables(dsn: str) -> tuple[TeacherWeek, set[tuple[str, str, str, int, str]]]:
    """``teacher_week FINAL`` and ``registrations FINAL``, as the oracle shapes them."""
    sink = ClickHouseSink(dsn=dsn, database="sferum")
    try:
        weeks = sink.query_rows(
            "SELECT week_start, teacher_id, group_chats_created, group_messages, chat_messages, calls, version "
            "FROM sferum.teacher_week FINAL"
        )
        regs = sink.query_rows(
            "SELECT role, user_id, registered_by, toUnixTimestamp64Milli(ts), event_id FROM sferum.registrations FINAL"
        )
    finally:
        sink.close()
    teacher_week = {(r[0], r[1]): tuple(int(v) for v in r[2:]) for r in weeks}
    return teacher_week, {(r[0], r[1], r[2], int(r[3]), r[4]) for r in regs}  # type: ignore[misc]


def read_staff_week(dsn: str) -> TeacherWeek:
    """``staff_week FINAL``, as the oracle shapes it."""
    sink = ClickHouseSink(dsn=dsn, database="sferum")
    try:
        rows = sink.query_rows(
            "SELECT week_start, user_id, group_chats_created, group_messages, chat_messages, calls, version "
            "FROM sferum.staff_week FINAL"
        )
    finally:
        sink.close()
    return {(r[0], r[1]): tuple(int(v) for v in r[2:]) for r in rows}  # type: ignore[misc]


def count_rows(dsn: str, table: str) -> int:
    sink = ClickHouseSink(dsn=dsn, database="sferum")
    try:
        return int(sink.query_rows(f"SELECT count() FROM sferum.{table}")[0][0])
    finally:
        sink.close()


def read_topic(broker: str, topic: str) -> dict[tuple[int, int], tuple[bytes | None, bytes]]:
    """Every record of a topic now, by (partition, offset): (key, value)."""

    async def consume() -> dict[tuple[int, int], tuple[bytes | None, bytes]]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=broker, group_id=None, enable_auto_commit=False, isolation_level="read_committed"
        )
        admin = AIOKafkaAdminClient(bootstrap_servers=broker)
        await admin.start()
        try:
            (described,) = await admin.describe_topics([topic])
        finally:
            await admin.close()
        tps = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        await consumer.start()
        try:
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            got: dict[tuple[int, int], tuple[bytes | None, bytes]] = {}
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                    for r in records:
                        got[(tp.partition, r.offset)] = (r.key, r.value)
            return got
        finally:
            await consumer.stop()

    return asyncio.run(consume())


def read_dead_letter_topic(
    broker: str, topic: str, expected: int, timeout_s: float = 60, *, with_keys: bool = False
) -> list[tuple[bytes, dict]]:
    """(original bytes, headers) of every message of the dead-letter topic (the headers with the
    record's key under ``"key"`` too, when ``with_keys``)."""

    async def consume() -> list[tuple[bytes, dict]]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=broker,
            auto_offset_reset="earliest",
            group_id=None,
            isolation_level="read_committed",
        )
        await consumer.start()
        got: list[tuple[bytes, dict]] = []
        try:
            deadline = asyncio.get_running_loop().time() + timeout_s
            while len(got) < expected and asyncio.get_running_loop().time() < deadline:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    got.extend((r.value, _headers(r, with_keys)) for r in records)
            batch = await consumer.getmany(timeout_ms=1000)  # nothing more should come
            for records in batch.values():
                got.extend((r.value, _headers(r, with_keys)) for r in records)
        finally:
            await consumer.stop()
        return got

    return asyncio.run(consume())


def _headers(record: Any, with_key: bool) -> dict[str, Any]:
    headers: dict[str, Any] = {k: v.decode() for k, v in record.headers}
    if with_key:
        headers["key"] = record.key
    return headers


def read_dead_letter_file(path: Path) -> list[tuple[bytes, str]]:
    out = []
    for line in path.read_bytes().splitlines():
        obj = json.loads(line)
        out.append((base64.b64decode(obj["original_b64"]), obj["reason"]))
    return out


def reasons(items: list[tuple[bytes, str]]) -> Counter[str]:
    return Counter(reason for _, reason in items)
