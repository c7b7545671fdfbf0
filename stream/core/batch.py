"""Apply batches of raw messages to per-user state: decode, group by user, count, collect rows.

Used as it is by the worker and by ``replay``; only the state access differs (a partition's cached
store in the worker, a dict in replay). Decoding and applying are two steps: the worker decodes
messages as they arrive (it orders the input topics by event time before applying), replay does
both at once (``BatchProcessor.process``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from schemas.decode import REASONS, Event, Rejection, decode
from schemas.pseudonym import pseudonymizer
from schemas.rows import PendingRows, RegistrationRow
from stream.core.counting import (
    COUNTED,
    COUNTED_ROLES,
    DUPLICATE,
    LATE,
    Policy,
    UserBatchResult,
    UserState,
    apply_user_events,
    evict_closed_weeks,
    staff_week_row,
    teacher_week_row,
)
from stream.core.week import WeekCalendar
from stream.settings import Settings

INVALID = "invalid"  # the type of a message that did not decode


class Record(msgspec.Struct, frozen=True, gc=False):
    """A raw message and where it came from (a Kafka message, or a file and line for replay)."""

    value: bytes
    key: bytes | None
    origin: Any


class Decoded(msgspec.Struct, frozen=True, gc=False):
    """A record and what it decoded to."""

    record: Record
    result: Event | Rejection

    @property
    def ts(self) -> int:
        """Event time, or -1 for a rejection (it changes no state, so it can go first)."""
        return self.result.ts if isinstance(self.result, Event) else -1

    @property
    def type(self) -> str:
        return self.result.type if isinstance(self.result, Event) else INVALID


class DeadLetter(msgspec.Struct, frozen=True, gc=False):
    record: Record
    reason: str
    detail: str


class StateAccess(Protocol):
    """Where per-user state lives: ``load`` returns the user's live state (a new, empty one if the
    user has none yet); ``changed`` is told each user whose state a batch changed."""

    def load(self, user_id: str) -> UserState: ...

    def changed(self, user_id: str) -> None: ...


class DictState:
    """State in a dict: for replay and tests."""

    def __init__(self) -> None:
        self.data: dict[str, UserState] = {}
        self.changes = 0

    def load(self, user_id: str) -> UserState:
        state = self.data.get(user_id)
        if state is None:
            state = self.data[user_id] = UserState()
        return state

    def changed(self, user_id: str) -> None:
        self.changes += 1


@dataclass(slots=True)
class MessageTally:
    """How many messages went where. consumed = counted + ignored + duplicates + rejected."""

    consumed: int = 0
    counted: int = 0
    ignored: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def add(self, other: MessageTally) -> None:
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
class BatchOutcome:
    dead_letters: list[DeadLetter] = field(default_factory=list)
    tally: MessageTally = field(default_factory=MessageTally)
    counted_by_type: Counter[str] = field(default_factory=Counter)
    #: Weeks of one user that passed ``hot_user_events`` events in this batch: (partition origin, week).
    hot_weeks: list[tuple[Any, int]] = field(default_factory=list)


def decode_records(
    records: Sequence[Record],
    *,
    now_ms: int,
    settings: Settings,
    check_key: bool,
) -> list[Decoded]:
    """Decode each record; with ``SFERUM_ID_KEY`` set, person ids come out pseudonymised: this is
    the one place of the worker and replay where they are."""
    future_ms = settings.future_tolerance_ms
    max_bytes = settings.max_event_bytes
    pseudonym = pseudonymizer(settings.id_key_bytes)
    return [
        Decoded(
            record,
            decode(
                record.value,
                now_ms=now_ms,
                future_tolerance_ms=future_ms,
                max_bytes=max_bytes,
                key=record.key,
                check_key=check_key,
                pseudonym=pseudonym,
            ),
        )
        for record in records
    ]


class BatchProcessor:
    """Applies decoded batches to the state; accumulates the rows to write."""

    def __init__(
        self,
        settings: Settings,
        *,
        check_key: bool,
        clock: Callable[[], float] = time.time,
        on_state: Callable[[str, UserState], None] | None = None,
    ) -> None:
        self.settings = settings
        self.policy = Policy(WeekCalendar(settings.timezone), settings.allowed_lateness_ms)
        self._check_key = check_key
        self._clock = clock
        self._on_state = on_state  # told each user's state after a batch changed it
        self._hot = settings.hot_user_events
        self.pending = PendingRows()

    def process(self, records: Sequence[Record], states: StateAccess) -> BatchOutcome:
        """Decode and apply, in order."""
        now_ms = int(self._clock() * 1000)
        decoded = decode_records(records, now_ms=now_ms, settings=self.settings, check_key=self._check_key)
        return self.apply(decoded, states)

    def apply(self, batch: Sequence[Decoded], states: StateAccess) -> BatchOutcome:
        """Apply decoded records in order (each user's in its order); collect rows, dead letters
        and counts."""
        outcome = BatchOutcome()
        tally = outcome.tally
        tally.consumed = len(batch)
        by_user: dict[str, list[tuple[Record, Event]]] = {}
        for item in batch:
            event = item.result
            if isinstance(event, Rejection):
                outcome.dead_letters.append(DeadLetter(item.record, event.reason, event.detail))
                tally.rejected[event.reason] += 1
            elif event.type != "registered" and event.role not in COUNTED_ROLES:
                tally.ignored += 1  # no state needed: nothing counts a student's or parent's activity
            else:
                by_user.setdefault(event.user_id, []).append((item.record, event))

        for user_id, items in by_user.items():
            state = states.load(user_id)
            sizes = self._week_sizes(state) if self._hot else None
            result = apply_user_events(state, [e for _, e in items], self.policy)
            if result.changed:
                states.changed(user_id)
                if self._on_state is not None:
                    self._on_state(user_id, state)
                if sizes is not None:
                    self._note_hot_weeks(state, sizes, items[0][0].origin, outcome)
            self._collect(user_id, state, result)
            if result.changed:
                evict_closed_weeks(state, self.policy)
            for (record, event), what in zip(items, result.outcomes, strict=True):
                if what == COUNTED:
                    tally.counted += 1
                    outcome.counted_by_type[event.type] += 1
                elif what == DUPLICATE:
                    tally.duplicates += 1
                else:  # LATE (an IGNORED event never gets here: filtered above)
                    tally.rejected[LATE] += 1
                    outcome.dead_letters.append(DeadLetter(record, LATE, _late_detail(event, state)))
        return outcome

    @staticmethod
    def _week_sizes(state: UserState) -> dict[int, int]:
        return {week: len(held.ids) for week, held in state.weeks.items()}

    def _note_hot_weeks(self, state: UserState, before: dict[int, int], origin: Any, outcome: BatchOutcome) -> None:
        for week, held in state.weeks.items():
            if before.get(week, 0) < self._hot <= len(held.ids):
                outcome.hot_weeks.append((origin, week))

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
        for event in result.registrations:
            regs[(event.role, event.user_id, event.event_id)] = RegistrationRow(
                event.user_id, event.role, event.registered_by or "self", event.ts, event.event_id
            )

    def take_pending(self) -> PendingRows:
        """The rows changed since the last call, for a write."""
        rows, self.pending = self.pending, PendingRows()
        return rows


def _late_detail(event: Event, state: UserState) -> str:
    lag_h = (state.stream_time - event.ts) // 3_600_000
    return f"event is {lag_h} h older than the user's stream time; its week is closed"
