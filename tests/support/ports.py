"""Ports for the processes a test starts, and whether something listens on one."""

from __future__ import annotations

import random
import socket

#: Below Linux's ephemeral range (32768-60999 by default): the kernel never hands these to a
#: client socket, so a port found free here stays free until a test binds it on purpose.
_RANGE = (20_000, 32_000)


def free_port() -> int:
    """A port below the ephemeral range that nothing listens on now.

    ``bind(0)`` would return an *ephemeral* port, which any outgoing connection (a Kafka client's,
    say) may take between this check and the worker's own bind; here only another explicit bind
    can, which the tests avoid by asking for a port each time."""
    rnd = random.Random()
    for _ in range(200):
        port = rnd.randrange(*_RANGE)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_RANGE}")


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Whether something accepts connections on host:port."""
    with socket.socket() as sock:
        sock.settimeout(timeout_s)
        return sock.connect_ex((host, port)) == 0
