"""``schemas.decode`` on hostile input, property by property (issue "Reliability", item 5): deep
nesting, wrong types, non-finite numbers, unicode (lone surrogates, as bytes and as str), huge
lines and mutated bytes. Each property states the expected outcome by hand from the event
contract; ``python -m tests.tools.fuzz_decode`` runs the same kinds of input for minutes."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.decode import REASONS, Event, Rejection, decode
from tests.support.hostile import GENERATORS
from tests.tools.fuzz_decode import problem

NOW_MS = 1_800_000_000_000
TS = 1_790_000_000_000
STRING_FIELDS = ("event_id", "user_id", "role", "chat_id", "chat_kind")


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema_version": 1,
        "type": "message_sent",
        "event_id": "e-1",
        "ts": TS,
        "user_id": "u-1",
        "role": "teacher",
        "chat_id": "c-1",
        "chat_kind": "group",
    }
    return base | changes


def dump(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def run(raw: bytes | str, **kwargs: Any) -> Event | Rejection:
    return decode(raw, now_ms=NOW_MS, **kwargs)


def reason(raw: bytes | str, **kwargs: Any) -> str:
    result = run(raw, **kwargs)
    return result.reason if isinstance(result, Rejection) else "event"


# Nesting --------------------------------------------------------------------------------------

NESTERS = [(b"[", b"]"), (b'{"a":', b"}"), (b'[{"a":', b"}]")]


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(1, 400), nester=st.sampled_from(NESTERS))
def test_moderate_nesting_in_an_unknown_field_is_ignored(depth: int, nester: tuple[bytes, bytes]) -> None:
    opener, closer = nester
    raw = dump(event())[:-1] + b',"extra":' + opener * depth + b"1" + closer * depth + b"}"
    assert reason(raw) == "event"


@settings(max_examples=40, deadline=None)
@given(
    depth=st.integers(2_000, 1_000_000),
    nester=st.sampled_from(NESTERS),
    closed=st.booleans(),
    inside_event=st.booleans(),
)
def test_nesting_thousands_deep_is_bad_json_not_a_crash(
    depth: int, nester: tuple[bytes, bytes], closed: bool, inside_event: bool
) -> None:
    opener, closer = nester
    inner = opener * depth + b"1" + (closer * depth if closed else b"")
    raw = dump(event())[:-1] + b',"extra":' + inner + b"}" if inside_event else inner
    assert reason(raw, max_bytes=len(raw)) == "bad_json"
    assert reason(raw, max_bytes=len(raw) - 1) == "too_large"


# Wrong types ------------------------------------------------------------------------------------

NOT_STRINGS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@given(name=st.sampled_from(STRING_FIELDS), value=NOT_STRINGS)
def test_a_string_field_of_another_type_is_bad_value(name: str, value: Any) -> None:
    assert reason(dump(event(**{name: value}))) == "bad_value"


#: Everything but an int (an int is the right type; its range is tested elsewhere).
NOT_INTS = NOT_STRINGS.filter(lambda v: type(v) is not int) | st.text(max_size=5)


@given(name=st.sampled_from(["schema_version", "ts"]), value=NOT_INTS)
def test_an_integer_field_of_another_type_is_bad_value(name: str, value: Any) -> None:
    assert type(value) is not int
    assert reason(dump(event(**{name: value}))) == "bad_value"


@given(value=NOT_STRINGS)
def test_a_type_of_another_type_is_bad_value(value: Any) -> None:
    assert reason(dump(event(type=value))) == "bad_value"


# Non-finite and huge numbers ----------------------------------------------------------------------

NON_FINITE = [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"1E400"]


@given(word=st.sampled_from(NON_FINITE), name=st.sampled_from([*event(), "extra"]), nested=st.booleans())
def test_nan_and_infinity_anywhere_are_bad_json(word: bytes, name: str, nested: bool) -> None:
    value = b'{"x":[' + word + b"]}" if nested else word
    raw = dump(event(**{name: "@@"})).replace(b'"@@"', value)
    assert reason(raw) == "bad_json"


@given(digits=st.integers(20, 5000))
def test_a_ts_of_thousands_of_digits_is_bad_value_or_bad_json(digits: int) -> None:
    raw = dump(event(ts="@@")).replace(b'"@@"', b"9" * digits)
    assert reason(raw) in {"bad_value", "bad_json"}


# Unicode ------------------------------------------------------------------------------------------

NO_SURROGATES = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=256)


@given(user=NO_SURROGATES)
def test_any_unicode_id_round_trips_and_keys_compare_as_utf8(user: str) -> None:
    raw = dump(event(user_id=user))
    result = run(raw, key=user.encode(), check_key=True)
    assert isinstance(result, Event) and result.user_id == user
    assert reason(raw, key=user.encode() + b"x", check_key=True) == "key_mismatch"


SURROGATE = st.integers(0xD800, 0xDFFF)


@given(code=SURROGATE, name=st.sampled_from([*STRING_FIELDS, "extra"]), form=st.sampled_from(["escape", "cesu"]))
def test_a_lone_surrogate_in_bytes_is_bad_json(code: int, name: str, form: str) -> None:
    piece = f"\\u{code:04x}".encode() if form == "escape" else chr(code).encode("utf-8", "surrogatepass")
    raw = dump(event(**{name: "@@"})).replace(b"@@", b"a" + piece + b"b")
    assert reason(raw) == "bad_json"


@given(code=SURROGATE, name=st.sampled_from([*STRING_FIELDS, "extra"]))
def test_a_lone_surrogate_in_str_input_is_bad_json(code: int, name: str) -> None:
    text = json.dumps(event(**{name: f"a{chr(code)}b"}), ensure_ascii=False)
    assert reason(text, key=b"u-1", check_key=True) == "bad_json"


@given(high=st.integers(0xD800, 0xDBFF), low=st.integers(0xDC00, 0xDFFF))
def test_an_escaped_surrogate_pair_is_one_character(high: int, low: int) -> None:
    raw = dump(event(user_id="@@")).replace(b"@@", f"\\u{high:04x}\\u{low:04x}".encode())
    result = run(raw)
    assert isinstance(result, Event)
    assert result.user_id == chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def test_a_byte_order_mark_before_the_document_is_bad_json() -> None:
    assert reason(b"\xef\xbb\xbf" + dump(event())) == "bad_json"


# Size -----------------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limit=st.integers(200, 1 << 20), over=st.integers(1, 1 << 20), garbage=st.booleans())
def test_anything_longer_than_the_limit_is_too_large_before_parsing(limit: int, over: int, garbage: bool) -> None:
    # garbage would be bad_json if it were parsed
    raw = b"[" * (limit + over) if garbage else dump(event(pad="@@")).replace(b"@@", b"x" * (limit + over))
    assert reason(raw, max_bytes=limit) == "too_large"


@settings(max_examples=20, deadline=None)
@given(size=st.integers(200, 1 << 20))
def test_a_valid_line_of_exactly_the_limit_is_an_event(size: int) -> None:
    raw = dump(event(pad=""))
    raw = dump(event(pad="x" * (size - len(raw))))
    assert len(raw) == size
    assert reason(raw, max_bytes=size) == "event"


# The fuzzer's generators ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    category=st.sampled_from(sorted(set(GENERATORS) - {"huge"})),
    seed=st.integers(0, 2**32),
    check_key=st.booleans(),
)
def test_hostile_inputs_give_an_event_or_a_known_rejection(category: str, seed: int, check_key: bool) -> None:
    raw = GENERATORS[category](random.Random(seed))
    for max_bytes in (64 << 10, 32 << 20):
        result = decode(raw, now_ms=NOW_MS, max_bytes=max_bytes, key=b"u-1", check_key=check_key)
        assert problem(raw, result, b"u-1", check_key, max_bytes) is None
        assert isinstance(result, Event) or result.reason in REASONS


def test_the_fuzzer_checker_catches_a_wrong_answer() -> None:
    # the checker the fuzzer and the test above rely on must be able to fail
    raw = dump(event())
    assert problem(raw, Rejection("nope", "x"), None, False, 1000) is not None
    assert problem(raw, Rejection("late", "x"), None, False, 1000) is not None
    assert problem(raw, run(raw), None, False, 10) is not None  # over the limit, yet an Event
    assert problem(raw, run(raw), b"other", True, 1000) is not None
    assert problem(raw, Event("call", "e", 1, "u\ud800", "teacher", "group"), None, False, 1000) is not None
    assert problem(raw, run(raw), None, False, 1000) is None
