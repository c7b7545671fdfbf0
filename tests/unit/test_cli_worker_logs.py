"""The worker's log: aiokafka's transient 'no coordinator yet' is kept at INFO, other errors stay."""

from __future__ import annotations

import logging

import pytest

from stream.worker.run import _CoordinatorStarting


@pytest.mark.parametrize(("root_level", "shown"), [(logging.WARNING, False), (logging.INFO, True)])
def test_no_coordinator_yet_is_info(root_level: int, shown: bool, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("aiokafka.consumer.group_coordinator.test")
    logger.addFilter(_CoordinatorStarting())
    root = logging.getLogger()
    before = root.level
    root.setLevel(root_level)
    try:
        # caplog's handler on the root passes any level, as Faust's handlers do
        logger.error("Group Coordinator Request failed: %s", "[Error 15] GroupCoordinatorNotAvailableError")
        logger.error("Group Coordinator Request failed: %s", "[Error 29] TopicAuthorizationFailedError")
    finally:
        root.setLevel(before)
    seen = [(r.levelname, r.getMessage()) for r in caplog.records]
    other = ("ERROR", "Group Coordinator Request failed: [Error 29] TopicAuthorizationFailedError")
    starting = ("INFO", "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError")
    assert seen == ([starting, other] if shown else [other])
