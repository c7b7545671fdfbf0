"""Apply a batch of raw messages to per-user state: decode, group by user, count, collect rows.

Used as it is by the Faust agent and by ``replay``; only the state access differs (a Faust
table, or a dict). One batch reads and writes each user's state once, so a Faust table sees
one write (one changelog message) per user per batch, however many events the user had.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from schemas.decode import REASONS, Event, Rejection, decode
from stream.core import (
    COUNTED,
    COUNTED_ROLES,
    DUPLICATE,
    IGNORED,
    LATE,
    Policy,
    TeacherWeekRow,
    UserBatchResult,
    UserState,
    apply_user_events,
    decode_state,
    encode_state,
    staff_week_row,
    teacher_week_row,
)
from stream.settings import Settings
from stream.week import WeekCalendar


class Record(msgspec.Struct, frozen=True, gc=False):
    """A raw message and where it came from (a Faust event, or a file and line for replay)."""

    value: bytes
    key: bytes | None
    origin: Any


class RegistrationRow(msgspec.Struct, frozen=True, gc=False):
    """One row of ``sferum.registrations``."""

    user_id: str
    role: str
    registered_by: str
    ts: int
    event_id: str


class DeadLetter(msgspec.Struct, frozen=True, gc=False):
    record: Record
    reason: str
    detail: str


class StateAccess(Protocol):
    """Where per-user state lives. ``origin`` is a record of that user in the current batch."""

    def get(self, user_id: str, origin: Any) -> bytes | None: ...

    def put(self, user_id: str, origin: Any, value: bytes) -> None: ...


class DictState:
    """State in a dict: for replay and tests."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, user_id: str, origin: Any) -> bytes | None:
        return self.data.get(user_id)

    def put(self, user_id: str, origin: Any, value: bytes) -> None:
        self.data[user_id] = value


@dataclass(slots=True)
class Tally:
    """How many messages went where. consumed = counted + ignored + duplicates + rejected."""

    consumed: int = 0
    counted: int = 0
    ignored: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.consumed += other.consumed
        self.counted += other.counted
        self.ignored += other.ignored
        self.duplicates += other.duplicates
        self.rejected.update(other.rejected)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "consumed": self.consumed,
            "counted": self.counted,
            "ignored": self.ignored,
            "duplicates": self.duplicates,
            "rejected": self.rejected_total,
            "rejected_by_reason": {r: self.rejected[r] for r in REASONS if self.rejected[r]},
        }


@dataclass(slots=True)
class PendingRows:
    """Rows changed since the last successful flush, newest version per key."""

    teacher_weeks: dict[tuple[str, int], TeacherWeekRow] = field(default_factory=dict)
    staff_weeks: dict[tuple[str, int], TeacherWeekRow] = field(default_factory=dict)
    registrations: dict[str, RegistrationRow] = field(default_factory=dict)
    #: (user, week) of the pending registrations: their weeks are pinned like rows' weeks.
    registration_weeks: set[tuple[str, int]] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.teacher_weeks) + len(self.staff_weeks) + len(self.registrations)

    def absorb_older(self, older: PendingRows) -> None:
        """Put back rows of a failed flush; rows changed since then are newer and win."""
        older.teacher_weeks.update(self.teacher_weeks)
        older.staff_weeks.update(self.staff_weeks)
        older.registrations.update(self.registrations)
        older.registration_weeks.update(self.registration_weeks)
        self.teacher_weeks, self.staff_weeks = older.teacher_weeks, older.staff_weeks
        self.registrations, self.registration_weeks = older.registrations, older.registration_weeks


@dataclass(slots=True)
class BatchOutcome:
    dead_letters: list[DeadLetter] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)
    #: Per record, in order: its event type ("invalid" if it did not decode) and its ts (-1 if
    #: it did not decode), for the per-topic and per-partition metrics.
    record_types: list[str] = field(default_factory=list)
    record_ts: list[int] = field(default_factory=list)
    counted_by_type: Counter[str] = field(default_factory=Counter)


class BatchProcessor:
    """Decodes and applies batches; accumulates the rows to flush."""

    def __init__(
        self,
        settings: Settings,
        *,
        check_key: bool,
        clock: Callable[[], float] = time.time,
        on_state: Callable[[str, UserState], None] | None = None,
    ) -> None:
        self.policy = Policy(WeekCalendar(settings.timezone), settings.allowed_lateness_ms)
        self._future_ms = settings.future_tolerance_ms
        self._max_bytes = settings.max_event_bytes
        self._check_key = check_key
        self._clock = clock
        self._on_state = on_state  # told each user's state after a batch changed it
        #: True for a record whose user must not drop any week now (see ``Pipeline``: while a
        #: partition re-reads what a crashed owner applied but did not flush).
        self.holding: Callable[[Any], bool] = lambda origin: False
        self.pending = PendingRows()
        #: Rows being written by a flush in progress; they pin their weeks like pending rows.
        self.in_flight = PendingRows()

    def _is_pinned(self, user_id: str) -> Callable[[int], bool]:
        tables = (
            self.pending.teacher_weeks,
            self.in_flight.teacher_weeks,
            self.pending.staff_weeks,
            self.in_flight.staff_weeks,
            self.pending.registration_weeks,
            self.in_flight.registration_weeks,
        )
        return lambda week: any((user_id, week) in rows for rows in tables)

    def process(self, records: Sequence[Record], states: StateAccess) -> BatchOutcome:
        outcome = BatchOutcome()
        tally = outcome.tally
        tally.consumed = len(records)
        now_ms = int(self._clock() * 1000)
        by_user: dict[str, list[tuple[Record, Event]]] = {}
        for record in records:
            event = decode(
                record.value,
                now_ms=now_ms,
                future_tolerance_ms=self._future_ms,
                max_bytes=self._max_bytes,
                key=record.key,
                check_key=self._check_key,
            )
            if isinstance(event, Rejection):
                outcome.dead_letters.append(DeadLetter(record, event.reason, event.detail))
                tally.rejected[event.reason] += 1
                outcome.record_types.append("invalid")
                outcome.record_ts.append(-1)
                continue
            outcome.record_types.append(event.type)
            outcome.record_ts.append(event.ts)
            if event.type != "registered" and event.role not in COUNTED_ROLES:
                tally.ignored += 1  # no state needed: nothing counts a student's or parent's activity
            else:
                by_user.setdefault(event.user_id, []).append((record, event))

        for user_id, items in by_user.items():
            origin = items[0][0].origin
            state = decode_state(states.get(user_id, origin))
            before = (state.stream_time, len(state.weeks))
            pinned = _pin_every_week if self.holding(origin) else self._is_pinned(user_id)
            result = apply_user_events(state, [e for _, e in items], self.policy, pinned)
            changed = COUNTED in result.outcomes or (state.stream_time, len(state.weeks)) != before
            if changed:
                states.put(user_id, origin, encode_state(state))
                if self._on_state is not None:
                    self._on_state(user_id, state)
            self._collect(user_id, state, result)
            for (record, event), what in zip(items, result.outcomes, strict=True):
                if what == COUNTED:
                    tally.counted += 1
                    outcome.counted_by_type[event.type] += 1
                elif what == DUPLICATE:
                    tally.duplicates += 1
                elif what == LATE:
                    tally.rejected[LATE] += 1
                    outcome.dead_letters.append(DeadLetter(record, LATE, _late_detail(event, state)))
                elif what == IGNORED:  # pragma: no cover - filtered above
                    tally.ignored += 1
        return outcome

    def _collect(self, user_id: str, state: UserState, result: UserBatchResult) -> None:
        for weeks, make_row, rows in (
            (result.touched_weeks, teacher_week_row, self.pending.teacher_weeks),
            (result.touched_staff_weeks, staff_week_row, self.pending.staff_weeks),
        ):
            for week in weeks:
                row = make_row(user_id, week, state.weeks[week])
                if row is not None:
                    rows[(user_id, week)] = row
        regs = self.pending.registrations
        calendar = self.policy.calendar
        for event in result.registrations:
            self.pending.registration_weeks.add((user_id, calendar.week_of(event.ts)))
            regs[event.event_id] = RegistrationRow(
                event.user_id, event.role, event.registered_by or "self", event.ts, event.event_id
            )

    def take_pending(self) -> PendingRows:
        """Move pending rows in flight (for a flush); ``flush_failed`` puts them back."""
        self.in_flight, self.pending = self.pending, PendingRows()
        return self.in_flight

    def flush_done(self) -> None:
        self.in_flight = PendingRows()

    def flush_failed(self) -> None:
        self.pending.absorb_older(self.in_flight)
        self.in_flight = PendingRows()


def _pin_every_week(week: int) -> bool:
    return True


def _late_detail(event: Event, state: UserState) -> str:
    lag_h = (state.stream_time - event.ts) // 3_600_000
    return f"event is {lag_h} h older than the user's stream time; its week is closed"
