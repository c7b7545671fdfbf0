"""Scenario libraries and scripts (``python -m tests.tools.NAME``); the tests import them."""
