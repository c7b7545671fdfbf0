"""SQL that the full refresh (``040_kpi_unit_week.sql``) and the incremental one
(``046_kpi_changes.sql``) share, written here once. ``schema_statements`` puts each in place of its
placeholder (a line of its own in the files) before it renders the other placeholders, some of
which these hold (``{active_group_chats}`` …). The module imports nothing of the project."""

from __future__ import annotations

from typing import Final

#: A unit-week's teacher counts, from its teacher aggregate ``ta``: the columns of
#: ``kpi_unit_week`` from ``teachers_total`` to ``active_teachers``.
TEACHER_COUNTS: Final = """\
    ta.teachers_total AS teachers_total,
    ta.teachers_registered AS teachers_registered,
    ta.a_teachers AS a_teachers,
    ta.b_teachers AS b_teachers,
    ta.c_teachers AS c_teachers,
    ta.d_teachers AS d_teachers,
    ta.active_teachers AS active_teachers,"""

#: The shares made of those counts (0 when the denominator is): the columns of ``kpi_unit_week``
#: from ``teachers_registered_share`` to ``active_share_of_total``.
TEACHER_SHARES: Final = """\
    if(teachers_total = 0, 0., teachers_registered / teachers_total) AS teachers_registered_share,
    if(teachers_registered = 0, 0., a_teachers / teachers_registered) AS a_share,
    if(teachers_registered = 0, 0., b_teachers / teachers_registered) AS b_share,
    if(teachers_registered = 0, 0., c_teachers / teachers_registered) AS c_share,
    if(teachers_registered = 0, 0., d_teachers / teachers_registered) AS d_share,
    if(teachers_registered = 0, 0., active_teachers / teachers_registered) AS active_share,
    -- the slides' level list of teachers: the active ones of all the unit's registry teachers
    if(teachers_total = 0, 0., active_teachers / teachers_total) AS active_share_of_total,"""

#: Per municipality staff member ``st`` (``registry_staff``) and week ``w``: registered by the end
#: of ``w`` (its registration week ``r.reg_week``), and its group chats created and group-chat
#: messages written up to then (``sh.h``: its ``staff_week`` rows as (week, chats, messages)).
STAFF_WEEK_COLUMNS: Final = """\
    SELECT st.municipality_id AS municipality_id, w AS week_start,
           r.reg_week > toDate(0) AND r.reg_week <= w AS registered,
           arraySum(x -> if(x.1 <= w, x.2, 0), sh.h) AS cum_created,
           arraySum(x -> if(x.1 <= w, x.3, 0), sh.h) AS cum_group_messages"""

#: A municipality is active in a week when its registered staff together reach the active
#: thresholds with all their group activity up to the end of the week.
STAFF_AGG: Final = """\
staff_agg AS (
    SELECT municipality_id, week_start,
           count() AS staff_total,
           countIf(registered) AS staff_registered,
           sumIf(cum_created, registered) >= {active_group_chats}
               AND sumIf(cum_group_messages, registered) >= {active_group_messages} AS staff_active
    FROM staff_week_of
    GROUP BY municipality_id, week_start
),"""


def shared_sql() -> dict[str, str]:
    """``{name}`` -> its SQL, as the ``sinks/sql`` files are rendered with."""
    return {
        "{teacher_counts}": TEACHER_COUNTS,
        "{teacher_shares}": TEACHER_SHARES,
        "{staff_week_columns}": STAFF_WEEK_COLUMNS,
        "{staff_agg}": STAFF_AGG,
    }
