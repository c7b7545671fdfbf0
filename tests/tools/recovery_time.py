"""Recovery time after a SIGKILL (issue "Reliability", item 7)::

    python -m tests.tools.recovery_time --users 60000 --broker 127.0.0.1:59092

A worker builds state of ``2 × --users`` teacher-weeks (every user sends one event in each of the
last two weeks, so both weeks are open and held), commits everything and is SIGKILLed. Then a few
probe events are produced and the worker is restarted twice in turn:

* ``same node``: the same data dir, so RocksDB still has the state and Faust reads the changelog
  only from where the local store stood;
* ``new node``: an empty data dir (a lost disk, a pod on another node): the whole changelog is
  read back into RocksDB before any event is processed. (Its embedded store is a new one too;
  only the time matters here.)

For each it prints the seconds from the process start to: the group assigning it the partitions
(Faust's "Executing _on_partitions_assigned"), the end of the changelog restore ("Done reading
from changelog topics" or "Recovery complete"), and the first counted event in ``/metrics``
(``sferum_events_counted_total`` above zero); and the restore rate (changelog records / seconds
of the restore). The changelog holds one message per user per batch (compaction may have merged
some). Faust's group session timeout is set to 8 s here (production default 60 s): a restart
first waits that long for the group to drop the killed member.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from stream.kafka.clients import connection_to
from stream.tools.ndjson import routing_of
from tests.support.oracle import expected
from tests.tools.faults import (
    Scenario,
    Worker,
    create_topic,
    end_offsets,
    kill_leftover_workers,
    wait_for,
)

MSK = ZoneInfo("Europe/Moscow")


def _event(user: str, event_id: str, ts: int) -> bytes:
    obj = {
        "schema_version": 1,
        "type": "message_sent",
        "event_id": event_id,
        "ts": ts,
        "user_id": user,
        "role": "teacher",
        "chat_id": "c",
        "chat_kind": "group",
    }
    return json.dumps(obj, separators=(",", ":")).encode()


def two_open_weeks(users: int, now: datetime) -> list[bytes]:
    """One event per user in last week and one in this week (before ``now``)."""
    local = now.astimezone(MSK)
    this_monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    last_monday = this_monday - timedelta(days=7)
    this_span = max(1, int((local - this_monday).total_seconds() * 1000) - 60_000)
    lines = []
    for u in range(users):
        user = f"t{u:07d}"
        lines.append(_event(user, f"a{u}", int(last_monday.timestamp() * 1000) + (u * 7919) % (7 * 86_400_000)))
        lines.append(_event(user, f"b{u}", int(this_monday.timestamp() * 1000) + (u * 104_729) % this_span))
    return lines


async def _produce(broker: str, topic: str, lines: list[bytes], chunk: int = 5000) -> None:
    producer = AIOKafkaProducer(**connection_to(broker), enable_idempotence=True, acks="all", linger_ms=20)
    await producer.start()
    try:
        for i in range(0, len(lines), chunk):
            futures = [await producer.send(topic, line, key=routing_of(line)[0]) for line in lines[i : i + chunk]]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


def counted(port: int) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return -1.0
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "sferum_events_counted_total":
                total += s.value
    return total


LOG_TIME = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")


def _log_seconds(log: Path, marker: str, started_wall: float, skip_bytes: int, *, last: bool = False) -> float | None:
    """Seconds from ``started_wall`` to the first (or ``last``) log line after ``skip_bytes``
    holding ``marker``."""
    text = log.read_bytes()[skip_bytes:].decode(errors="replace")
    found_at = None
    for line in text.splitlines():
        if marker in line:
            found = LOG_TIME.search(line)  # lines may start with terminal escapes
            if found is None:
                continue
            found_at = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() - started_wall
            if not last:
                return found_at
    return found_at


@dataclass
class Restart:
    mode: str
    assigned_s: float | None
    restored_s: float | None
    first_counted_s: float
    changelog_records: int
    full_restore: bool  # an empty data dir: the whole changelog is read

    def summary(self) -> str:
        def sec(value: float | None) -> str:
            return "?" if value is None else f"{value:.1f} s"

        line = (
            f"{self.mode}: partitions assigned after {sec(self.assigned_s)}, changelog restore done after "
            f"{sec(self.restored_s)}, first counted event after {sec(self.first_counted_s)}"
        )
        if self.assigned_s is not None and self.restored_s is not None:
            restore = self.restored_s - self.assigned_s
            line += f"; restore took {restore:.1f} s"
            if self.full_restore and restore > 0:
                line += f", {self.changelog_records / restore:,.0f} records/s over {self.changelog_records} records"
            elif not self.full_restore:
                line += " (RocksDB kept: only the changelog past its local offsets is read)"
        return line


def restart(scenario: Scenario, mode: str, node: str, probes: int, records: int) -> Restart:
    env = scenario.env(node)
    port = int(env["SFERUM_WEB_PORT"])
    log = scenario.base / f"worker-{node}.log"
    skip = log.stat().st_size if log.exists() else 0
    started_wall = time.time()
    worker = Worker(env, log, log_level="info")
    wait_for("a counted event", lambda: counted(port) > 0 or not worker.alive, 1800, 0.1)
    first = time.time() - started_wall
    if not worker.alive:
        raise RuntimeError(f"the restarted worker died:\n{worker.tail()}")
    wait_for("every probe counted", lambda: counted(port) >= probes, 300, 0.2)
    worker.kill()
    return Restart(
        mode,
        _log_seconds(log, "Setting newly assigned partitions", started_wall, skip),
        _log_seconds(log, "changelog records restored", started_wall, skip, last=True),
        first,
        records,
        full_restore=node != "a",
    )


def run(broker: str, base: Path, users: int, probes: int = 100) -> list[str]:
    out = []
    lines = two_open_weeks(users, datetime.now(MSK))
    scenario = Scenario(broker, base, f"recovery{time.time_ns() % 10**12}", lines, expected([], 0), {}, 4)
    create_topic(broker, scenario.topic, scenario.partitions)
    started = time.monotonic()
    asyncio.run(_produce(broker, scenario.topic, lines))
    out.append(f"produced {len(lines)} events ({users} users x 2 open weeks) in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    builder = scenario.worker("a")
    wait_for("the state to be built and committed", lambda: scenario.fully_committed() or not builder.alive, 3600, 1.0)
    out.append(f"worker built the state and committed everything in {time.monotonic() - started:.1f} s")
    builder.kill()
    changelog = f"{scenario.name}-state-changelog"
    records = sum(end_offsets(broker, changelog, scenario.partitions).values())
    out.append(f"SIGKILLed; changelog {changelog}: {records} records")
    now = int(time.time() * 1000) - 1000
    for mode, node in (("same node (RocksDB kept)", "a"), ("new node (empty data dir)", "b")):
        probe = [_event(f"p{mode[0]}{i}", f"probe-{node}-{i}", now) for i in range(probes)]
        asyncio.run(_produce(broker, scenario.topic, probe))
        out.append(restart(scenario, mode, node, probes, records).summary())
    return out


def main(argv: list[str] | None = None) -> int:
    prog = "python -m tests.tools.recovery_time"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="127.0.0.1:9092")
    parser.add_argument("--users", type=int, default=60_000, help="users; the state holds 2 weeks of each")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="sferum-recovery-"))
    try:
        for line in run(args.broker, base, args.users):
            print(line, flush=True)
    finally:
        kill_leftover_workers()
    print(f"work directory: {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
