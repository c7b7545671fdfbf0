"""``--log-tag``: every log message of the process starts with the tag, whatever the logger and
its arguments; a tag that is not a plain name is refused."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from stream.logtag import tag_log_records


@pytest.fixture
def records() -> Iterator[list[str]]:
    factory = logging.getLogRecordFactory()
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    handler = Keep()
    logger = logging.getLogger("test.logtag")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield seen
    logger.removeHandler(handler)
    logging.setLogRecordFactory(factory)


def test_every_message_starts_with_the_tag(records: list[str]) -> None:
    tag_log_records("worker-3")
    log = logging.getLogger("test.logtag")
    log.info("partition %d: started (%s)", 7, "100% restored")
    log.warning("no arguments, a %s left as written")
    log.info(ValueError("an exception as the message"))
    assert records == [
        "[worker-3] partition 7: started (100% restored)",
        "[worker-3] no arguments, a %s left as written",
        "[worker-3] an exception as the message",
    ]


@pytest.mark.parametrize("tag", ["", "w%d", "two words", "x" * 65])
def test_a_tag_that_is_not_a_plain_name_is_refused(tag: str) -> None:
    with pytest.raises(ValueError, match="a log tag is 1 to 64"):
        tag_log_records(tag)
