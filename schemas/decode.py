"""Decode one Kafka message (or NDJSON line) into an ``Event`` or a ``Rejection``.

Bad input is a value, not an exception: ``decode`` never raises on any bytes. The checks follow
the event contract (docs/events.md, schema_version 1); the JSON Schema files in ``schemas/json``
describe the same contract for producers, and a test keeps both in step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Final, Literal

import msgspec
import orjson

SCHEMA_VERSION: Final = 1

EVENT_TYPES: Final = frozenset({"chat_created", "message_sent", "call", "registered"})
ACTIVITY_TYPES: Final = frozenset({"chat_created", "message_sent", "call"})
PERSON_ROLES: Final = frozenset({"teacher", "student", "parent", "staff"})
ORG_ROLES: Final = frozenset({"school", "municipality"})
CHAT_KINDS: Final = frozenset({"group", "personal", "channel"})
REGISTERED_BY: Final = frozenset({"self", "parent"})
MAX_ID_CHARS: Final = 256

#: Every reason a message can be rejected for. Metric labels take their values from this set.
REASONS: Final = (
    "bad_json",  # not UTF-8 JSON (also NaN, nesting too deep)
    "too_large",  # more bytes than max_event_bytes
    "not_object",  # JSON, but not an object
    "missing_field",
    "bad_value",  # a field of the wrong type or an empty / too long id
    "unsupported_version",  # schema_version other than 1
    "unknown_type",
    "unknown_role",
    "unknown_chat_kind",
    "key_mismatch",  # Kafka key is not the event's user_id: state is partitioned by user_id
    "future",  # ts more than the tolerance ahead of the wall clock
    "late",  # its week ended more than the allowed lateness before the stream time
)

_REQUIRED: Final = {
    "chat_created": ("chat_id", "chat_kind"),
    "message_sent": ("chat_id", "chat_kind"),
    "call": ("call_id", "chat_kind"),
    "registered": ("registered_by",),
}


class Event(msgspec.Struct, frozen=True, gc=False):
    """A valid event, reduced to what counting needs."""

    type: str
    event_id: str
    ts: int
    user_id: str
    role: str
    chat_kind: str | None = None
    registered_by: str | None = None


class Rejection(msgspec.Struct, frozen=True, gc=False):
    reason: str
    detail: str


def _reject(reason: str, detail: str) -> Rejection:
    return Rejection(reason, detail)


def _str_field(obj: dict[str, object], name: str) -> str | Rejection:
    if name not in obj:
        return _reject("missing_field", f"{name} is missing")
    value = obj[name]
    if not isinstance(value, str):
        return _reject("bad_value", f"{name} must be a string")
    if not value or len(value) > MAX_ID_CHARS:
        return _reject("bad_value", f"{name} must have 1 to {MAX_ID_CHARS} characters")
    return value


# The fast path: a typed decoding of what a valid event looks like, all in msgspec's C code. It
# accepts exactly the valid events (a differential test holds it to the full path below); anything
# it does not accept goes through the full path, which says why.

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
_Ts = Annotated[int, msgspec.Meta(ge=0, lt=1 << 53)]
_Person = Literal["teacher", "student", "parent", "staff"]
_Kind = Literal["group", "personal", "channel"]


class _Chat(msgspec.Struct, tag_field="type", tag="chat_created", gc=False):
    schema_version: Literal[1]
    event_id: _Id
    ts: _Ts
    user_id: _Id
    role: _Person
    chat_id: _Id
    chat_kind: _Kind


class _Message(_Chat, tag="message_sent", gc=False):
    pass


class _Call(msgspec.Struct, tag_field="type", tag="call", gc=False):
    schema_version: Literal[1]
    event_id: _Id
    ts: _Ts
    user_id: _Id
    role: _Person
    call_id: _Id
    chat_kind: _Kind


class _Registered(msgspec.Struct, tag_field="type", tag="registered", gc=False):
    schema_version: Literal[1]
    event_id: _Id
    ts: _Ts
    user_id: _Id
    role: Literal["teacher", "student", "parent", "staff", "school", "municipality"]
    registered_by: Literal["self", "parent"]


_fast = msgspec.json.Decoder(_Chat | _Message | _Call | _Registered)
_TYPE_OF: Final[dict[type, str]] = {
    _Chat: "chat_created",
    _Message: "message_sent",
    _Call: "call",
    _Registered: "registered",
}


def decode(
    raw: bytes | bytearray | memoryview | str,
    *,
    now_ms: int,
    future_tolerance_ms: int = 300_000,
    max_bytes: int = 64 * 1024,
    key: bytes | None = None,
    check_key: bool = False,
    pseudonym: Callable[[str], str] | None = None,
) -> Event | Rejection:
    """Validate one message. ``key``/``check_key``: the Kafka key must equal ``user_id`` (the id as
    sent). ``pseudonym``: applied to the ``user_id`` of a person (not of a school or municipality)
    once the message is valid (``schemas.pseudonym``); a rejection carries no id."""
    result = _decode(raw, now_ms, future_tolerance_ms, max_bytes, key, check_key)
    if pseudonym is not None and isinstance(result, Event) and result.role in PERSON_ROLES:
        return msgspec.structs.replace(result, user_id=pseudonym(result.user_id))
    return result


def _decode(
    raw: bytes | bytearray | memoryview | str,
    now_ms: int,
    future_tolerance_ms: int,
    max_bytes: int,
    key: bytes | None,
    check_key: bool,
) -> Event | Rejection:
    """The fast path for what looks like a valid event, the full checks for the rest."""
    if len(raw) > max_bytes:
        return _reject("too_large", f"{len(raw)} bytes, more than {max_bytes}")
    if (
        isinstance(raw, bytes)
        and (raw.isascii() or _utf8(raw))
        and raw.count(b"[") + raw.count(b"{") <= _MAX_OPENERS
        and _BIG_NUMBER.search(raw) is None
    ):
        try:
            fast = _fast.decode(raw)
        except Exception:  # not a valid event: the full path says why
            pass
        else:
            if fast.ts > now_ms + future_tolerance_ms:
                return _reject("future", f"ts is {(fast.ts - now_ms) // 1000} s ahead of the clock")
            if check_key and (key is None or key != fast.user_id.encode()):
                return _reject("key_mismatch", "the Kafka key is not the event's user_id")
            if isinstance(fast, _Registered):
                return Event("registered", fast.event_id, fast.ts, fast.user_id, fast.role, None, fast.registered_by)
            return Event(_TYPE_OF[type(fast)], fast.event_id, fast.ts, fast.user_id, fast.role, fast.chat_kind, None)
    return _decode_fully(raw, now_ms=now_ms, future_tolerance_ms=future_tolerance_ms, key=key, check_key=check_key)


#: msgspec's nesting limit follows Python's recursion limit, orjson's is fixed (1024): a message
#: nested anywhere near either takes the full path.
_MAX_OPENERS: Final = 256
#: msgspec skips an unknown field's number without reading it; the full path turns one that
#: overflows a float (a 3-digit exponent, or very many digits) into infinity and refuses it.
_BIG_NUMBER: Final = re.compile(rb"[0-9]{20}|[eE][+-]?[0-9]{3}")


def _utf8(raw: bytes) -> bool:
    """msgspec skips unknown fields without checking their UTF-8; the full path refuses bad UTF-8."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode_fully(
    raw: bytes | bytearray | memoryview | str,
    *,
    now_ms: int,
    future_tolerance_ms: int,
    key: bytes | None,
    check_key: bool,
) -> Event | Rejection:
    """Every check in order, with the reason of the first that fails."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _reject("bad_json", str(exc).split(":", 1)[0][:120])
    if not isinstance(obj, dict):
        return _reject("not_object", f"a JSON {type(obj).__name__}, not an object")

    if "schema_version" not in obj:
        return _reject("missing_field", "schema_version is missing")
    version = obj["schema_version"]
    if type(version) is not int:
        return _reject("bad_value", "schema_version must be an integer")
    if version != SCHEMA_VERSION:
        return _reject("unsupported_version", f"schema_version {version} is not supported")

    if "type" not in obj:
        return _reject("missing_field", "type is missing")
    etype = obj["type"]
    if not isinstance(etype, str):
        return _reject("bad_value", "type must be a string")
    if etype not in EVENT_TYPES:
        return _reject("unknown_type", f"type {etype[:40]!r} is not known")

    event_id = _str_field(obj, "event_id")
    if isinstance(event_id, Rejection):
        return event_id
    user_id = _str_field(obj, "user_id")
    if isinstance(user_id, Rejection):
        return user_id

    if "ts" not in obj:
        return _reject("missing_field", "ts is missing")
    ts = obj["ts"]
    if type(ts) is not int:
        return _reject("bad_value", "ts must be an integer (ms since the epoch)")
    if ts < 0 or ts >= 1 << 53:
        return _reject("bad_value", "ts is out of range")
    if ts > now_ms + future_tolerance_ms:
        return _reject("future", f"ts is {(ts - now_ms) // 1000} s ahead of the clock")

    role = _str_field(obj, "role")
    if isinstance(role, Rejection):
        return role
    allowed_roles = PERSON_ROLES | ORG_ROLES if etype == "registered" else PERSON_ROLES
    if role not in allowed_roles:
        return _reject("unknown_role", f"role {role[:40]!r} is not allowed for {etype}")

    for name in _REQUIRED[etype]:
        value = _str_field(obj, name)
        if isinstance(value, Rejection):
            return value

    chat_kind = obj.get("chat_kind") if etype != "registered" else None
    if chat_kind is not None and chat_kind not in CHAT_KINDS:
        return _reject("unknown_chat_kind", f"chat_kind {str(chat_kind)[:40]!r} is not known")
    registered_by = obj.get("registered_by") if etype == "registered" else None
    if registered_by is not None and registered_by not in REGISTERED_BY:
        return _reject("bad_value", "registered_by must be self or parent")

    if check_key and (key is None or key != user_id.encode()):
        return _reject("key_mismatch", "the Kafka key is not the event's user_id")
    return Event(etype, event_id, ts, user_id, role, chat_kind, registered_by)
