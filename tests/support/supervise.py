"""Runs ``stream.worker.supervisor.Supervisor`` in a process of its own, as ``worker --processes N``
does, but on a command the test chooses (the seam the CLI does not offer):

    python -m tests.support.supervise ARGS_JSON

ARGS_JSON, one JSON object: ``settings`` (Settings overrides), ``hostname``, ``drain``, ``policy``
(RestartPolicy fields), ``child_env`` (extra SFERUM_* per child index, e.g. a store each), and either
``stub`` (OUTDIR and the behaviour per child index: ``tests.support.stub_worker``) or
``real`` (the real ``worker`` command, ``log_level``). Exits with the supervisor's code."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Callable

from stream.settings import load_settings
from stream.worker.supervisor import Child, RestartPolicy, Supervisor, plan_children, worker_command


def main(spec: dict) -> int:  # type: ignore[type-arg]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="supervisor %(levelname)s: %(message)s")
    settings = load_settings(**spec["settings"])
    children = plan_children(settings, spec.get("hostname", "host-a"))
    extra = spec.get("child_env", {})
    children = [dataclasses.replace(c, env=c.env | extra.get(str(c.index), {})) for c in children]
    command: Callable[[Child], list[str]]
    if "stub" in spec:
        outdir, behaviours = spec["stub"]["outdir"], spec["stub"]["behaviours"]

        def command(child: Child) -> list[str]:
            return [sys.executable, "-m", "tests.support.stub_worker", outdir, behaviours[child.index]]

    else:
        command = worker_command(drain=spec.get("drain", False), log_level=logging.getLevelName(spec["log_level"]))
    policy = RestartPolicy(**spec.get("policy", {}))
    return Supervisor(children, command, drain=spec.get("drain", False), policy=policy).run()


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
