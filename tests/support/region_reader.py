"""Read a store as a regional account, in a process of its own (the embedded engine takes its
users file once per process): ``python -m tests.support.region_reader STORE USERS_XML``.

Prints JSON: rows per table and view (``SELECT count()``), the regions each view with a
``region_id`` column shows, and the error code of an insert and of a ``CREATE TABLE``."""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

import chdb


def main(store: str, users_xml: str) -> None:
    config = Path(tempfile.mkdtemp()) / "config.xml"
    config.write_text(f"<clickhouse><users_config>{users_xml}</users_config></clickhouse>", encoding="utf-8")
    connection = chdb.connect(f"file:{store}?config-file={config}")
    cursor = connection.cursor()

    def ask(query: str) -> object:
        try:
            cursor.execute(query)
            return [tuple(row) for row in cursor.fetchall()]
        except Exception as exc:  # the error code is the answer
            found = re.search(r"\(([A-Z_]+)\)", str(exc))
            return {"error": found.group(1) if found else str(exc)[:200]}

    objects = ask("SELECT name, engine FROM system.tables WHERE database = 'sferum' ORDER BY name")
    assert isinstance(objects, list), objects
    result: dict[str, object] = {"grants": ask("SHOW GRANTS"), "counts": {}, "regions": {}}
    for name, engine in objects:
        answer = ask(f"SELECT count() FROM sferum.`{name}`")
        if isinstance(answer, dict) and engine == "View":
            continue  # a parameterised view
        result["counts"][name] = answer[0][0] if isinstance(answer, list) else answer  # type: ignore[index]
        columns = ask(f"SELECT name FROM system.columns WHERE database = 'sferum' AND table = '{name}'")
        if isinstance(columns, list) and ("region_id",) in columns:
            regions = ask(f"SELECT DISTINCT region_id FROM sferum.`{name}` ORDER BY 1")
            result["regions"][name] = [r[0] for r in regions] if isinstance(regions, list) else regions  # type: ignore[index]
    result["insert"] = ask(
        "INSERT INTO sferum.registry_regions (snapshot, line, region_id, name) VALUES (9, 9, 'x', 'y')"
    )
    result["create"] = ask("CREATE TABLE sferum.intruder (a UInt8) ENGINE = Memory")
    connection.close()
    sys.stdout.write(json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
