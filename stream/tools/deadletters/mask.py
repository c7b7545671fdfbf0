"""Samples of dead letters that never show a person's id in clear.

A sample is the beginning of the original bytes with the value of every field that could hold
an id replaced: masked (``"***"``), or, given the pseudonymisation key, replaced by the start of
its keyed HMAC (``"hmac:1f2e…"``), so that letters of the same user can still be told apart and
matched with the pseudonymised tables. When unsure, it masks:

* kept as they are: only the values of the contract's fields that are never ids, at the top
  level of an object (``schema_version``, ``type``, ``ts``, ``role``, ``chat_kind``,
  ``registered_by``), ``true``/``false``/``null``/``NaN``, and field names made of letters and
  underscores (the contract's names, and the names of unknown extra fields);
* masked: every other string or number (``user_id``, ``event_id``, ``chat_id``, ``call_id``,
  unknown extra fields, anything nested or outside an object), every field name with a digit or
  another character in it, and every word of a line that is not JSON.

It works on the text, not on parsed JSON, so that cut and malformed originals (the ones that end
up in the dead-letter topic) are masked as well as valid ones, and the layout stays as it was.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import orjson

#: Top-level fields whose values are enumerations, times or versions, never ids.
SAFE_FIELDS = frozenset({"schema_version", "type", "ts", "role", "chat_kind", "registered_by"})
#: How much of the original is looked at, and how many characters a sample shows.
SCAN_BYTES = 4096
SAMPLE_CHARS = 240
MASK = "***"
#: Hex digits of the HMAC a sample shows (64 bits: enough to tell ids apart in a sample).
PSEUDONYM_DIGITS = 16
_LITERALS = frozenset({"true", "false", "null", "NaN", "Infinity", "-Infinity"})
_PLAIN_NAME = re.compile(r"^[A-Za-z_]{1,64}$")
_STRUCTURE = frozenset('{}[],:"')
_SAFE_VALUE_CHARS = 40


def pseudonym(value: str, key: bytes) -> str:
    """The keyed HMAC-SHA256 of an id, in hex: what a sample shows (its first digits) when a
    pseudonymisation key is configured. The store holds its first 32 digits (``schemas.pseudonym``),
    so a sample's digits are the start of the id the tables show."""
    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def masked_sample(raw: bytes, *, id_key: bytes | None, max_chars: int = SAMPLE_CHARS) -> str:
    """The first ``max_chars`` characters of ``raw`` as text, ids masked (or HMAC'ed with
    ``id_key``), control characters escaped, ``…`` where it was cut."""
    text = bytes(raw[:SCAN_BYTES]).decode("utf-8", "replace")
    shown = _printable(_Masker(text, id_key).run())
    if len(shown) > max_chars or len(raw) > SCAN_BYTES:
        return shown[:max_chars] + "…"
    return shown


class _Masker:
    """A lenient scanner of JSON-like text: tracks objects, arrays, keys and values, copies
    structure and replaces values by the rules above."""

    def __init__(self, text: str, key: bytes | None) -> None:
        self.text = text
        self.key = key
        self.out: list[str] = []
        self.stack: list[str] = []
        self.expect_key = False
        self.field: str | None = None

    def run(self) -> str:
        text, i, n = self.text, 0, len(self.text)
        while i < n:
            ch = text[i]
            if ch == '"':
                end = _string_end(text, i)
                self._string(text[i:end])
                i = end
                continue
            if ch.isspace() or ch in _STRUCTURE:
                self._structure(ch)
                i += 1
                continue
            end = i
            while end < n and not text[end].isspace() and text[end] not in _STRUCTURE:
                end += 1
            self._word(text[i:end])
            i = end
        return "".join(self.out)

    def _structure(self, ch: str) -> None:
        self.out.append(ch)
        if ch in "{[":
            self.stack.append(ch)
            self.expect_key = ch == "{"
        elif ch in "}]":
            if self.stack:
                self.stack.pop()
            self.expect_key = False
        elif ch == ",":
            self.expect_key = bool(self.stack) and self.stack[-1] == "{"
        elif ch == ":":
            self.expect_key = False

    def _in_safe_field(self) -> bool:
        return self.stack == ["{"] and self.field in SAFE_FIELDS

    def _string(self, token: str) -> None:
        content = _string_content(token)
        if self.expect_key:
            self.field = content
            self.out.append(token if _PLAIN_NAME.match(content) else self._replace(content, quoted=True))
        elif self._in_safe_field():
            self.out.append(token if len(content) <= _SAFE_VALUE_CHARS else token[: _SAFE_VALUE_CHARS + 1] + "…")
        else:
            self.out.append(self._replace(content, quoted=True))
        self.expect_key = False

    def _word(self, word: str) -> None:
        keep = word in _LITERALS or not any(c.isalnum() for c in word) or self._in_safe_field()
        self.out.append(word if keep else self._replace(word, quoted=False))
        self.expect_key = False

    def _replace(self, value: str, *, quoted: bool) -> str:
        shown = MASK if self.key is None else "hmac:" + pseudonym(value, self.key)[:PSEUDONYM_DIGITS]
        return f'"{shown}"' if quoted else shown


def _string_end(text: str, start: int) -> int:
    """Index after the string token that starts at ``start`` (the end of the text if unterminated)."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    return len(text)


def _string_content(token: str) -> str:
    """The value of a string token, unescaped when it is complete and valid, else as written."""
    if len(token) >= 2 and token.endswith('"'):
        try:
            value = orjson.loads(token)
            if isinstance(value, str):
                return value
        except orjson.JSONDecodeError:
            pass
    return token[1:].removesuffix('"')


def _printable(text: str) -> str:
    """Control and other unprintable characters as escapes: a sample never drives the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
