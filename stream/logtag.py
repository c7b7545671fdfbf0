"""A tag at the start of every log message of this process (``--log-tag``). The supervisor of
``worker --processes N`` gives each child its name, so that the lines the children write to the
one stderr they share say which process wrote them."""

from __future__ import annotations

import logging
import re
from typing import Any

#: A tag is a name, not a format: no ``%`` (a message's arguments are formatted into it).
TAG = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def tag_log_records(tag: str) -> None:
    """Every log record made from now on, in any logger, starts its message with ``[tag] ``."""
    if not TAG.fullmatch(tag):
        raise ValueError(f"a log tag is 1 to 64 letters, digits, '.', '_' or '-', not {tag!r}")
    make = logging.getLogRecordFactory()

    def tagged(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        record.msg = f"[{tag}] {record.msg}"
        return record

    logging.setLogRecordFactory(tagged)
