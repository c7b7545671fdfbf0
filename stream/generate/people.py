"""Who acts in a generated region, compactly: ``array`` and ``bytearray`` columns rather than an
object per person, so that a million teachers and ten million students fit in a few hundred MB.
Built by ``registry.build_region``, read (and the mutable parts advanced) by ``events``."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field


@dataclass
class SchoolPeople:
    school_id: str
    chats: int  # group chats of the school that existed before the period (classes, staff room)
    #: registered students ordered by registration time: time, number in the region, by a parent?
    reg_ts: array[int] = field(default_factory=lambda: array("q"))
    reg_student: array[int] = field(default_factory=lambda: array("i"))
    reg_by_parent: bytearray = field(default_factory=bytearray)
    #: registrations written so far (the students before it may act), and which of them have a
    #: registered parent (positions in the arrays above)
    written: int = 0
    parents: array[int] = field(default_factory=lambda: array("i"))


@dataclass
class StaffAccount:
    """A municipality's own account: acts as ``staff`` with ``user_id`` = the municipality id."""

    user_id: str
    reg_ts: int
    reg_day: int
    active_day: int | None  # the day of its first group chat, if it becomes active
    chats: int = 0  # group chats created so far


@dataclass
class RegionPeople:
    region_id: str
    schools: list[SchoolPeople] = field(default_factory=list)
    #: per teacher (number - 1 in the region): registration time (-1: never), level (rhythm
    #: constants), primary school (index in ``schools``), group chats created so far
    teacher_reg_ts: array[int] = field(default_factory=lambda: array("q"))
    teacher_level: bytearray = field(default_factory=bytearray)
    teacher_school: array[int] = field(default_factory=lambda: array("i"))
    teacher_chats: array[int] = field(default_factory=lambda: array("H"))
    #: day -> teachers (numbers - 1) registering that day
    teacher_regs: dict[int, array[int]] = field(default_factory=dict)
    #: day -> (teacher, group messages) creating their first group chat that day, and writing
    #: that many of the three messages that make them active in it
    first_chats: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    #: day -> teachers writing one more of those three messages (in their own chat) that day
    due_messages: dict[int, array[int]] = field(default_factory=dict)
    #: day -> (ts, role, user_id) registrations of schools, municipalities and staff accounts
    org_regs: dict[int, list[tuple[int, str, str]]] = field(default_factory=dict)
    staff: list[StaffAccount] = field(default_factory=list)

    def teacher_id(self, index: int) -> str:
        return f"t{self.region_id}-{index + 1:06d}"

    def student_id(self, number: int) -> str:
        return f"s{self.region_id}-{number:07d}"

    def parent_id(self, number: int) -> str:
        """The parent who registered student ``number`` (one parent account per such student)."""
        return f"p{self.region_id}-{number:07d}"
