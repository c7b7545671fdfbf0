"""The counts a generated region must have, per municipality: what the registry and the events
are built from. A plan says how many schools, teachers and students there are, how many of them
are registered by the end of the generated period and how many are active then."""

from __future__ import annotations

from dataclasses import dataclass

from stream.tools.generate.profiles import Status


@dataclass(frozen=True)
class MunicipalityPlan:
    municipality_id: str
    name: str
    city: bool
    status: Status
    schools: int
    schools_registered: int
    schools_active: int  # registered schools whose teachers created a group chat and wrote 3 messages
    teachers: int  # people, each counted once
    teachers_registered: int
    teachers_active: int
    students: int
    students_registered: int
    #: accounts of the municipality's education authority (staff.csv); its status says which of
    #: them register and whether they become active
    staff: int = 2

    def check(self) -> None:
        """Raise ValueError unless the counts can be realised (see ``registry.build_municipality``)."""
        ok = (
            0 <= self.schools_active <= self.schools_registered <= self.schools
            and 0 <= self.teachers_active <= self.teachers_registered <= self.teachers
            and 0 <= self.students_registered <= self.students
            and 1 <= self.schools <= self.teachers
            # every active teacher teaches in an active school, every active school has one
            and self.schools_active <= self.teachers_active
            and (self.teachers_active == 0 or self.schools_active > 0)
            and self.staff >= 1
        )
        if not ok:
            raise ValueError(f"inconsistent plan for {self.municipality_id} {self.name}: {self}")


@dataclass(frozen=True)
class RegionPlan:
    region_id: str
    name: str
    municipalities: tuple[MunicipalityPlan, ...]
    #: weekly b (teachers with >= 3 group messages in the week) the activity aims at; approximate
    b_share: float
    #: exact figures of the last generated week (the seed's region), else None: the registered
    #: teachers who created a group chat by then (a), and who wrote >= 3 group messages in it (b)
    last_week_a: int | None = None
    last_week_b: int | None = None

    def total(self, field: str) -> int:
        return sum(int(getattr(m, field)) for m in self.municipalities)
