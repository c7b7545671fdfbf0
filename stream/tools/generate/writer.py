"""The files ``generate`` writes: the registry CSVs (formats of ``schemas.registry``) and the
events as NDJSON (contract schema_version 1), each day's events sorted by time and numbered in
file order. Files are written under a temporary name and renamed when complete, so a crashed run
never leaves a file that looks whole."""

from __future__ import annotations

import csv
import os
from operator import itemgetter
from pathlib import Path
from typing import IO

import orjson

from schemas.registry import FILES

#: (ts, type, user_id, role, chat_id | call_id | registered_by, chat_kind | None)
Event = tuple[int, str, str, str, str, str | None]

_TS = itemgetter(0)


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


class RegistryWriter:
    """``regions.csv`` … ``students.csv`` and ``staff.csv`` in a directory, row by row. Use as a
    context manager; the files get their names only when the block ends without an error."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.paths = [directory / spec.name for spec in FILES]
        self._files: list[IO[str]] = [_partial(p).open("w", encoding="utf-8", newline="") for p in self.paths]
        self._csv = [csv.writer(f, lineterminator="\n") for f in self._files]
        for writer, spec in zip(self._csv, FILES, strict=True):
            writer.writerow(spec.columns)
        self.rows = dict.fromkeys((spec.name.removesuffix(".csv") for spec in FILES), 0)
        self.regions, self.municipalities, self.schools, self.teachers, self.students, self.staff = self._csv

    def count(self, name: str, n: int = 1) -> None:
        self.rows[name] += n

    def __enter__(self) -> RegistryWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        for f in self._files:
            f.close()
        if exc_type is None:
            for path in self.paths:
                os.replace(_partial(path), path)


class EventWriter:
    """``events.ndjson``: ``write_day`` sorts a day's events by time (stably, so the order stays
    deterministic) and gives them ids ``ev-<seed>-<n>`` in file order."""

    def __init__(self, path: Path, seed: int) -> None:
        self.path = path
        self._file = _partial(path).open("wb", buffering=1 << 20)
        self._prefix = f"ev-{seed}-"
        self.lines = 0
        self.bytes = 0

    def write_day(self, events: list[Event]) -> int:
        events.sort(key=_TS)
        dumps, write, prefix, n = orjson.dumps, self._file.write, self._prefix, self.lines
        size = 0
        for ts, etype, user, role, ref, kind in events:
            n += 1
            obj: dict[str, object] = {
                "schema_version": 1,
                "type": etype,
                "event_id": f"{prefix}{n}",
                "ts": ts,
                "user_id": user,
                "role": role,
            }
            if etype == "registered":
                obj["registered_by"] = ref
            elif etype == "call":
                obj["call_id"] = ref
                obj["chat_kind"] = kind
            else:
                obj["chat_id"] = ref
                obj["chat_kind"] = kind
            # written at once: orjson's result keeps a buffer of a few KB, too much to hold a day of
            size += write(dumps(obj, option=orjson.OPT_APPEND_NEWLINE))
        self.bytes += size
        written = n - self.lines
        self.lines = n
        return written

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._file.close()
        if exc_type is None:
            os.replace(_partial(self.path), self.path)
