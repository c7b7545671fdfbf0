"""With ``SFERUM_ID_KEY`` set, no raw person id reaches the store, the state, the logs or /metrics,
and the counts are exact all the same.

The 100,000-event set of the exactness check (duplicates, reordering, late and malformed lines)
goes through ``load-registry`` and ``worker --drain`` with a key. Then:

* ``teacher_week``, ``staff_week`` and ``registrations`` equal the independent oracle with every
  person id replaced by ``hex(HMAC-SHA256(key, id))[:32]``, computed in the test with hmac alone;
* ``kpi_unit_week`` equals the KPI oracle computed from the raw ids and the raw registry: the
  registry's pseudonymised ids join the events' pseudonymised ids exactly as raw ids did;
* every table and view of the store, every record of the RocksDB state and of its changelog
  topic, the worker's log (at info level) and every /metrics page scraped during the run are
  scanned for each raw person id of the input and of the registry: none is found. The same scan
  finds them in the input file and, by design, in the dead-letter topic (original bytes).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from rocksdict import Options, Rdict

from sinks.clickhouse import ClickHouseSink, QueryError
from tests.conftest import CLI, ROOT, run_cli
from tests.support.eventgen import GenConfig, generate
from tests.support.gen_registry import registry_for
from tests.support.kpi_dataset import write_registry
from tests.support.kpi_oracle import kpi_unit_week, same_value
from tests.support.oracle import expected
from tests.support.ports import free_port
from tests.support.pseudonyms import PERSON_ROLES, pseudonym, pseudonymised, raw_ids_in
from tests.support.readers import read_staff_week, read_tables, read_topic

pytestmark = pytest.mark.integration

KEY = "c0ffee00" * 8  # 64 characters, as `openssl rand -hex 32` makes one


def person_ids(lines: list[bytes], registry: dict[str, list[list[str]]]) -> set[str]:
    """Every id of a person in the input and the registry (not of a school or municipality)."""
    ids = set()
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("role") in PERSON_ROLES and isinstance(obj.get("user_id"), str):
            ids.add(obj["user_id"])
    for name in ("teachers", "students"):
        ids |= {row[0] for row in registry[name][1:]}
    organisations = {row[0] for name in ("regions", "municipalities", "schools") for row in registry[name][1:]}
    return ids - organisations


@pytest.fixture(scope="module")
def run(broker: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    config = GenConfig(events=100_000, weeks=6)
    lines = generate(config)
    base = tmp_path_factory.mktemp("pseudonymised")
    (base / "events.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    registry = registry_for(config)
    write_registry(registry, base / "registry")
    name = f"pseud{int(time.time() * 1000) % 10**9}"
    port = free_port()
    env = {
        "SFERUM_BROKER": broker,
        "SFERUM_APP_ID": name,
        "SFERUM_INPUT_TOPICS": f"{name}.events",
        "SFERUM_DEAD_LETTER_TOPIC": f"{name}.dead-letter",
        "SFERUM_DATA_DIR": str(base / "data"),
        "SFERUM_STORE": f"chdb://{base / 'store'}",
        "SFERUM_WEB_PORT": str(port),
        "SFERUM_KPI_REFRESH_INTERVAL_S": "2",
        "SFERUM_ID_KEY": KEY,
    }
    loaded = run_cli("load-registry", str(base / "registry"), env=env)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    produced = run_cli("produce", "--topic", f"{name}.events", str(base / "events.ndjson"), env=env)
    assert produced.returncode == 0, produced.stderr[-3000:]

    clean = {k: v for k, v in os.environ.items() if not k.startswith("SFERUM_")}
    log = base / "worker.log"
    pages: list[bytes] = []
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [*CLI, "--log-level", "info", "worker", "--drain"], env=clean | env, cwd=ROOT, stdout=out, stderr=out
        )
        deadline = time.monotonic() + 900
        while worker.poll() is None and time.monotonic() < deadline:
            for page in ("/metrics", "/"):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{page}", timeout=5) as answer:
                        pages.append(answer.read())
                except OSError:
                    pass
            time.sleep(0.5)
        if worker.poll() is None:
            worker.kill()
    assert worker.wait() == 0, log.read_text(errors="replace")[-5000:]
    return {
        "lines": lines,
        "registry": registry,
        "truth": expected(lines, now_ms=int(time.time() * 1000)),
        "env": env,
        "log": log.read_bytes() + loaded.stderr.encode() + produced.stderr.encode(),
        "pages": pages,
        "ids": person_ids(lines, registry),
        "base": base,
    }


def test_tables_equal_the_oracle_applied_to_pseudonymised_ids(run: dict[str, Any]) -> None:
    want = pseudonymised(run["truth"], KEY.encode())
    teacher_week, registrations = read_tables(run["env"]["SFERUM_STORE"])
    assert len(teacher_week) == len(want.teacher_week) > 1000
    assert teacher_week == want.teacher_week
    assert registrations == want.registrations
    assert read_staff_week(run["env"]["SFERUM_STORE"]) == want.staff_week


def test_indicators_equal_the_oracle_of_the_raw_ids(run: dict[str, Any]) -> None:
    truth = run["truth"]
    want = kpi_unit_week(run["registry"], truth.teacher_week, truth.registrations, truth.staff_week)
    sink = ClickHouseSink(dsn=run["env"]["SFERUM_STORE"], database="sferum")
    try:
        result = sink.client.query("SELECT * FROM sferum.kpi_unit_week")
        got = {(r[0], r[1], r[2]): dict(zip(result.column_names, r, strict=True)) for r in result.result_rows}
    finally:
        sink.close()
    assert set(got) == set(want)
    assert sum(row["teachers_registered"] for row in want.values()) > 0  # the joins have work to do
    for key, row in want.items():
        for column, value in row.items():
            assert same_value(got[key][column], value), (key, column, got[key][column], value)


def store_dump(dsn: str) -> dict[str, bytes]:
    """Every table of the store and every view that can be read without parameters, as TSV."""
    sink = ClickHouseSink(dsn=dsn, database="sferum")
    try:
        names = sink.query_rows("SELECT name, engine FROM system.tables WHERE database = 'sferum' ORDER BY name")
        dumps = {}
        for name, engine in names:
            try:
                dumps[str(name)] = sink.raw(f"SELECT * FROM sferum.`{name}`", "TSV")
            except QueryError:
                assert engine == "View", f"table {name} could not be read"  # a parameterised view
        return dumps
    finally:
        sink.close()


def state_dump(data_dir: Path) -> bytes:
    dumps = []
    stores = sorted(p for p in (data_dir / "state").rglob("partition-*") if p.is_dir())
    assert stores, "no RocksDB state was written"
    for path in stores:
        db = Rdict(str(path), options=Options(raw_mode=True))
        try:
            dumps += [key + b"\n" + value for key, value in db.items()]
        finally:
            db.close()
    return b"\n".join(dumps)


def test_no_raw_person_id_in_the_store(run: dict[str, Any]) -> None:
    ids = run["ids"]
    tables = store_dump(run["env"]["SFERUM_STORE"])
    assert {"teacher_week", "staff_week", "registrations", "registry_teachers", "registry_students"} <= set(tables)
    found = {name: raw_ids_in(dump, ids) for name, dump in tables.items()}
    assert {name: sorted(hit)[:5] for name, hit in found.items() if hit} == {}
    # what the store holds instead: the pseudonyms of the same people
    teachers = {row[0] for row in run["registry"]["teachers"][1:]}
    assert len(raw_ids_in(tables["registry_teachers"], {pseudonym(KEY.encode(), t) for t in teachers})) == len(teachers)


def test_no_raw_person_id_in_the_state_or_its_changelog(run: dict[str, Any], broker: str) -> None:
    ids = run["ids"]
    state = state_dump(Path(run["env"]["SFERUM_DATA_DIR"]))
    changelog = read_topic(broker, f"{run['env']['SFERUM_APP_ID']}-state-changelog")
    assert changelog
    changelog_bytes = b"\n".join((key or b"") + b"\n" + (value or b"") for key, value in changelog.values())
    files = b"".join(p.read_bytes() for p in Path(run["env"]["SFERUM_DATA_DIR"]).rglob("*") if p.is_file())
    assert raw_ids_in(state, ids) == set()
    assert raw_ids_in(changelog_bytes, ids) == set()
    assert raw_ids_in(files, ids) == set()
    # the scan does see the state: its keys are the pseudonyms of the active teachers
    active = {teacher for _, teacher in run["truth"].teacher_week}
    assert raw_ids_in(state, {pseudonym(KEY.encode(), t) for t in active})


def test_no_raw_person_id_in_the_logs_or_metrics(run: dict[str, Any]) -> None:
    ids = run["ids"]
    assert b"INFO" in run["log"]  # the worker logged at info level
    assert any(b"sferum_events_consumed_total" in page for page in run["pages"])
    assert raw_ids_in(run["log"], ids) == set()
    assert raw_ids_in(b"\n".join(run["pages"]), ids) == set()
    assert KEY.encode() not in run["log"] + b"".join(run["pages"])


def test_the_scan_finds_raw_ids_where_they_are_kept_by_design(run: dict[str, Any], broker: str) -> None:
    ids = run["ids"]
    assert len(raw_ids_in((run["base"] / "events.ndjson").read_bytes(), ids)) > 0.9 * len(ids)
    letters = read_topic(broker, run["env"]["SFERUM_DEAD_LETTER_TOPIC"])
    assert raw_ids_in(b"\n".join(value for _, value in letters.values()), ids)  # original bytes, raw ids
