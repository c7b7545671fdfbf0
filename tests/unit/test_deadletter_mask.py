"""Samples of dead letters never show an id in clear: masked without a key, a keyed HMAC with one
(the pseudonymisation key); the contract's enumerations, times and field names stay readable."""

from __future__ import annotations

import hashlib
import hmac
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.tools.deadletters.mask import masked_sample, pseudonym

EVENT = (
    b'{"schema_version":1,"type":"message_sent","event_id":"ev-1","ts":1789040278286,'
    b'"user_id":"t00012","role":"teacher","chat_id":"chat-7","chat_kind":"group"}'
)


def hmac16(key: bytes, value: str) -> str:
    return "hmac:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


def test_every_id_of_an_event_is_masked_and_the_rest_is_kept_as_written() -> None:
    assert masked_sample(EVENT, id_key=None) == (
        '{"schema_version":1,"type":"message_sent","event_id":"***","ts":1789040278286,'
        '"user_id":"***","role":"teacher","chat_id":"***","chat_kind":"group"}'
    )


def test_with_a_key_ids_become_their_keyed_hmac() -> None:
    key = b"pseudonymisation key"
    sample = masked_sample(EVENT, id_key=key)
    assert sample == (
        '{"schema_version":1,"type":"message_sent",'
        f'"event_id":"{hmac16(key, "ev-1")}","ts":1789040278286,'
        f'"user_id":"{hmac16(key, "t00012")}","role":"teacher",'
        f'"chat_id":"{hmac16(key, "chat-7")}","chat_kind":"group"}}'
    )
    assert pseudonym("t00012", key) == hmac.new(key, b"t00012", hashlib.sha256).hexdigest()
    assert masked_sample(EVENT, id_key=b"another key") != sample


def test_the_hmac_is_of_the_id_itself_not_of_its_json_escapes() -> None:
    key = b"k"
    escaped = masked_sample(b'{"user_id":"t\\u00300012"}', id_key=key)  # "t00012" with an escape
    assert escaped == f'{{"user_id":"{hmac16(key, "t00012")}"}}'


def test_a_number_where_an_id_belongs_is_masked_too_and_stays_a_bare_value() -> None:
    assert masked_sample(b'{"user_id":170012,"ts":"1757000000000"}', id_key=None) == (
        '{"user_id":***,"ts":"1757000000000"}'
    )


def test_unknown_fields_and_anything_nested_are_masked() -> None:
    raw = b'{"type":"call","client":{"os":"android","v":"7.1","ids":["t1",42]},"note":"from t00012"}'
    assert masked_sample(raw, id_key=None) == (
        '{"type":"call","client":{"os":"***","v":"***","ids":["***",***]},"note":"***"}'
    )


def test_safe_field_names_nested_deeper_are_not_safe() -> None:
    assert masked_sample(b'{"x":{"role":"t00012","type":"t00013"}}', id_key=None) == (
        '{"x":{"role":"***","type":"***"}}'
    )


def test_a_field_name_that_is_not_a_plain_name_is_masked() -> None:
    assert masked_sample(b'{"t00012":{"ts":1},"user-id":"x"}', id_key=None) == '{"***":{"ts":***},"***":"***"}'


def test_values_outside_an_object_are_masked_but_literals_are_kept() -> None:
    assert masked_sample(b'["t00012",17,true,null]', id_key=None) == '["***",***,true,null]'
    assert masked_sample(b'"t00012"', id_key=None) == '"***"'
    assert masked_sample(b"NaN", id_key=None) == "NaN"
    assert masked_sample(b'{"a":NaN}', id_key=None) == '{"a":NaN}'


def test_words_of_a_line_that_is_not_json_are_masked() -> None:
    assert masked_sample(b"t00012,teacher,2026-12-01", id_key=None) == "***,***,***"
    assert masked_sample(b"{not json", id_key=None) == "{*** ***"


def test_a_cut_original_is_masked_up_to_its_last_byte() -> None:
    assert masked_sample(b'{"schema_version":1,"user_id":"t000', id_key=None) == '{"schema_version":1,"user_id":"***"'
    assert masked_sample(b'{"schema_version":1,"user_id":t000', id_key=None) == '{"schema_version":1,"user_id":***'


def test_an_enumeration_value_is_kept_but_cut_at_40_characters() -> None:
    sample = masked_sample(b'{"type":"' + b"r" * 100 + b'"}', id_key=None)
    assert sample == '{"type":"' + "r" * 40 + "…}"


def test_control_characters_are_escaped_and_bad_utf8_is_replaced() -> None:
    assert masked_sample(b'{"ts":1}\x1b[31m\n', id_key=None) == '{"ts":1}\\x1b[***\\n'
    assert masked_sample(b'\xff\xfe{"ts":1}', id_key=None) == '\ufffd\ufffd{"ts":1}'


def test_a_long_original_is_cut_to_the_sample_length() -> None:
    raw = b'{"type":"call","ts":1,' + b'"pad":"x",' * 2000 + b'"user_id":"t00012"}'
    sample = masked_sample(raw, id_key=None, max_chars=100)
    assert len(sample) == 101 and sample.endswith("…")
    assert sample.startswith('{"type":"call","ts":1,"pad":"***","pad":"***"')


# An id with a letter g-z and a digit: never a substring of a field name (no digits), of a number
# (no letters), of an enumeration value of the contract or of an HMAC in hex (no letters past f).
ids = st.from_regex(r"[g-z][a-z0-9_\-]{1,12}[0-9]", fullmatch=True)
names = st.sampled_from(["user_id", "event_id", "chat_id", "call_id", "client", "actor", "owner", "x"])
plain = st.one_of(st.integers(-(2**53), 2**53), st.booleans(), st.none(), st.sampled_from(["group", "teacher"]))


@settings(max_examples=300, deadline=None)
@given(
    person=ids,
    where=names,
    nested=st.booleans(),
    extra=st.dictionaries(st.sampled_from(["type", "role", "ts", "chat_kind", "note", "v"]), plain, max_size=4),
    cut=st.integers(1, 400),
    key=st.one_of(st.none(), st.binary(min_size=1, max_size=16)),
)
def test_an_id_never_appears_in_a_sample_wherever_it_is_and_wherever_the_original_is_cut(
    person: str, where: str, nested: bool, extra: dict[str, object], cut: int, key: bytes | None
) -> None:
    value: object = {"inner": [person]} if nested else person
    raw = json.dumps(extra | {where: value}).encode()
    for end in (len(raw), min(cut, len(raw))):
        sample = masked_sample(raw[:end], id_key=key)
        assert person not in sample
