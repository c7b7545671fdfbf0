"""``schemas.decode``: every rejection reason, valid events of each type, hostile input, and the
JSON Schema files kept in step with the decoder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import schemas
from schemas.decode import (
    CHAT_KINDS,
    EVENT_TYPES,
    MAX_ID_CHARS,
    ORG_ROLES,
    PERSON_ROLES,
    REASONS,
    REGISTERED_BY,
    Event,
    Rejection,
    decode,
)

NOW_MS = 1_709_629_200_000  # 2024-03-05 12:00:00.000 MSK (09:00 UTC)
TOLERANCE_MS = 300_000  # the default: 5 minutes
TS = 1_709_629_140_000  # one minute before NOW_MS

SCHEMA_DIR = Path(schemas.__file__).parent / "json"

DROP = object()  # as a field value in ``fields``/``line``: leave the field out


def fields(event_type: str = "message_sent", **changes: Any) -> dict[str, Any]:
    """A valid event of ``event_type`` as a dict; ``changes`` replace fields, ``DROP`` removes one."""
    base: dict[str, Any] = {
        "schema_version": 1,
        "type": event_type,
        "event_id": "e-1",
        "ts": TS,
        "user_id": "t-1",
        "role": "teacher",
    }
    if event_type in ("chat_created", "message_sent"):
        base.update(chat_id="c-1", chat_kind="group")
    elif event_type == "call":
        base.update(call_id="k-1", chat_kind="personal")
    elif event_type == "registered":
        base.update(registered_by="self")
    base.update(changes)
    return {k: v for k, v in base.items() if v is not DROP}


def line(event_type: str = "message_sent", **changes: Any) -> bytes:
    return json.dumps(fields(event_type, **changes), ensure_ascii=False).encode()


def padded_line(size: int) -> bytes:
    """A valid message_sent event of exactly ``size`` bytes (an unknown ``pad`` field fills it)."""
    raw = line(pad="")
    raw = line(pad="x" * (size - len(raw)))
    assert len(raw) == size
    return raw


def run(raw: bytes | str, **kwargs: Any) -> Event | Rejection:
    return decode(raw, now_ms=NOW_MS, future_tolerance_ms=TOLERANCE_MS, **kwargs)


def reason_of(raw: bytes | str, **kwargs: Any) -> str:
    result = run(raw, **kwargs)
    assert isinstance(result, Rejection), f"expected a rejection, got {result!r}"
    return result.reason


# Valid events -----------------------------------------------------------------------------------


def test_chat_created_decodes_into_its_fields() -> None:
    assert run(line("chat_created")) == Event("chat_created", "e-1", TS, "t-1", "teacher", "group", None)


def test_message_sent_decodes_into_its_fields() -> None:
    raw = line("message_sent", chat_kind="personal", role="student", user_id="s-9", event_id="m-7")
    assert run(raw) == Event("message_sent", "m-7", TS, "s-9", "student", "personal", None)


def test_call_decodes_into_its_fields() -> None:
    raw = line("call", chat_kind="channel")
    assert run(raw) == Event("call", "e-1", TS, "t-1", "teacher", "channel", None)


def test_registered_decodes_into_its_fields() -> None:
    raw = line("registered", role="student", registered_by="parent", user_id="s-1")
    assert run(raw) == Event("registered", "e-1", TS, "s-1", "student", None, "parent")


@pytest.mark.parametrize("role", ["school", "municipality", "teacher", "student", "parent", "staff"])
def test_registered_accepts_every_role_including_organisations(role: str) -> None:
    assert run(line("registered", role=role)) == Event("registered", "e-1", TS, "t-1", role, None, "self")


def test_unknown_extra_fields_are_ignored() -> None:
    raw = line("call", extra="x", nested={"a": [1, 2.5, None]}, big=10**30, flag=True)
    assert run(raw) == Event("call", "e-1", TS, "t-1", "teacher", "personal", None)


def test_fields_of_other_event_types_are_ignored() -> None:
    # registered_by on an activity and chat_kind/chat_id on a registration mean nothing there
    assert run(line("message_sent", registered_by="nobody", call_id=5)) == Event(
        "message_sent", "e-1", TS, "t-1", "teacher", "group", None
    )
    assert run(line("registered", chat_kind="bogus", chat_id=None)) == Event(
        "registered", "e-1", TS, "t-1", "teacher", None, "self"
    )


def test_ids_of_256_characters_are_accepted_counting_characters_not_bytes() -> None:
    long_id = "я" * 256  # 512 bytes of UTF-8
    result = run(line("message_sent", event_id=long_id, user_id=long_id, chat_id=long_id))
    assert isinstance(result, Event)
    assert result.event_id == long_id and result.user_id == long_id


def test_ts_zero_is_accepted() -> None:
    assert isinstance(run(line(ts=0)), Event)


def test_ts_exactly_at_the_future_tolerance_is_accepted() -> None:
    result = run(line(ts=NOW_MS + TOLERANCE_MS))
    assert isinstance(result, Event) and result.ts == 1_709_629_500_000


def test_ts_one_ms_past_the_future_tolerance_is_future() -> None:
    assert reason_of(line(ts=NOW_MS + TOLERANCE_MS + 1)) == "future"


def test_future_tolerance_is_a_parameter() -> None:
    assert decode(line(ts=NOW_MS + 1), now_ms=NOW_MS, future_tolerance_ms=0) == Rejection(
        "future", "ts is 0 s ahead of the clock"
    )
    assert isinstance(decode(line(ts=NOW_MS), now_ms=NOW_MS, future_tolerance_ms=0), Event)


def test_bytearray_memoryview_and_str_inputs_decode_alike() -> None:
    raw = line("call")
    expected = run(raw)
    assert isinstance(expected, Event)
    assert decode(bytearray(raw), now_ms=NOW_MS) == expected
    assert decode(memoryview(raw), now_ms=NOW_MS) == expected
    assert run(raw.decode()) == expected


def test_message_of_exactly_max_bytes_is_not_too_large() -> None:
    assert isinstance(run(padded_line(256), max_bytes=256), Event)
    assert isinstance(run(padded_line(65_536)), Event)


# Kafka key --------------------------------------------------------------------------------------


def test_key_equal_to_user_id_is_accepted_when_checked() -> None:
    assert isinstance(run(line(user_id="t-1"), key=b"t-1", check_key=True), Event)


def test_key_is_compared_with_the_utf8_bytes_of_user_id() -> None:
    assert isinstance(run(line(user_id="учитель-1"), key="учитель-1".encode(), check_key=True), Event)


def test_key_is_not_checked_unless_asked() -> None:
    assert isinstance(run(line(user_id="t-1"), key=b"someone-else"), Event)
    assert isinstance(run(line(user_id="t-1"), key=None), Event)


@pytest.mark.parametrize("key", [b"t-2", b"", b"t-1 ", None], ids=["other", "empty", "trailing-space", "none"])
def test_key_other_than_user_id_is_key_mismatch(key: bytes | None) -> None:
    assert reason_of(line(user_id="t-1"), key=key, check_key=True) == "key_mismatch"


# Rejections -------------------------------------------------------------------------------------

NESTED_100K = b"[" * 100_000 + b"]" * 100_000
NESTED_OBJECTS_100K = b'{"a":' * 100_000 + b"1" + b"}" * 100_000

REJECTION_CASES: list[tuple[str, bytes | str, dict[str, Any], str]] = [
    # (test id, raw, decode keyword arguments, expected reason)
    ("truncated", b'{"schema_version": 1', {}, "bad_json"),
    ("empty", b"", {}, "bad_json"),
    ("blank", b"   ", {}, "bad_json"),
    ("invalid-utf8", b'{"schema_version": 1, "type": "call\xff"}', {}, "bad_json"),
    ("lone-invalid-bytes", b"\xff\xfe\x00", {}, "bad_json"),
    ("nan-value", b'{"schema_version": NaN}', {}, "bad_json"),
    ("nan", b"NaN", {}, "bad_json"),
    ("infinity", b"Infinity", {}, "bad_json"),
    ("lone-surrogate-escape", line(user_id="x").replace(b'"x"', b'"\\ud800"'), {}, "bad_json"),
    ("two-documents", line() + b"\n" + line(), {}, "bad_json"),
    ("single-quotes", b"{'schema_version': 1}", {}, "bad_json"),
    ("nested-100k-lists", NESTED_100K, {"max_bytes": len(NESTED_100K)}, "bad_json"),
    ("nested-100k-objects", NESTED_OBJECTS_100K, {"max_bytes": len(NESTED_OBJECTS_100K)}, "bad_json"),
    ("too-large-default", padded_line(65_537), {}, "too_large"),
    ("too-large-garbage", b"\xff" * 65_537, {}, "too_large"),
    ("one-byte-over", padded_line(257), {"max_bytes": 256}, "too_large"),
    ("nested-100k-default-limit", NESTED_100K, {}, "too_large"),
    ("list", b"[]", {}, "not_object"),
    ("string", b'"x"', {}, "not_object"),
    ("number", b"1", {}, "not_object"),
    ("null", b"null", {}, "not_object"),
    ("true", b"true", {}, "not_object"),
    ("list-of-event", b"[" + line() + b"]", {}, "not_object"),
    ("empty-object", b"{}", {}, "missing_field"),
    ("schema-version-2", line(schema_version=2), {}, "unsupported_version"),
    ("schema-version-0", line(schema_version=0), {}, "unsupported_version"),
    ("schema-version-true", line(schema_version=True), {}, "bad_value"),
    ("schema-version-float", line(schema_version=1.0), {}, "bad_value"),
    ("schema-version-string", line(schema_version="1"), {}, "bad_value"),
    ("type-number", line(type=3), {}, "bad_value"),
    ("type-unknown", line(type="chat_deleted"), {}, "unknown_type"),
    ("type-wrong-case", line(type="Call"), {}, "unknown_type"),
    ("type-empty", line(type=""), {}, "unknown_type"),
    ("event-id-empty", line(event_id=""), {}, "bad_value"),
    ("event-id-257", line(event_id="e" * 257), {}, "bad_value"),
    ("event-id-number", line(event_id=17), {}, "bad_value"),
    ("user-id-null", line(user_id=None), {}, "bad_value"),
    ("user-id-257-cyrillic", line(user_id="я" * 257), {}, "bad_value"),
    ("ts-float", line(ts=1_709_629_140_000.5), {}, "bad_value"),
    ("ts-integral-float", line(ts=1_709_629_140_000.0), {}, "bad_value"),
    ("ts-exponent", line().replace(str(TS).encode(), b"1.70962914e12"), {}, "bad_value"),
    ("ts-true", line(ts=True), {}, "bad_value"),
    ("ts-false", line(ts=False), {}, "bad_value"),
    ("ts-string", line(ts=str(TS)), {}, "bad_value"),
    ("ts-negative", line(ts=-1), {}, "bad_value"),
    ("ts-2-pow-53", line(ts=2**53), {"now_ms": 2**60}, "bad_value"),
    ("ts-beyond-64-bits", line(ts=10**30), {}, "bad_value"),
    ("ts-future", line(ts=NOW_MS + TOLERANCE_MS + 1), {}, "future"),
    ("role-number", line(role=1), {}, "bad_value"),
    ("role-empty", line(role=""), {}, "bad_value"),
    ("role-unknown", line(role="admin"), {}, "unknown_role"),
    ("role-wrong-case", line(role="Teacher"), {}, "unknown_role"),
    ("role-school-on-message", line("message_sent", role="school"), {}, "unknown_role"),
    ("role-municipality-on-call", line("call", role="municipality"), {}, "unknown_role"),
    ("role-school-on-chat", line("chat_created", role="school"), {}, "unknown_role"),
    ("role-unknown-on-registered", line("registered", role="region"), {}, "unknown_role"),
    ("chat-id-empty", line("chat_created", chat_id=""), {}, "bad_value"),
    ("chat-id-list", line("message_sent", chat_id=[]), {}, "bad_value"),
    ("call-id-number", line("call", call_id=5), {}, "bad_value"),
    ("chat-kind-number", line("call", chat_kind=1), {}, "bad_value"),
    ("chat-kind-empty", line("message_sent", chat_kind=""), {}, "bad_value"),
    ("chat-kind-unknown-chat", line("chat_created", chat_kind="supergroup"), {}, "unknown_chat_kind"),
    ("chat-kind-unknown-message", line("message_sent", chat_kind="thread"), {}, "unknown_chat_kind"),
    ("chat-kind-unknown-call", line("call", chat_kind="video"), {}, "unknown_chat_kind"),
    ("chat-kind-wrong-case", line("message_sent", chat_kind="Group"), {}, "unknown_chat_kind"),
    ("registered-by-unknown", line("registered", registered_by="teacher"), {}, "bad_value"),
    ("registered-by-null", line("registered", registered_by=None), {}, "bad_value"),
    ("key-other", line(user_id="t-1"), {"key": b"t-2", "check_key": True}, "key_mismatch"),
    ("key-none", line(user_id="t-1"), {"key": None, "check_key": True}, "key_mismatch"),
]

MISSING_FIELD_CASES = [
    (event_type, name)
    for event_type, names in {
        "chat_created": ("chat_id", "chat_kind"),
        "message_sent": ("chat_id", "chat_kind"),
        "call": ("call_id", "chat_kind"),
        "registered": ("registered_by",),
    }.items()
    for name in ("schema_version", "type", "event_id", "ts", "user_id", "role", *names)
]


@pytest.mark.parametrize(
    ("raw", "kwargs", "reason"),
    [case[1:] for case in REJECTION_CASES],
    ids=[case[0] for case in REJECTION_CASES],
)
def test_malformed_message_is_rejected_with_its_reason(raw: bytes, kwargs: dict[str, Any], reason: str) -> None:
    args = {"now_ms": NOW_MS, "future_tolerance_ms": TOLERANCE_MS, **kwargs}
    result = decode(raw, **args)
    assert isinstance(result, Rejection)
    assert (result.reason, bool(result.detail)) == (reason, True)


@pytest.mark.parametrize(("event_type", "name"), MISSING_FIELD_CASES, ids=[f"{t}-{n}" for t, n in MISSING_FIELD_CASES])
def test_missing_required_field_is_missing_field(event_type: str, name: str) -> None:
    result = run(line(event_type, **{name: DROP}))
    assert result == Rejection("missing_field", f"{name} is missing")


def test_every_reason_except_late_has_a_rejection_case() -> None:
    covered = {case[3] for case in REJECTION_CASES}
    assert covered == set(REASONS) - {"late"}


def test_rejection_details_are_short_and_do_not_echo_long_input() -> None:
    result = run(line(type="x" * 10_000))
    assert isinstance(result, Rejection) and result.reason == "unknown_type"
    assert len(result.detail) < 100


# JSON Schema files ------------------------------------------------------------------------------


def load_schemas() -> dict[str, Draft202012Validator]:
    validators = {}
    for event_type in EVENT_TYPES:
        schema = json.loads((SCHEMA_DIR / f"{event_type}.schema.json").read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        validators[event_type] = Draft202012Validator(schema)
    return validators


VALIDATORS = load_schemas()
FAR_FUTURE_MS = 2**60  # a clock no ts can be ahead of: `future` is not a property of the message


def test_there_is_one_schema_file_per_event_type_with_an_id_and_field_descriptions() -> None:
    assert {p.name for p in SCHEMA_DIR.glob("*.schema.json")} == {f"{t}.schema.json" for t in EVENT_TYPES}
    ids = set()
    for event_type, validator in VALIDATORS.items():
        schema = validator.schema
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["properties"]["type"]["const"] == event_type
        ids.add(schema["$id"])
        for name, prop in schema["properties"].items():
            assert prop.get("description"), f"{event_type}.{name} has no description"
    assert len(ids) == len(EVENT_TYPES)


def test_schema_enums_and_limits_are_the_decoders() -> None:
    for event_type, validator in VALIDATORS.items():
        props = validator.schema["properties"]
        roles = PERSON_ROLES | ORG_ROLES if event_type == "registered" else PERSON_ROLES
        assert set(props["role"]["enum"]) == roles
        if event_type == "registered":
            assert set(props["registered_by"]["enum"]) == REGISTERED_BY
            assert "chat_kind" not in props  # the decoder ignores it on a registration
        else:
            assert set(props["chat_kind"]["enum"]) == CHAT_KINDS
        for name, prop in props.items():
            if "maxLength" in prop:
                assert (name, prop["minLength"], prop["maxLength"]) == (name, 1, MAX_ID_CHARS)


SCHEMA_VALID_EVENTS: list[dict[str, Any]] = [
    fields("chat_created"),
    fields("chat_created", chat_kind="personal", role="staff"),
    fields("chat_created", chat_kind="channel", role="parent"),
    fields("message_sent"),
    fields("message_sent", chat_kind="personal", role="student"),
    fields("message_sent", chat_kind="channel", unknown={"x": [1, None]}),
    fields("call"),
    fields("call", chat_kind="group", role="parent", chat_id=123),
    fields("registered"),
    fields("registered", role="school", user_id="school-17"),
    fields("registered", role="municipality", registered_by="self"),
    fields("registered", role="student", registered_by="parent", chat_kind="nonsense"),
    fields("message_sent", ts=0),
    fields("message_sent", ts=2**53 - 1),
    fields("call", event_id="e" * 256, user_id="я" * 256, call_id="k" * 256),
]

SCHEMA_INVALID_EVENTS: list[dict[str, Any]] = [
    {},
    fields("call", schema_version=2),
    fields("call", schema_version=True),
    fields("call", schema_version="1"),
    fields("call", type="call_started"),
    fields("call", type=None),
    fields("message_sent", event_id=""),
    fields("message_sent", event_id="e" * 257),
    fields("message_sent", user_id=42),
    fields("message_sent", user_id="я" * 257),
    fields("message_sent", ts=-1),
    fields("message_sent", ts=2**53),
    fields("message_sent", ts=1.5),
    fields("message_sent", ts=True),
    fields("message_sent", ts="1709629140000"),
    fields("message_sent", role="school"),
    fields("message_sent", role="Teacher"),
    fields("message_sent", chat_kind="supergroup"),
    fields("message_sent", chat_kind=None),
    fields("message_sent", chat_id=""),
    fields("chat_created", chat_id=DROP),
    fields("chat_created", chat_kind=DROP),
    fields("call", call_id=DROP),
    fields("call", chat_kind="video"),
    fields("call", role="municipality"),
    fields("registered", registered_by=DROP),
    fields("registered", registered_by="teacher"),
    fields("registered", role="region"),
    fields("registered", ts=DROP),
    fields("registered", event_id=DROP),
]


def schemas_accepting(obj: Any) -> set[str]:
    return {t for t, validator in VALIDATORS.items() if validator.is_valid(obj)}


@pytest.mark.parametrize("obj", SCHEMA_VALID_EVENTS, ids=range(len(SCHEMA_VALID_EVENTS)))
def test_valid_event_validates_against_the_schema_of_its_type_and_decodes(obj: dict[str, Any]) -> None:
    assert schemas_accepting(obj) == {obj["type"]}
    result = decode(orjson.dumps(obj), now_ms=FAR_FUTURE_MS)
    assert isinstance(result, Event) and result.type == obj["type"]


@pytest.mark.parametrize("obj", SCHEMA_INVALID_EVENTS, ids=range(len(SCHEMA_INVALID_EVENTS)))
def test_invalid_event_fails_every_schema_and_is_rejected_by_decode(obj: dict[str, Any]) -> None:
    assert schemas_accepting(obj) == set()
    assert isinstance(decode(json.dumps(obj).encode(), now_ms=FAR_FUTURE_MS), Rejection)


def test_integral_float_ts_is_rejected_by_decode_though_json_schema_cannot_tell_it_from_an_integer() -> None:
    # In the JSON Schema data model 1.0 is the integer 1, so the schema files cannot express
    # "no fraction, no exponent"; the descriptions say it, and the decoder enforces it.
    obj = fields("message_sent", ts=1_709_629_140_000.0)
    assert schemas_accepting(obj) == {"message_sent"}
    assert run(json.dumps(obj).encode()) == Rejection("bad_value", "ts must be an integer (ms since the epoch)")


# Properties -------------------------------------------------------------------------------------

FIELD_NAMES = (
    "schema_version",
    "type",
    "event_id",
    "ts",
    "user_id",
    "role",
    "chat_id",
    "chat_kind",
    "call_id",
    "registered_by",
)


def texts(max_size: int) -> st.SearchStrategy[str]:
    """Any text, often with lone surrogates, quotes, backslashes and NUL (plain ``st.text`` has no surrogates)."""
    tricky = st.sampled_from(["\ud800", "\udfff", "a", "я", "\x00", '"', "\\"])
    return st.text(max_size=max_size) | st.text(tricky, max_size=max_size)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts(300)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts(10), children, max_size=4),
    max_leaves=20,
)

plausible_values = {
    "schema_version": st.sampled_from([1, 2, 0, True, 1.0, "1"]),
    "type": st.sampled_from(sorted(EVENT_TYPES) + ["", "Call", "unknown"]),
    "event_id": texts(260),
    "ts": st.integers(min_value=-1, max_value=2**64) | st.sampled_from([0, TS, NOW_MS + TOLERANCE_MS, 2**53]),
    "user_id": texts(260),
    "role": st.sampled_from(["teacher", "student", "parent", "staff", "school", "municipality", "admin", ""]),
    "chat_id": texts(5),
    "chat_kind": st.sampled_from(["group", "personal", "channel", "thread", ""]),
    "call_id": texts(5),
    "registered_by": st.sampled_from(["self", "parent", "teacher", ""]),
}


@st.composite
def event_like_dicts(
    draw: st.DrawFn, field_values: dict[str, st.SearchStrategy[Any]], values: st.SearchStrategy[Any]
) -> dict[str, Any]:
    """A valid event of a random type with up to three fields dropped or replaced by random values."""
    obj = fields(
        draw(st.sampled_from(sorted(EVENT_TYPES))),
        event_id=draw(field_values["event_id"].filter(bool)),
        user_id=draw(field_values["user_id"].filter(bool)),
        ts=draw(st.integers(min_value=0, max_value=NOW_MS)),
    )
    for name in draw(st.lists(st.sampled_from((*FIELD_NAMES, "extra")), max_size=3, unique=True)):
        if draw(st.booleans()):
            obj.pop(name, None)
        else:
            obj[name] = draw(field_values.get(name, values) | values)
    return obj


def assert_event_or_known_rejection(result: object) -> None:
    assert isinstance(result, Event | Rejection)
    if isinstance(result, Rejection):
        assert result.reason in REASONS and result.reason != "late"


@settings(max_examples=500, deadline=None)
@given(raw=st.binary(max_size=600), check_key=st.booleans(), key=st.none() | st.binary(max_size=8))
def test_decode_never_raises_on_arbitrary_bytes(raw: bytes, check_key: bool, key: bytes | None) -> None:
    assert_event_or_known_rejection(run(raw, key=key, check_key=check_key, max_bytes=512))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=json_values | event_like_dicts(plausible_values, json_values),
    ensure_ascii=st.booleans(),
    as_text=st.booleans(),
    check_key=st.booleans(),
)
def test_decode_never_raises_on_arbitrary_json_values(
    value: Any, ensure_ascii: bool, as_text: bool, check_key: bool
) -> None:
    # NaN and Infinity come out as bare words, lone surrogates as \ud800 or as CESU-8 bytes: all bad JSON
    text = json.dumps(value, allow_nan=True, ensure_ascii=ensure_ascii)
    raw: bytes | str = text if as_text else text.encode("utf-8", "surrogatepass")
    assert_event_or_known_rejection(run(raw, key=b"t-1", check_key=check_key))


# Text without lone surrogates (they make JSON that is not UTF-8) and numbers without integral
# floats (JSON Schema takes 1.0 for an integer, see above): in this domain schema and decoder agree.
clean_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
    | st.text(max_size=260)
)
clean_values = plausible_values | {
    "schema_version": st.sampled_from([1, 2, 0, True, "1"]),
    "event_id": st.text(max_size=260),
    "user_id": st.text(max_size=260),
    "chat_id": st.text(max_size=5),
    "call_id": st.text(max_size=5),
}


@settings(max_examples=1000, deadline=None)
@given(obj=event_like_dicts(clean_values, clean_scalars))
def test_json_schema_and_decode_agree_on_event_like_objects(obj: dict[str, Any]) -> None:
    result = decode(json.dumps(obj, ensure_ascii=False).encode(), now_ms=FAR_FUTURE_MS)
    accepted_by = schemas_accepting(obj)
    if isinstance(result, Event):
        assert accepted_by == {result.type}
    else:
        assert accepted_by == set(), f"decode said {result!r}"
