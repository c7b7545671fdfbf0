"""The schema on a ClickHouse cluster: the single-node DDL of ``sinks/sql`` made cluster DDL.

Every statement runs ``ON CLUSTER <name>``. Each table is placed one of two ways (docs/cluster.md
says why for each):

* **sharded** (``SHARDED``): a local table ``<name>_local`` with the ``Replicated…`` form of its
  engine, one replica set per shard, and under the table's own name a ``Distributed`` table over
  it, sharded by a hash of a column of its ``ORDER BY``. All versions of one sorting key then land
  on one shard, which is what ``FINAL`` (merged per shard) needs to be right. Products, views and
  Grafana boards read and write the ``Distributed`` name, as on one node.
* **on every shard** (every other table): the same name, one replica set spanning all the hosts
  of the cluster (a Keeper path without ``{shard}``). Every host holds all of it, so a distributed
  query joins it locally, and a ``DROP PARTITION`` on it (the registry's snapshots, the refresh's
  work partitions) replicates to all hosts as issued, without ``ON CLUSTER``. A new table of
  ``sinks/sql`` is placed here unless it is added to ``SHARDED``.

Every replicated table gets ``replicated_deduplication_window = 0``: on one node a ``MergeTree``
keeps an insert of the same block twice, and the code relies on it (a snapshot's state dropped and
computed again inserts the same rows); its own writes are idempotent by their versions and ids.

The transformation knows the statement forms of ``sinks/sql`` (``CREATE DATABASE``, ``CREATE
TABLE`` with a ``…MergeTree`` engine, ``CREATE [OR REPLACE] VIEW`` / ``FUNCTION`` / ``DICTIONARY``,
``ALTER TABLE``, ``DROP``, ``TRUNCATE``) and refuses any other with ``ClusterDDLError`` rather
than guess.
"""

from __future__ import annotations

import re
from typing import Final

#: Sharded tables and their sharding expression (a column of the table's ORDER BY, hashed).
SHARDED: Final[dict[str, str]] = {
    # every week of a teacher on one shard: (week_start, teacher_id) versions co-located
    "teacher_week": "cityHash64(teacher_id)",
    "staff_week": "cityHash64(user_id)",
    # every registration of a user on one shard: (role, user_id, event_id) co-located
    "registrations": "cityHash64(user_id)",
    # every week of a unit on one shard: (week_start, unit_kind, region_id, unit_id) co-located
    "kpi_unit_week_data": "cityHash64(unit_id)",
    "kpi_teacher_status": "cityHash64(teacher_id)",
}
LOCAL_SUFFIX: Final = "_local"
#: Keeper path and replica name of a sharded table's local table: one replica set per shard.
SHARD_PATH: Final = "/clickhouse/tables/{shard}/{database}/{table}"
SHARD_REPLICA: Final = "{replica}"
#: Of a table on every shard: one replica set over all hosts, so a replica's name holds its shard.
EVERY_SHARD_PATH: Final = "/clickhouse/tables/all/{database}/{table}"
EVERY_SHARD_REPLICA: Final = "{shard}_{replica}"
NO_DEDUPLICATION: Final = "replicated_deduplication_window = 0"
#: Session settings of a client of a cluster: an insert into a Distributed table is on its shards
#: when it returns (the refresh reads the rows it has just written), and the right side of IN and
#: JOIN in a distributed query is read where the query came in (the node that wrote it) and sent
#: to the shards, rather than read on each shard from a replica that may lag behind.
SESSION_SETTINGS: Final[dict[str, int]] = {"distributed_foreground_insert": 1, "prefer_global_in_and_join": 1}

_CLUSTER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_COMMENTS = re.compile(r"\A(?:[ \t]*--[^\n]*\n|[ \t]*\n)*")
_NAME = r"(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)"
_CREATE_DATABASE = re.compile(r"^CREATE\s+DATABASE\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _NAME, re.I)
_CREATE_TABLE = re.compile(r"^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _NAME, re.I)
_CREATE_OTHER = re.compile(
    r"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:VIEW|MATERIALIZED\s+VIEW|FUNCTION|DICTIONARY)\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    + _NAME,
    re.I,
)
_ALTER = re.compile(r"^ALTER\s+TABLE\s+" + _NAME + r"\s+(?P<action>.*)\Z", re.I | re.S)
_DROP = re.compile(
    r"^(?:DROP\s+(?:TABLE|VIEW|DICTIONARY|FUNCTION)|TRUNCATE\s+TABLE)\s+(?:IF\s+EXISTS\s+)?" + _NAME, re.I
)
_ENGINE = re.compile(r"\bENGINE\s*=\s*(?P<engine>[A-Za-z]+)(?:\s*\((?P<args>[^()]*)\))?")
_SETTINGS = re.compile(r"\bSETTINGS\b", re.I)
#: ALTER actions on columns, which the Distributed table must follow (it has the same columns).
_COLUMN_ACTION = re.compile(r"^(?:ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR)\s+COLUMN\b", re.I)


class ClusterDDLError(ValueError):
    """A cluster name that cannot go into the DDL, or a statement the transformation does not know."""


def check_cluster(cluster: str) -> str:
    """The cluster name, if it is a plain identifier (it is written into the DDL unquoted)."""
    if not _CLUSTER.match(cluster):
        raise ClusterDDLError(f"bad cluster name {cluster!r}: letters, digits and _, not starting with a digit")
    return cluster


def local_table(table: str) -> str:
    """The table holding a table's rows on each host: ``<name>_local`` if sharded, else itself."""
    return table + LOCAL_SUFFIX if table in SHARDED else table


def partition_drop(database: str, table: str, partition: int, cluster: str) -> str:
    """The statement dropping a partition of ``table`` at run time. Without a cluster, the
    single-node statement; with one, on the local table of a sharded table on every host, and on a
    table on every shard as on one node (the drop of a replicated table reaches every replica)."""
    if not cluster or table not in SHARDED:
        return f"ALTER TABLE {database}.{table} DROP PARTITION {int(partition):d}"
    on = f"ON CLUSTER {check_cluster(cluster)}"
    return f"ALTER TABLE {database}.{local_table(table)} {on} DROP PARTITION {int(partition):d}"


def cluster_statements(statements: list[str], database: str, cluster: str) -> list[str]:
    """The cluster DDL of single-node statements (as ``schema_statements`` gives them for
    ``database``): in order, one or two statements for each."""
    check_cluster(cluster)
    out: list[str] = []
    for statement in statements:
        out += cluster_statement(statement, database, cluster)
    return out


def cluster_statement(statement: str, database: str, cluster: str) -> list[str]:
    """The cluster DDL of one single-node statement; its leading comment lines are kept."""
    comments = _COMMENTS.match(statement)
    head = comments.group(0) if comments else ""
    body = statement[len(head) :]
    on = f" ON CLUSTER {cluster}"
    if m := _CREATE_DATABASE.match(body):
        return [head + _named(body, m, on)]
    if m := _CREATE_TABLE.match(body):
        return _create_table(head, body, m, database, on)
    if m := _CREATE_OTHER.match(body):
        if _ENGINE.search(body):
            raise ClusterDDLError(f"{m.group('name')}: a view with an engine of its own has no cluster form here")
        return [head + _named(body, m, on)]
    if m := _ALTER.match(body):
        table = _table_of(m.group("name"), database)
        local = head + _named(body, m, on, f"{database}.{local_table(table)}")
        if table in SHARDED and _COLUMN_ACTION.match(m.group("action")):
            return [local, _named(body, m, on)]  # the Distributed table's columns follow
        return [local]
    if m := _DROP.match(body):
        table = _table_of(m.group("name"), database) if "." in m.group("name") else m.group("name")
        if table not in SHARDED:
            return [head + _named(body, m, on)]
        local = _named(body, m, on, f"{database}.{local_table(table)}")
        if body.upper().startswith("TRUNCATE"):
            return [head + local]  # a Distributed table holds no rows
        return [head + _named(body, m, on), local]
    first = body.split(None, 2)[:2]
    raise ClusterDDLError(f"no cluster form for a statement starting {' '.join(first)!r}")


def _create_table(head: str, body: str, m: re.Match[str], database: str, on: str) -> list[str]:
    table = _table_of(m.group("name"), database)
    engines = list(_ENGINE.finditer(body))
    if len(engines) != 1:
        raise ClusterDDLError(f"{table}: expected one ENGINE = …, found {len(engines)}")
    engine = engines[0]
    name, args = engine.group("engine"), (engine.group("args") or "").strip()
    if not name.endswith("MergeTree") or name.startswith("Replicated"):
        raise ClusterDDLError(f"{table}: engine {name} has no replicated form here (a …MergeTree is expected)")
    # SETTINGS is a table's last clause here: its own settings (if any) are extended
    settings = f", {NO_DEDUPLICATION}" if _SETTINGS.search(body, engine.end()) else f"\nSETTINGS {NO_DEDUPLICATION}"
    sharded = table in SHARDED
    path, replica = (SHARD_PATH, SHARD_REPLICA) if sharded else (EVERY_SHARD_PATH, EVERY_SHARD_REPLICA)
    replicated = f"ENGINE = Replicated{name}('{path}', '{replica}'{', ' + args if args else ''})"
    text = body[: engine.start()] + replicated + body[engine.end() :].rstrip() + settings
    if not sharded:
        return [head + _named(text, m, on)]
    local = f"{database}.{local_table(table)}"
    cluster = on.removeprefix(" ON CLUSTER ")
    distributed = (
        f"CREATE TABLE IF NOT EXISTS {database}.{table}{on} AS {local}\n"
        f"ENGINE = Distributed({cluster}, {database}, {local_table(table)}, {SHARDED[table]})"
    )
    return [head + _named(text, m, on, local), distributed]


def _table_of(qualified: str, database: str) -> str:
    db, _, table = qualified.rpartition(".")
    if db != database:
        raise ClusterDDLError(f"{qualified}: expected a table of database {database}")
    return table


def _named(body: str, m: re.Match[str], on: str, name: str | None = None) -> str:
    """``body`` with ``on`` after its matched name, and that name replaced by ``name`` if given
    (``m`` matched the start of ``body``; only text after the name may differ from what it matched)."""
    return body[: m.start("name")] + (name or m.group("name")) + on + body[m.end("name") :]
