"""``dead-letters`` commands: bad arguments and an unreachable broker get one line on stderr and a
non-zero exit, never a traceback (the same contract as the rest of the CLI)."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

REASONS_LIST = (
    "bad_json, too_large, not_object, missing_field, bad_value, unsupported_version, unknown_type, "
    "unknown_role, unknown_chat_kind, key_mismatch, future, late"
)


def _one_line_error(result, code: int) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sferum-kpi: error: ")
    assert "Traceback" not in result.stderr and not result.stdout
    return lines[0]


@pytest.mark.parametrize(
    ("args", "env", "code", "needle"),
    [
        (["redrive"], {}, 2, f"--reason is required: one of {REASONS_LIST}"),
        (["redrive", "--reason", "lat"], {}, 2, "unknown --reason 'lat'"),
        (["summary", "--reason", "Late"], {}, 2, "unknown --reason 'Late'"),
        (["redrive", "--reason", "late", "--since", "yesterday"], {}, 2, "--since: 'yesterday' is not a time"),
        (["summary", "--until", "2026-02-30"], {}, 2, "--until: '2026-02-30' is not a time"),
        (["summary", "--since", "2026-12-02", "--until", "2026-12-01"], {}, 2, "is not before --until"),
        (["redrive", "--reason", "late", "--chunk", "0"], {}, 2, "--chunk must be 1 to 10000, not 0"),
        (["summary", "--broker", "not a broker"], {}, 2, "SFERUM_BROKER"),
        (["redrive", "--reason", "late"], {"SFERUM_DEAD_LETTER_TOPIC": "no/slash"}, 2, "bad topic name"),
        (["summary"], {"SFERUM_TIMEZONE": "Mars/Olympus"}, 2, "SFERUM_TIMEZONE"),
        (["summary", "--broker", "127.0.0.1:1"], {}, 1, "cannot reach the Kafka broker at 127.0.0.1:1"),
        (["redrive", "--reason", "late", "--broker", "127.0.0.1:1"], {}, 1, "cannot reach the Kafka broker"),
        (["redrive", "--reason", "late", "--dry-run", "--broker", "127.0.0.1:1"], {}, 1, "cannot reach"),
    ],
)
def test_bad_input_gets_one_line_and_an_exit_code(args, env, code, needle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("dead-letters", *args, env={"SFERUM_DATA_DIR": str(tmp_path)} | env, timeout=120)
    assert needle in _one_line_error(result, code)
