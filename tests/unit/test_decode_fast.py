"""``schemas.decode.decode`` takes a typed fast path (msgspec) for what looks like a valid event and
falls back to the full checks otherwise. Differential property test: whatever the bytes, the
answer is the one of the full checks alone (``_decode_fully``): the same event, or the same
rejection with the same reason and detail."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.decode import Event, Rejection, _decode_fully, decode

NOW_MS = 1_800_000_000_000

VALID = {
    "chat_created": {"chat_id": "c-1", "chat_kind": "group"},
    "message_sent": {"chat_id": "c-1", "chat_kind": "personal"},
    "call": {"call_id": "k-1", "chat_kind": "channel"},
    "registered": {"registered_by": "parent"},
}
ROLES = ["teacher", "student", "parent", "staff", "school", "municipality", "admin", ""]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["group", "personal", "channel", "self", "parent", "teacher", "x" * 257, "", "1"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=6,
)


@st.composite
def events(draw: st.DrawFn) -> bytes:
    """Half of them a valid event (the fast path's own input), half with a field or more gone
    wrong; then unknown fields, and a mutation of the bytes that the fast path must not miss."""
    valid = draw(st.booleans())
    etype = draw(st.sampled_from(list(VALID) if valid else [*VALID, "unknown", 7]))
    obj: dict[str, object] = {
        "schema_version": 1 if valid else draw(st.sampled_from([1, 2, "1", 1.0, True])),
        "type": etype,
        "event_id": draw(st.sampled_from(["e-1", "x" * 256, "ё-1"] + ([] if valid else ["", "x" * 257]))),
        "ts": draw(
            st.sampled_from([NOW_MS - 1, NOW_MS + 300_000, NOW_MS + 300_001, 2**53 - 1])
            if valid
            else st.sampled_from([-1, 2**53, 1.5, "1", NOW_MS])
        ),
        "user_id": draw(st.sampled_from(["t-1", "ученик-1"] + ([] if valid else [""]))),
        "role": draw(st.sampled_from(["teacher", "staff"] if valid else ROLES)),
        **(VALID.get(etype, {}) if isinstance(etype, str) else {}),
    }
    if not valid:
        for name in draw(st.lists(st.sampled_from(sorted(obj) + ["chat_kind", "registered_by"]), max_size=2)):
            if draw(st.booleans()):
                obj.pop(name, None)
            else:
                obj[name] = draw(json_values)
    for _ in range(draw(st.integers(0, 2))):
        obj[draw(st.text(max_size=5))] = draw(json_values)  # unknown fields
    raw = json.dumps(obj, ensure_ascii=draw(st.booleans())).encode()
    mutation = draw(st.sampled_from(["none", "none", "dup", "big", "exp", "utf8", "deep", "trunc"]))
    if mutation == "dup":  # a field given twice: the last one counts
        raw = raw[:-1] + b', "role": "teacher"}'
    elif mutation == "big":
        raw = raw[:-1] + b', "n": ' + b"9" * draw(st.integers(15, 400)) + b"}"
    elif mutation == "exp":
        raw = raw[:-1] + b', "n": 1e' + str(draw(st.integers(0, 999))).encode() + b"}"
    elif mutation == "utf8":
        raw = raw[:-1] + b', "n": "\xff"}'
    elif mutation == "deep":
        depth = draw(st.integers(1, 1100))
        raw = raw[:-1] + b', "n": ' + b"[" * depth + b"]" * depth + b"}"
    elif mutation == "trunc":
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=events(), key=st.sampled_from([None, b"t-1", b"x", "ученик-1".encode()]), check_key=st.booleans())
def test_the_fast_path_answers_as_the_full_checks(raw: bytes, key: bytes | None, check_key: bool) -> None:
    fast = decode(raw, now_ms=NOW_MS, key=key, check_key=check_key)
    full = _decode_fully(raw, now_ms=NOW_MS, future_tolerance_ms=300_000, key=key, check_key=check_key)
    assert fast == full


def test_a_valid_event_takes_the_fast_path_and_an_invalid_one_the_full_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    import schemas.decode as module

    calls: list[bytes] = []

    def full(raw: bytes, **kwargs: object) -> object:
        calls.append(raw)
        return _decode_fully(raw, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "_decode_fully", full)
    valid = json.dumps({"schema_version": 1, "type": "call", "event_id": "e", "ts": 1, "user_id": "u", "role": "staff",
                        "call_id": "k", "chat_kind": "group"}).encode()  # fmt: skip
    assert decode(valid, now_ms=NOW_MS) == Event("call", "e", 1, "u", "staff", "group", None)
    assert calls == []
    invalid = valid.replace(b'"staff"', b'"admin"')
    assert decode(invalid, now_ms=NOW_MS) == Rejection("unknown_role", "role 'admin' is not allowed for call")
    assert calls == [invalid]
