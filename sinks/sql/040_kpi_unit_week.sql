-- The indicators, computed: one row per (week_start, unit_kind, unit_id) for every unit of
-- registry snapshot {snapshot} and every week from the first event's week to the newest event's
-- week that is not before {from_week}. The definitions are in docs/indicators.md. `sferum-kpi`
-- stores the result in kpi_unit_week_data (see 045_kpi_store.sql); kpi_unit_week reads that, so a
-- board's query reads a few stored rows instead of computing history.
-- A week W "ends" at the next Monday 00:00 in {tz}; an event or registration is "by W" when its
-- Monday (in {tz}) is <= W. Registry-less ids never count. Shares are 0 when the denominator is.
-- The thresholds of a, b, c, d and active are placeholders, rendered from sinks/indicators.py.
CREATE OR REPLACE VIEW {db}.kpi_unit_week_compute AS
WITH
first_reg AS (
    SELECT role, user_id, toMonday(min(ts), '{tz}') AS reg_week, argMin(registered_by, ts) AS reg_by
    FROM {db}.registrations FINAL
    GROUP BY role, user_id
),
tw AS (
    SELECT week_start, teacher_id, group_chats_created, group_messages, chat_messages, calls
    FROM {db}.teacher_week FINAL
),
week_list AS (
    SELECT if(
               n = 0,
               CAST([], 'Array(Date)'),
               arrayFilter(
                   w -> w >= {from_week:Date},
                   arrayMap(i -> toDate(w0 + 7 * i), range(toUInt32(dateDiff('day', w0, w1) / 7) + 1))
               )
           ) AS weeks
    FROM (
        SELECT count() AS n, min(w) AS w0, max(w) AS w1
        FROM (
            SELECT week_start AS w FROM tw
            UNION ALL
            SELECT week_start AS w FROM {db}.staff_week
            UNION ALL
            SELECT toMonday(ts, '{tz}') AS w FROM {db}.registrations
        )
    )
),
cur AS (SELECT {snapshot:UInt32} AS s),
schools AS (
    SELECT s.school_id AS school_id, s.municipality_id AS municipality_id, m.region_id AS region_id
    FROM {db}.registry_schools AS s
    INNER JOIN {db}.registry_municipalities AS m ON m.municipality_id = s.municipality_id
    WHERE s.snapshot = (SELECT s FROM cur) AND m.snapshot = (SELECT s FROM cur)
),
units AS (
    SELECT 'region' AS unit_kind, region_id AS unit_id, region_id, '' AS municipality_id, name
    FROM {db}.registry_regions WHERE snapshot = (SELECT s FROM cur)
    UNION ALL
    SELECT 'municipality', municipality_id, region_id, municipality_id, name
    FROM {db}.registry_municipalities WHERE snapshot = (SELECT s FROM cur)
    UNION ALL
    SELECT 'school', s.school_id, m.region_id, s.municipality_id, s.name
    FROM {db}.registry_schools AS s
    INNER JOIN {db}.registry_municipalities AS m ON m.municipality_id = s.municipality_id
    WHERE s.snapshot = (SELECT s FROM cur) AND m.snapshot = (SELECT s FROM cur)
),
unit_weeks AS (
    SELECT unit_kind, unit_id, region_id, municipality_id, name,
           arrayJoin((SELECT weeks FROM week_list)) AS week_start
    FROM units
),
-- each teacher once per unit, even when in two schools of it
unit_teacher AS (
    SELECT DISTINCT u.1 AS unit_kind, u.2 AS unit_id, teacher_id
    FROM (
        SELECT arrayJoin([('school', s.school_id), ('municipality', s.municipality_id), ('region', s.region_id)]) AS u,
               t.teacher_id AS teacher_id
        FROM {db}.registry_teachers AS t
        INNER JOIN schools AS s ON s.school_id = t.school_id
        WHERE t.snapshot = (SELECT s FROM cur)
    )
),
teacher_hist AS (
    SELECT teacher_id,
           groupArray((week_start, group_chats_created, group_messages, chat_messages, calls)) AS h
    FROM tw
    GROUP BY teacher_id
),
teacher_unit_week AS (
    SELECT ut.unit_kind AS unit_kind, ut.unit_id AS unit_id, w AS week_start,
           r.reg_week > toDate(0) AND r.reg_week <= w AS registered,
           arraySum(x -> if(x.1 <= w, x.2, 0), th.h) AS cum_created,
           arraySum(x -> if(x.1 <= w, x.3, 0), th.h) AS cum_group_messages,
           arraySum(x -> if(x.1 = w, x.3, 0), th.h) AS week_group_messages,
           arraySum(x -> if(x.1 = w, x.4, 0), th.h) AS week_chat_messages,
           arraySum(x -> if(x.1 = w, x.5, 0), th.h) AS week_calls
    FROM unit_teacher AS ut
    LEFT JOIN (SELECT user_id, reg_week FROM first_reg WHERE role = 'teacher') AS r ON r.user_id = ut.teacher_id
    LEFT JOIN teacher_hist AS th ON th.teacher_id = ut.teacher_id
    ARRAY JOIN (SELECT weeks FROM week_list) AS w
),
teacher_agg AS (
    SELECT unit_kind, unit_id, week_start,
           count() AS teachers_total,
           countIf(registered) AS teachers_registered,
           countIf(registered AND cum_created >= {a_group_chats}) AS a_teachers,
           countIf(registered AND week_group_messages >= {b_group_messages}) AS b_teachers,
           countIf(registered AND week_chat_messages >= {c_chat_messages}) AS c_teachers,
           countIf(registered AND week_calls >= {d_calls}) AS d_teachers,
           countIf(registered AND cum_created >= {active_group_chats} AND cum_group_messages >= {active_group_messages})
               AS active_teachers,
           -- a school or municipality is active when its registered teachers together reach it
           sumIf(cum_created, registered) >= {active_group_chats}
               AND sumIf(cum_group_messages, registered) >= {active_group_messages} AS together_active
    FROM teacher_unit_week
    GROUP BY unit_kind, unit_id, week_start
),
-- a municipality acts through its staff (registry_staff): the staff registered by W (role staff)
-- together, with all their group activity up to the end of W, whenever it happened
staff_hist AS (
    SELECT user_id, groupArray((week_start, group_chats_created, group_messages)) AS h
    FROM {db}.staff_week FINAL
    GROUP BY user_id
),
staff_week_of AS (
{staff_week_columns}
    FROM {db}.registry_staff AS st
    LEFT JOIN (SELECT user_id, reg_week FROM first_reg WHERE role = 'staff') AS r ON r.user_id = st.staff_id
    LEFT JOIN staff_hist AS sh ON sh.user_id = st.staff_id
    ARRAY JOIN (SELECT weeks FROM week_list) AS w
    WHERE st.snapshot = (SELECT s FROM cur)
),
{staff_agg}
-- a school is active when its registered teachers together reach the thresholds, a municipality
-- when its registered staff together do (the slides: "МО ..., создавшее как минимум 1 чат и
-- написавшее как минимум 3 сообщения": the municipality itself, not its schools' teachers)
org_week AS (
    SELECT uw.unit_kind AS unit_kind, uw.unit_id AS unit_id, uw.region_id AS region_id,
           uw.municipality_id AS municipality_id, uw.week_start AS week_start,
           r.reg_week > toDate(0) AND r.reg_week <= uw.week_start AS registered,
           registered AND if(uw.unit_kind = 'school', ta.together_active, sa.staff_active) AS active,
           sa.staff_total AS staff_total,
           sa.staff_registered AS staff_registered,
           -- the slides' lists of municipalities (staff_not_active: registered, staff registered, not active)
           multiIf(NOT registered, 'absent', staff_registered = 0, 'no_staff_registered', active, 'active',
                   'staff_not_active') AS municipality_list
    FROM unit_weeks AS uw
    LEFT JOIN (SELECT role, user_id, reg_week FROM first_reg WHERE role IN ('school', 'municipality')) AS r
        ON r.role = uw.unit_kind AND r.user_id = uw.unit_id
    LEFT JOIN teacher_agg AS ta
        ON ta.unit_kind = uw.unit_kind AND ta.unit_id = uw.unit_id AND ta.week_start = uw.week_start
    LEFT JOIN staff_agg AS sa
        ON uw.unit_kind = 'municipality' AND sa.municipality_id = uw.unit_id AND sa.week_start = uw.week_start
    WHERE uw.unit_kind IN ('school', 'municipality')
),
school_counts AS (
    SELECT u.1 AS unit_kind, u.2 AS unit_id, week_start,
           count() AS schools_total, countIf(registered) AS schools_registered, countIf(active) AS schools_active
    FROM (
        SELECT arrayJoin([('municipality', municipality_id), ('region', region_id)]) AS u, week_start, registered, active
        FROM org_week WHERE unit_kind = 'school'
    )
    GROUP BY unit_kind, unit_id, week_start
),
municipality_counts AS (
    SELECT region_id AS unit_id, week_start,
           count() AS municipalities_total, countIf(registered) AS municipalities_registered,
           countIf(active) AS municipalities_active,
           countIf(municipality_list = 'no_staff_registered') AS municipalities_no_staff_registered,
           sum(staff_total) AS staff_total, sum(staff_registered) AS staff_registered
    FROM org_week WHERE unit_kind = 'municipality'
    GROUP BY region_id, week_start
),
-- students: counted per school and registration week first, so nothing scales with students x weeks
student_reg AS (
    SELECT st.school_id AS school_id, r.reg_week AS reg_week, r.reg_by AS reg_by, count() AS n
    FROM {db}.registry_students AS st
    LEFT JOIN (SELECT user_id, reg_week, reg_by FROM first_reg WHERE role = 'student') AS r ON r.user_id = st.student_id
    WHERE st.snapshot = (SELECT s FROM cur)
    GROUP BY school_id, reg_week, reg_by
),
student_counts AS (
    SELECT u.1 AS unit_kind, u.2 AS unit_id, w AS week_start,
           sum(n) AS students_total,
           sumIf(n, reg_week > toDate(0) AND reg_week <= w) AS students_registered,
           sumIf(n, reg_week > toDate(0) AND reg_week <= w AND reg_by = 'parent') AS students_registered_by_parent
    FROM (
        SELECT arrayJoin([('school', sr.school_id), ('municipality', s.municipality_id), ('region', s.region_id)]) AS u,
               sr.reg_week AS reg_week, sr.reg_by AS reg_by, sr.n AS n
        FROM student_reg AS sr INNER JOIN schools AS s ON s.school_id = sr.school_id
    )
    ARRAY JOIN (SELECT weeks FROM week_list) AS w
    GROUP BY unit_kind, unit_id, week_start
)
SELECT
    uw.week_start AS week_start,
    uw.unit_kind AS unit_kind,
    uw.unit_id AS unit_id,
    uw.name AS unit_name,
    uw.region_id AS region_id,
    uw.municipality_id AS municipality_id,
{teacher_counts}
{teacher_shares}
    if(uw.unit_kind = 'school', NULL, sc.schools_total) AS schools_total,
    if(uw.unit_kind = 'school', NULL, sc.schools_registered) AS schools_registered,
    if(uw.unit_kind = 'school', NULL, sc.schools_active) AS schools_active,
    if(uw.unit_kind = 'school', NULL, if(sc.schools_total = 0, 0., sc.schools_registered / sc.schools_total))
        AS schools_registered_share,
    if(uw.unit_kind = 'school', NULL, if(sc.schools_registered = 0, 0., sc.schools_active / sc.schools_registered))
        AS schools_active_share,
    if(uw.unit_kind = 'region', mc.municipalities_total, NULL) AS municipalities_total,
    if(uw.unit_kind = 'region', mc.municipalities_registered, NULL) AS municipalities_registered,
    if(uw.unit_kind = 'region', mc.municipalities_active, NULL) AS municipalities_active,
    if(uw.unit_kind = 'region',
       if(mc.municipalities_total = 0, 0., mc.municipalities_registered / mc.municipalities_total), NULL)
        AS municipalities_registered_share,
    if(uw.unit_kind = 'region',
       if(mc.municipalities_registered = 0, 0., mc.municipalities_active / mc.municipalities_registered), NULL)
        AS municipalities_active_share,
    if(uw.unit_kind = 'region', mc.municipalities_no_staff_registered, NULL) AS municipalities_no_staff_registered,
    -- the staff of the municipality, or of the region's municipalities (NULL on school rows)
    multiIf(uw.unit_kind = 'region', mc.staff_total, uw.unit_kind = 'municipality', ow.staff_total, NULL)
        AS municipality_staff_total,
    multiIf(uw.unit_kind = 'region', mc.staff_registered, uw.unit_kind = 'municipality', ow.staff_registered, NULL)
        AS municipality_staff_registered,
    stc.students_total AS students_total,
    stc.students_registered AS students_registered,
    stc.students_registered_by_parent AS students_registered_by_parent,
    if(stc.students_total = 0, 0., stc.students_registered / stc.students_total) AS students_registered_share,
    -- the school or municipality itself (NULL on region rows): registered by W, and active
    if(uw.unit_kind = 'region', NULL, ow.registered) AS unit_registered,
    if(uw.unit_kind = 'region', NULL, ow.active) AS unit_active,
    if(uw.unit_kind = 'municipality', ow.municipality_list, NULL) AS municipality_list
FROM unit_weeks AS uw
LEFT JOIN teacher_agg AS ta
    ON ta.unit_kind = uw.unit_kind AND ta.unit_id = uw.unit_id AND ta.week_start = uw.week_start
LEFT JOIN school_counts AS sc
    ON sc.unit_kind = uw.unit_kind AND sc.unit_id = uw.unit_id AND sc.week_start = uw.week_start
LEFT JOIN municipality_counts AS mc
    ON uw.unit_kind = 'region' AND mc.unit_id = uw.unit_id AND mc.week_start = uw.week_start
LEFT JOIN student_counts AS stc
    ON stc.unit_kind = uw.unit_kind AND stc.unit_id = uw.unit_id AND stc.week_start = uw.week_start
LEFT JOIN org_week AS ow
    ON ow.unit_kind = uw.unit_kind AND ow.unit_id = uw.unit_id AND ow.week_start = uw.week_start;
