"""Faust's own ceiling: an agent that only counts its messages, as the worker's agent took them.

The agent reads the topic through Faust's per-message delivery (conductor, channel queue, the
agent's stream, ``take_events`` in batches of 20,000 or 1 s, as ``SFERUM_DELIVERY=stream`` does)
and does nothing else: no decoding, no state, no store. No worker built on that delivery can be
faster. Memory table store, no web server, a fresh group reading from the beginning.

    python -m bench.peers.faust_noop --broker 127.0.0.1:9092 --topic T --group G --events N \\
        --data-dir /tmp/f

It stops once it has seen ``--events`` messages and prints one JSON line: the count and the
wall-clock instants of its first and last message.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from typing import Any

import faust

BATCH_MAX_EVENTS = 20_000
BATCH_WINDOW_S = 1.0


def build(args: argparse.Namespace) -> faust.App:
    app = faust.App(
        args.group,
        broker=f"kafka://{args.broker}",
        store="memory://",
        datadir=args.data_dir,
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
    )
    schema = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    topic = app.topic(args.topic, schema=schema, acks=False)
    seen: dict[str, Any] = {"events": 0, "first_event_at": None, "last_event_at": None}

    @app.agent(topic, name="count-only")
    async def count(stream: Any) -> None:
        async for events in stream.take_events(BATCH_MAX_EVENTS, within=BATCH_WINDOW_S):
            now = time.time()
            seen["first_event_at"] = seen["first_event_at"] or now
            seen["events"] += len(events)
            seen["last_event_at"] = now
            if seen["events"] >= args.events:
                # on a line of its own: the console may have written escape codes before it
                sys.stdout.write("\n" + json.dumps(seen) + "\n")
                sys.stdout.flush()
                os.kill(os.getpid(), signal.SIGTERM)
                return

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.faust_noop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", required=True, help="host:port")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True, help="consumer group (fresh: reads from the start)")
    parser.add_argument("--events", type=int, required=True, help="stop after this many messages")
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args(argv)
    worker = faust.Worker(build(args), loglevel=logging.WARNING, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
