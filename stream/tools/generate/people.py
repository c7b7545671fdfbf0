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
    """An account of a municipality's education authority (staff.csv): acts as ``staff``. The
    authority's group chat (``chat``) exists from ``chat_from_day`` on (None: never)."""

    user_id: str
    chat: str
    reg_ts: int
    reg_day: int
    chat_from_day: int | None = None
    #: this account's part in making its municipality active: on ``first_day`` it creates the
    #: group chat (``creates``) or writes in it, ``first_messages`` group messages
    first_day: int | None = None
    creates: bool = False
    first_messages: int = 0


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
    #: the registered staff accounts (the others never act)
    staff: list[StaffAccount] = field(default_factory=list)
    #: registered teachers who write >= 3 group messages in the last week (b), exactly, when the
    #: plan says so (the seed's region); None: as many as the rhythm makes
    last_week_b: int | None = None

    def teacher_id(self, index: int) -> str:
        return f"t{self.region_id}-{index + 1:06d}"

    def student_id(self, number: int) -> str:
        return f"s{self.region_id}-{number:07d}"

    def staff_id(self, municipality_id: str, number: int) -> str:
        """Account ``number`` (1, 2, ...) of a municipality's education authority."""
        return f"a{municipality_id}-{number}"

    def parent_id(self, number: int) -> str:
        """The parent who registered student ``number`` (one parent account per such student)."""
        return f"p{self.region_id}-{number:07d}"
