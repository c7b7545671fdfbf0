-- The incremental refresh of the stored indicators (kpi_unit_week_data): after a flush, only the
-- units that the changed users touch are computed again, each from the earliest week one of its
-- users changed; every other stored row is already what kpi_unit_week_compute would give. The
-- steps (sinks/kpi_changes.py runs them, for one refresh id):
--   1. the changed users go into kpi_refresh_changes: (role, user_id, earliest week changed),
--   2. kpi_teacher_status_changed brings the changed teachers' status up to date,
--   3. kpi_changed_units lists the units they touch into kpi_refresh_units,
--   4. kpi_unit_week_changed_schools computes the rows of the touched schools,
--   5. kpi_unit_week_changed_areas computes the touched municipalities and regions, from the stored
--      school rows (step 4 wrote the changed ones) and the staff and registrations of their own.
-- Each step is a function of the base tables and of stored rows that are exact, so a failed
-- refresh is simply run again. The refresh requires every week of the data to be stored; when the
-- data has a week that is not (a new newest week), sferum-kpi computes that week for every unit
-- (kpi_unit_week_compute) first.

-- The week span of the data, as kpi_unit_week_compute lists its weeks: from the first event's
-- week to the newest (rows = 0: no data yet).
CREATE OR REPLACE VIEW {db}.kpi_week_span AS
SELECT min(w0) AS first_week, max(w1) AS last_week, sum(n) AS rows
FROM (
    SELECT min(week_start) AS w0, max(week_start) AS w1, count() AS n FROM {db}.teacher_week HAVING n > 0
    UNION ALL
    SELECT min(week_start), max(week_start), count() AS n FROM {db}.staff_week HAVING n > 0
    UNION ALL
    SELECT toMonday(min(ts), '{tz}'), toMonday(max(ts), '{tz}'), count() AS n FROM {db}.registrations HAVING n > 0
);

-- One refresh's changed users and the units they touch. Each refresh has its own id (a partition,
-- dropped when it ends); the TTL removes what a refresh that died could not drop.
CREATE TABLE IF NOT EXISTS {db}.kpi_refresh_changes
(
    refresh   UInt64 COMMENT 'the refresh these rows are for',
    role      LowCardinality(String) COMMENT 'teacher, staff, student, school, municipality; other roles touch no unit',
    user_id   String COMMENT 'the user, or the school or municipality registered',
    from_week Date COMMENT 'the earliest week of this user that changed',
    noted_at  DateTime DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY refresh
ORDER BY (role, user_id)
TTL noted_at + INTERVAL 1 DAY;

CREATE TABLE IF NOT EXISTS {db}.kpi_refresh_units
(
    refresh          UInt64,
    unit_kind        LowCardinality(String) COMMENT 'region, municipality or school',
    unit_id          String,
    from_week        Date COMMENT 'the earliest week changed: its rows from this week on are computed again',
    students_changed UInt8 COMMENT 'a student of the unit changed (schools: their student counts are computed again)',
    noted_at         DateTime DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY refresh
ORDER BY (unit_kind, unit_id)
TTL noted_at + INTERVAL 1 DAY;

-- Per teacher, the weeks that decide its cumulative indicators: its registration, and the first
-- week by whose end it had created a group chat, and had written 1, 2 and 3 group-chat messages
-- (1970-01-01: not yet). With them a refresh needs a teacher's rows of the weeks it computes only,
-- never its whole history: by the end of W it has created a group chat when chat_week <= W, and it
-- has written min(3, its group-chat messages up to W) = the number of message weeks <= W (as a
-- school is active when its teachers together have >= 1 chat and >= 3 messages, counting each
-- teacher's up to 3 gives the same answer). A function of teacher_week and registrations only:
-- `refresh_kpi` computes it for every teacher, step 2 for the changed ones. The thresholds of a and
-- active (sinks/indicators.py) may not be more than this records: 1 group chat, 3 messages.
CREATE TABLE IF NOT EXISTS {db}.kpi_teacher_status
(
    teacher_id    String,
    reg_week      Date COMMENT 'the week of its earliest registered event with role teacher',
    chat_week     Date COMMENT 'the first week by whose end it had created a group chat',
    message1_week Date COMMENT 'the first week by whose end it had written 1 group-chat message',
    message2_week Date COMMENT '... 2 group-chat messages',
    message3_week Date COMMENT '... 3 group-chat messages',
    updated_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY teacher_id;

-- Step 2: the status of the teachers among the changes, each from its from_week: before it nothing
-- of the teacher changed, so the weeks its status had reached before it stand, and from it on they
-- are found from what it had reached before (at most 1 chat, 3 messages) and its rows and
-- registrations of that week and later. Running it again gives the same status.
CREATE OR REPLACE VIEW {db}.kpi_teacher_status_changed AS
WITH
changed AS (
    SELECT user_id AS teacher_id, min(from_week) AS from_week
    FROM {db}.kpi_refresh_changes
    WHERE refresh = {refresh:UInt64} AND role = 'teacher'
    GROUP BY user_id
),
teachers AS (
    SELECT c.teacher_id AS teacher_id, c.from_week AS f,
           o.reg_week AS old_reg, o.chat_week AS old_chat,
           o.message1_week AS old_m1, o.message2_week AS old_m2, o.message3_week AS old_m3,
           r.reg_week AS recent_reg,
           arrayFilter(x -> x.1 >= f, h.rows) AS rows,
           old_chat > toDate(0) AND old_chat < f AS chat_before,
           (old_m1 > toDate(0) AND old_m1 < f) + (old_m2 > toDate(0) AND old_m2 < f)
               + (old_m3 > toDate(0) AND old_m3 < f) AS messages_before,
           arrayCumSum(arrayMap(x -> x.2, rows)) AS chats,
           arrayCumSum(arrayMap(x -> x.3, rows)) AS messages
    FROM changed AS c
    -- the newest version of each row, by argMax: with FINAL every granule of the table is read
    LEFT JOIN (
        SELECT teacher_id, s.1 AS reg_week, s.2 AS chat_week, s.3 AS message1_week, s.4 AS message2_week,
               s.5 AS message3_week
        FROM (
            SELECT teacher_id,
                   argMax((reg_week, chat_week, message1_week, message2_week, message3_week), updated_at) AS s
            FROM {db}.kpi_teacher_status
            WHERE teacher_id IN (SELECT teacher_id FROM changed)
            GROUP BY teacher_id
        )
    ) AS o ON o.teacher_id = c.teacher_id
    LEFT JOIN (
        SELECT teacher_id, arraySort(groupArray((week_start, r.1, r.2))) AS rows
        FROM (
            SELECT teacher_id, week_start, argMax((group_chats_created, group_messages), version) AS r
            FROM {db}.teacher_week
            WHERE week_start >= (SELECT min(from_week) FROM changed) AND teacher_id IN (SELECT teacher_id FROM changed)
            GROUP BY teacher_id, week_start
        )
        GROUP BY teacher_id
    ) AS h ON h.teacher_id = c.teacher_id
    -- registrations (duplicated rows of one event change no minimum: no FINAL)
    LEFT JOIN (
        SELECT user_id, toMonday(min(ts), '{tz}') AS reg_week
        FROM {db}.registrations
        WHERE role = 'teacher' AND ts >= toDateTime((SELECT min(from_week) FROM changed), '{tz}')
          AND user_id IN (SELECT teacher_id FROM changed)
        GROUP BY user_id
    ) AS r ON r.user_id = c.teacher_id
)
SELECT
    teacher_id,
    if(old_reg > toDate(0) AND old_reg < f, old_reg, recent_reg) AS reg_week,
    if(chat_before, old_chat,
       if(arrayFirstIndex(n -> n >= 1, chats) = 0, toDate(0), rows[arrayFirstIndex(n -> n >= 1, chats)].1)) AS chat_week,
    if(messages_before >= 1, old_m1,
       if(arrayFirstIndex(n -> n >= 1 - messages_before, messages) = 0, toDate(0),
          rows[arrayFirstIndex(n -> n >= 1 - messages_before, messages)].1)) AS message1_week,
    if(messages_before >= 2, old_m2,
       if(arrayFirstIndex(n -> n >= 2 - messages_before, messages) = 0, toDate(0),
          rows[arrayFirstIndex(n -> n >= 2 - messages_before, messages)].1)) AS message2_week,
    if(messages_before >= 3, old_m3,
       if(arrayFirstIndex(n -> n >= 3 - messages_before, messages) = 0, toDate(0),
          rows[arrayFirstIndex(n -> n >= 3 - messages_before, messages)].1)) AS message3_week
FROM teachers;

-- Per registry student with a registration (role student), the week of its earliest one and
-- whether a parent made it: what a school's student counts are made of. A function of the
-- registry snapshot and of registrations: every full refresh of a snapshot computes it
-- (kpi_student_status_compute), step 2 the changed students' anew (kpi_student_status_changed).
-- Ordered by school, so that step 4 reads only the students of the schools it computes.
CREATE TABLE IF NOT EXISTS {db}.kpi_student_status
(
    snapshot   UInt32,
    school_id  String,
    student_id String,
    reg_week   Date COMMENT 'the week of its earliest registration with role student',
    by_parent  UInt8 COMMENT 'that registration was made by a parent (registered_by = parent)',
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY snapshot
ORDER BY (school_id, student_id)
-- small granules: a refresh reads the students of a few hundred of the country's 50,000 schools
SETTINGS index_granularity = 256;

CREATE OR REPLACE VIEW {db}.kpi_student_status_compute AS
SELECT st.school_id AS school_id, st.student_id AS student_id, r.reg_week AS reg_week,
       r.reg_by = 'parent' AS by_parent, now64(3) AS updated_at
FROM {db}.registry_students AS st
INNER JOIN (
    SELECT user_id, toMonday(min(ts), '{tz}') AS reg_week, argMin(registered_by, ts) AS reg_by
    FROM {db}.registrations
    WHERE role = 'student'
    GROUP BY user_id
) AS r ON r.user_id = st.student_id
WHERE st.snapshot = {snapshot:UInt32};

-- Per registry snapshot, each student's school, ordered by student: the changed students' schools
-- are found by the key (registry_students is ordered by school, and has about ten students per
-- teacher). A function of the registry only: built once per snapshot (sinks/kpi_status.py).
CREATE TABLE IF NOT EXISTS {db}.kpi_student_school
(
    snapshot   UInt32,
    student_id String,
    school_id  String
)
ENGINE = MergeTree
PARTITION BY snapshot
ORDER BY student_id
-- small granules: a refresh looks up a few hundred of millions of students
SETTINGS index_granularity = 256;

CREATE OR REPLACE VIEW {db}.kpi_student_school_compute AS
SELECT student_id, school_id FROM {db}.registry_students WHERE snapshot = {snapshot:UInt32};

CREATE OR REPLACE VIEW {db}.kpi_student_status_changed AS
WITH changed AS (
    SELECT DISTINCT user_id FROM {db}.kpi_refresh_changes WHERE refresh = {refresh:UInt64} AND role = 'student'
)
SELECT st.school_id AS school_id, st.student_id AS student_id, r.reg_week AS reg_week, r.reg_by = 'parent' AS by_parent
FROM (
    SELECT student_id, school_id FROM {db}.kpi_student_school
    WHERE snapshot = {snapshot:UInt32} AND student_id IN (SELECT user_id FROM changed)
) AS st
INNER JOIN (
    SELECT user_id, toMonday(min(ts), '{tz}') AS reg_week, argMin(registered_by, ts) AS reg_by
    FROM {db}.registrations
    WHERE role = 'student' AND user_id IN (SELECT user_id FROM changed)
    GROUP BY user_id
) AS r ON r.user_id = st.student_id;

-- Step 3: the units a change touches (docs/indicators.md, "Keeping the indicators current"):
-- a teacher: its schools, their municipalities and regions; a student: its school, municipality,
-- region; a school's own registration: the school, its municipality and region; a staff user: its
-- municipality and region; a municipality's own registration: it and its region. Users missing
-- from the registry touch nothing. Changes of a week {before} or later are left out (every unit was
-- computed from it).
CREATE OR REPLACE VIEW {db}.kpi_changed_units AS
WITH
changed AS (
    SELECT role, user_id, min(from_week) AS from_week
    FROM {db}.kpi_refresh_changes
    WHERE refresh = {refresh:UInt64}
    GROUP BY role, user_id
    HAVING from_week < {before:Date}
),
school_touch AS (
    SELECT t.school_id AS school_id, c.from_week AS from_week, toUInt8(0) AS student
    FROM {db}.registry_teachers AS t
    INNER JOIN (SELECT user_id, from_week FROM changed WHERE role = 'teacher') AS c ON c.user_id = t.teacher_id
    WHERE t.snapshot = {snapshot:UInt32}
    UNION ALL
    SELECT st.school_id, c.from_week, toUInt8(1)
    FROM (
        SELECT student_id, school_id FROM {db}.kpi_student_school
        WHERE snapshot = {snapshot:UInt32} AND student_id IN (SELECT user_id FROM changed WHERE role = 'student')
    ) AS st
    INNER JOIN (SELECT user_id, from_week FROM changed WHERE role = 'student') AS c ON c.user_id = st.student_id
    UNION ALL
    SELECT user_id, from_week, toUInt8(0) FROM changed WHERE role = 'school'
),
municipality_touch AS (
    SELECT sf.municipality_id AS municipality_id, c.from_week AS from_week
    FROM {db}.registry_staff AS sf
    INNER JOIN (SELECT user_id, from_week FROM changed WHERE role = 'staff') AS c ON c.user_id = sf.staff_id
    WHERE sf.snapshot = {snapshot:UInt32}
    UNION ALL
    SELECT user_id, from_week FROM changed WHERE role = 'municipality'
),
touched AS (
    SELECT arrayJoin([('school', s.school_id), ('municipality', s.municipality_id), ('region', m.region_id)]) AS unit,
           t.from_week AS from_week, t.student AS student
    FROM school_touch AS t
    INNER JOIN {db}.registry_schools AS s ON s.school_id = t.school_id
    INNER JOIN {db}.registry_municipalities AS m ON m.municipality_id = s.municipality_id
    WHERE s.snapshot = {snapshot:UInt32} AND m.snapshot = {snapshot:UInt32}
    UNION ALL
    SELECT arrayJoin([('municipality', m.municipality_id), ('region', m.region_id)]), t.from_week, toUInt8(0)
    FROM municipality_touch AS t
    INNER JOIN {db}.registry_municipalities AS m ON m.municipality_id = t.municipality_id
    WHERE m.snapshot = {snapshot:UInt32}
)
SELECT unit.1 AS unit_kind, unit.2 AS unit_id, min(from_week) AS from_week, max(student) AS students_changed
FROM touched
GROUP BY unit_kind, unit_id;

-- Step 4: the rows of the touched schools, for the weeks from {first_week} to {last_week} that are
-- not before the school's from_week, as kpi_unit_week_compute computes them. Every teacher of
-- these schools is read again. Their students only where a student of the school changed (the
-- other schools' student counts depend on nothing that changed), from kpi_student_status (step 2
-- brought the changed students' status up to date): a school's registered students of week W are
-- its students whose earliest registration is in W or earlier.
CREATE OR REPLACE VIEW {db}.kpi_unit_week_changed_schools AS
WITH
arrayMap(i -> toDate({first_week:Date} + 7 * i),
         range(toUInt32(dateDiff('day', {first_week:Date}, {last_week:Date}) / 7) + 1)) AS weeks,
changed AS (
    SELECT unit_id AS school_id, from_week, students_changed
    FROM {db}.kpi_refresh_units
    WHERE refresh = {refresh:UInt64} AND unit_kind = 'school'
),
school_weeks AS (
    SELECT s.school_id AS school_id, s.name AS name, s.municipality_id AS municipality_id, m.region_id AS region_id,
           c.from_week AS from_week, c.students_changed AS students_changed,
           arrayJoin(arrayFilter(w -> w >= c.from_week, weeks)) AS week_start
    FROM {db}.registry_schools AS s
    INNER JOIN {db}.registry_municipalities AS m ON m.municipality_id = s.municipality_id
    INNER JOIN changed AS c ON c.school_id = s.school_id
    WHERE s.snapshot = {snapshot:UInt32} AND m.snapshot = {snapshot:UInt32}
),
school_teacher AS (
    SELECT t.school_id AS school_id, t.teacher_id AS teacher_id, c.from_week AS from_week
    FROM {db}.registry_teachers AS t
    INNER JOIN changed AS c ON c.school_id = t.school_id
    WHERE t.snapshot = {snapshot:UInt32}
),
-- every teacher of the touched schools: its status, and its rows of the weeks computed again
school_teacher_status AS (
    SELECT teacher_id, reg_week, chat_week, message1_week, message2_week, message3_week
    FROM {db}.kpi_teacher_status FINAL
    WHERE teacher_id IN (
        SELECT teacher_id FROM {db}.registry_teachers
        WHERE snapshot = {snapshot:UInt32} AND school_id IN (SELECT school_id FROM changed)
    )
),
school_teacher_rows AS (
    SELECT teacher_id, week_start, group_messages, chat_messages, calls
    FROM {db}.teacher_week FINAL
    WHERE week_start >= (SELECT min(from_week) FROM changed)
      AND teacher_id IN (
          SELECT teacher_id FROM {db}.registry_teachers
          WHERE snapshot = {snapshot:UInt32} AND school_id IN (SELECT school_id FROM changed)
      )
),
teacher_school_week AS (
    SELECT st.school_id AS school_id, st.teacher_id AS teacher_id, w AS week_start,
           s.reg_week > toDate(0) AND s.reg_week <= w AS registered,
           s.chat_week > toDate(0) AND s.chat_week <= w AS chat,
           (s.message1_week > toDate(0) AND s.message1_week <= w) + (s.message2_week > toDate(0) AND s.message2_week <= w)
               + (s.message3_week > toDate(0) AND s.message3_week <= w) AS messages
    FROM school_teacher AS st
    LEFT JOIN school_teacher_status AS s ON s.teacher_id = st.teacher_id
    ARRAY JOIN arrayFilter(x -> x >= st.from_week, weeks) AS w
),
teacher_agg AS (
    SELECT t.school_id AS school_id, t.week_start AS week_start,
           count() AS teachers_total,
           countIf(registered) AS teachers_registered,
           countIf(registered AND chat) AS a_teachers,
           countIf(registered AND r.group_messages >= {b_group_messages}) AS b_teachers,
           countIf(registered AND r.chat_messages >= {c_chat_messages}) AS c_teachers,
           countIf(registered AND r.calls >= {d_calls}) AS d_teachers,
           countIf(registered AND chat AND messages >= {active_group_messages}) AS active_teachers,
           sumIf(chat, registered) >= {active_group_chats}
               AND sumIf(messages, registered) >= {active_group_messages} AS together_active
    FROM teacher_school_week AS t
    LEFT JOIN school_teacher_rows AS r ON r.teacher_id = t.teacher_id AND r.week_start = t.week_start
    GROUP BY school_id, week_start
),
school_reg AS (
    SELECT user_id, toMonday(min(ts), '{tz}') AS reg_week
    FROM {db}.registrations
    WHERE role = 'school' AND user_id IN (SELECT school_id FROM changed)
    GROUP BY user_id
),
stored_students AS (
    SELECT unit_id AS school_id, week_start, students_total, students_registered, students_registered_by_parent
    FROM {db}.kpi_unit_week_data FINAL
    WHERE snapshot = {snapshot:UInt32} AND unit_kind = 'school'
      AND week_start >= (SELECT min(from_week) FROM changed)
      AND unit_id IN (SELECT school_id FROM changed)
),
-- (counted per registration week first: a school's students are many, its weeks few)
student_counts AS (
    SELECT school_id, w AS week_start,
           sumIf(n, reg_week > toDate(0) AND reg_week <= w) AS registered,
           sumIf(n, reg_week > toDate(0) AND reg_week <= w AND by_parent) AS registered_by_parent
    FROM (
        SELECT school_id, reg_week, by_parent, count() AS n
        FROM {db}.kpi_student_status FINAL
        WHERE snapshot = {snapshot:UInt32} AND school_id IN (SELECT school_id FROM changed WHERE students_changed)
        GROUP BY school_id, reg_week, by_parent
    )
    ARRAY JOIN weeks AS w
    GROUP BY school_id, week_start
)
SELECT
    sw.week_start AS week_start,
    'school' AS unit_kind,
    sw.school_id AS unit_id,
    sw.name AS unit_name,
    sw.region_id AS region_id,
    sw.municipality_id AS municipality_id,
{teacher_counts}
{teacher_shares}
    NULL AS schools_total,
    NULL AS schools_registered,
    NULL AS schools_active,
    NULL AS schools_registered_share,
    NULL AS schools_active_share,
    NULL AS municipalities_total,
    NULL AS municipalities_registered,
    NULL AS municipalities_active,
    NULL AS municipalities_registered_share,
    NULL AS municipalities_active_share,
    NULL AS municipalities_no_staff_registered,
    NULL AS municipality_staff_total,
    NULL AS municipality_staff_registered,
    ss.students_total AS students_total,
    if(sw.students_changed, sc.registered, ss.students_registered) AS students_registered,
    if(sw.students_changed, sc.registered_by_parent, ss.students_registered_by_parent) AS students_registered_by_parent,
    if(students_total = 0, 0., students_registered / students_total) AS students_registered_share,
    r.reg_week > toDate(0) AND r.reg_week <= sw.week_start AS unit_registered,
    unit_registered AND ta.together_active AS unit_active,
    NULL AS municipality_list
FROM school_weeks AS sw
LEFT JOIN teacher_agg AS ta ON ta.school_id = sw.school_id AND ta.week_start = sw.week_start
LEFT JOIN school_reg AS r ON r.user_id = sw.school_id
LEFT JOIN stored_students AS ss ON ss.school_id = sw.school_id AND ss.week_start = sw.week_start
LEFT JOIN student_counts AS sc ON sc.school_id = sw.school_id AND sc.week_start = sw.week_start;

-- Per area (municipality, region) of a registry snapshot, the teachers of several of its schools,
-- and their number of schools there less one: what the sums of an area's school rows count too
-- many (step 5). A function of the registry only; every full refresh of a snapshot computes it
-- again (kpi_area_multi_teachers_compute), and the worker's first refresh is a full one.
CREATE TABLE IF NOT EXISTS {db}.kpi_area_multi_teachers
(
    snapshot   UInt32,
    unit_kind  LowCardinality(String) COMMENT 'municipality or region',
    unit_id    String,
    teacher_id String,
    extra      UInt32 COMMENT 'the teacher''s schools in the area less one (>= 1)'
)
ENGINE = MergeTree
PARTITION BY snapshot
ORDER BY (unit_kind, unit_id, teacher_id);

CREATE OR REPLACE VIEW {db}.kpi_area_multi_teachers_compute AS
SELECT area.1 AS unit_kind, area.2 AS unit_id, teacher_id, toUInt32(count() - 1) AS extra
FROM (
    SELECT arrayJoin([('municipality', s.municipality_id), ('region', m.region_id)]) AS area,
           t.teacher_id AS teacher_id
    FROM (
        SELECT teacher_id, school_id
        FROM {db}.registry_teachers
        WHERE snapshot = {snapshot:UInt32} AND teacher_id IN (
            SELECT teacher_id FROM {db}.registry_teachers WHERE snapshot = {snapshot:UInt32}
            GROUP BY teacher_id HAVING count() > 1
        )
    ) AS t
    INNER JOIN {db}.registry_schools AS s ON s.school_id = t.school_id
    INNER JOIN {db}.registry_municipalities AS m ON m.municipality_id = s.municipality_id
    WHERE s.snapshot = {snapshot:UInt32} AND m.snapshot = {snapshot:UInt32}
)
GROUP BY unit_kind, unit_id, teacher_id
HAVING extra > 0;

-- Step 5: the rows of the touched municipalities and regions, for the weeks not before their
-- from_week. Their teacher, school and student figures are sums of their schools' stored rows, as
-- every school belongs to one municipality and every student to one school, except that a teacher
-- of several schools of one area counts once in it: the sums are less, for each such teacher, its
-- number of schools in the area minus one, times each of its own figures. The municipalities'
-- own registration and staff (and so the region's municipality figures) are computed as in
-- kpi_unit_week_compute, for every municipality of a touched region.
CREATE OR REPLACE VIEW {db}.kpi_unit_week_changed_areas AS
WITH
arrayMap(i -> toDate({first_week:Date} + 7 * i),
         range(toUInt32(dateDiff('day', {first_week:Date}, {last_week:Date}) / 7) + 1)) AS weeks,
changed AS (
    SELECT unit_kind, unit_id, from_week
    FROM {db}.kpi_refresh_units
    WHERE refresh = {refresh:UInt64} AND unit_kind IN ('municipality', 'region')
),
area_weeks AS (
    SELECT unit_kind, unit_id, name, region_id, municipality_id, arrayJoin(arrayFilter(w -> w >= from_week, weeks)) AS week_start
    FROM (
        SELECT 'region' AS unit_kind, r.region_id AS unit_id, r.name AS name, r.region_id AS region_id,
               '' AS municipality_id, c.from_week AS from_week
        FROM {db}.registry_regions AS r
        INNER JOIN (SELECT unit_id, from_week FROM changed WHERE unit_kind = 'region') AS c ON c.unit_id = r.region_id
        WHERE r.snapshot = {snapshot:UInt32}
        UNION ALL
        SELECT 'municipality', m.municipality_id, m.name, m.region_id, m.municipality_id, c.from_week
        FROM {db}.registry_municipalities AS m
        INNER JOIN (SELECT unit_id, from_week FROM changed WHERE unit_kind = 'municipality') AS c
            ON c.unit_id = m.municipality_id
        WHERE m.snapshot = {snapshot:UInt32}
    )
),
school_sums AS (
    SELECT area.1 AS unit_kind, area.2 AS unit_id, week_start,
           sum(teachers_total) AS teachers_total,
           sum(teachers_registered) AS teachers_registered,
           sum(a_teachers) AS a_teachers,
           sum(b_teachers) AS b_teachers,
           sum(c_teachers) AS c_teachers,
           sum(d_teachers) AS d_teachers,
           sum(active_teachers) AS active_teachers,
           count() AS schools_total,
           sum(assumeNotNull(unit_registered)) AS schools_registered,
           sum(assumeNotNull(unit_active)) AS schools_active,
           sum(students_total) AS students_total,
           sum(students_registered) AS students_registered,
           sum(students_registered_by_parent) AS students_registered_by_parent
    FROM (
        SELECT arrayJoin([('municipality', municipality_id), ('region', region_id)]) AS area, week_start,
               teachers_total, teachers_registered, a_teachers, b_teachers, c_teachers, d_teachers, active_teachers,
               unit_registered, unit_active, students_total, students_registered, students_registered_by_parent
        FROM {db}.kpi_unit_week_data FINAL
        WHERE snapshot = {snapshot:UInt32} AND unit_kind = 'school'
          AND week_start >= (SELECT min(from_week) FROM changed)
    )
    WHERE (area.1, area.2) IN (SELECT unit_kind, unit_id FROM changed)
    GROUP BY unit_kind, unit_id, week_start
),
-- (area, teacher, its schools in the area - 1) for the teachers of several schools of a touched area
multi AS (
    SELECT unit_kind, unit_id, teacher_id, extra
    FROM {db}.kpi_area_multi_teachers
    WHERE snapshot = {snapshot:UInt32} AND (unit_kind, unit_id) IN (SELECT unit_kind, unit_id FROM changed)
),
multi_week AS (
    SELECT mt.unit_kind AS unit_kind, mt.unit_id AS unit_id, mt.teacher_id AS teacher_id, mt.extra AS extra,
           w AS week_start,
           s.reg_week > toDate(0) AND s.reg_week <= w AS registered,
           s.chat_week > toDate(0) AND s.chat_week <= w AS chat,
           s.message_week > toDate(0) AND s.message_week <= w AS messages_active
    FROM multi AS mt
    LEFT JOIN (
        SELECT teacher_id, s.1 AS reg_week, s.2 AS chat_week, s.3 AS message_week
        FROM (
            SELECT teacher_id, argMax((reg_week, chat_week, message{active_group_messages}_week), updated_at) AS s
            FROM {db}.kpi_teacher_status
            WHERE teacher_id IN (SELECT teacher_id FROM multi)
            GROUP BY teacher_id
        )
    ) AS s ON s.teacher_id = mt.teacher_id
    ARRAY JOIN arrayFilter(x -> x >= (SELECT min(from_week) FROM changed), weeks) AS w
),
correction AS (
    SELECT mw.unit_kind AS unit_kind, mw.unit_id AS unit_id, mw.week_start AS week_start,
           sum(extra) AS extra_total,
           sumIf(extra, registered) AS extra_registered,
           sumIf(extra, registered AND chat) AS extra_a,
           sumIf(extra, registered AND r.group_messages >= {b_group_messages}) AS extra_b,
           sumIf(extra, registered AND r.chat_messages >= {c_chat_messages}) AS extra_c,
           sumIf(extra, registered AND r.calls >= {d_calls}) AS extra_d,
           sumIf(extra, registered AND chat AND messages_active) AS extra_active
    FROM multi_week AS mw
    LEFT JOIN (
        SELECT teacher_id, week_start, group_messages, chat_messages, calls
        FROM {db}.teacher_week FINAL
        WHERE week_start >= (SELECT min(from_week) FROM changed)
          AND teacher_id IN (SELECT teacher_id FROM multi)
    ) AS r ON r.teacher_id = mw.teacher_id AND r.week_start = mw.week_start
    GROUP BY unit_kind, unit_id, week_start
),
-- the municipalities of the touched areas: own registration and staff, as kpi_unit_week_compute
munis AS (
    SELECT municipality_id, region_id
    FROM {db}.registry_municipalities
    WHERE snapshot = {snapshot:UInt32}
      AND (municipality_id IN (SELECT unit_id FROM changed WHERE unit_kind = 'municipality')
           OR region_id IN (SELECT unit_id FROM changed WHERE unit_kind = 'region'))
),
staff_week_of AS (
{staff_week_columns}
    FROM {db}.registry_staff AS st
    LEFT JOIN (
        SELECT user_id, toMonday(min(ts), '{tz}') AS reg_week
        FROM {db}.registrations
        WHERE role = 'staff'
        GROUP BY user_id
    ) AS r ON r.user_id = st.staff_id
    LEFT JOIN (
        SELECT user_id, groupArray((week_start, group_chats_created, group_messages)) AS h
        FROM {db}.staff_week FINAL
        GROUP BY user_id
    ) AS sh ON sh.user_id = st.staff_id
    ARRAY JOIN arrayFilter(w -> w >= (SELECT min(from_week) FROM changed), weeks) AS w
    WHERE st.snapshot = {snapshot:UInt32} AND st.municipality_id IN (SELECT municipality_id FROM munis)
),
{staff_agg}
muni_week AS (
    SELECT mw.municipality_id AS municipality_id, mw.region_id AS region_id, mw.week_start AS week_start,
           r.reg_week > toDate(0) AND r.reg_week <= mw.week_start AS registered,
           registered AND sa.staff_active AS active,
           sa.staff_total AS staff_total,
           sa.staff_registered AS staff_registered,
           multiIf(NOT registered, 'absent', staff_registered = 0, 'no_staff_registered', active, 'active',
                   'staff_not_active') AS municipality_list
    FROM (
        SELECT municipality_id, region_id, arrayJoin(arrayFilter(w -> w >= (SELECT min(from_week) FROM changed), weeks))
            AS week_start
        FROM munis
    ) AS mw
    LEFT JOIN (
        SELECT user_id, toMonday(min(ts), '{tz}') AS reg_week
        FROM {db}.registrations
        WHERE role = 'municipality'
        GROUP BY user_id
    ) AS r ON r.user_id = mw.municipality_id
    LEFT JOIN staff_agg AS sa ON sa.municipality_id = mw.municipality_id AND sa.week_start = mw.week_start
),
-- the municipalities' own figures, per touched municipality (its one row) and region (the sums over
-- its municipalities), from one pass over muni_week (a common table expression read twice is
-- computed twice)
area_own AS (
    SELECT area.1 AS unit_kind, area.2 AS unit_id, week_start,
           count() AS municipalities_total,
           countIf(registered) AS municipalities_registered,
           countIf(active) AS municipalities_active,
           countIf(municipality_list = 'no_staff_registered') AS municipalities_no_staff_registered,
           sum(staff_total) AS staff_total,
           sum(staff_registered) AS staff_registered,
           any(registered) AS own_registered,
           any(active) AS own_active,
           any(municipality_list) AS own_list
    FROM (
        SELECT arrayJoin([('municipality', municipality_id), ('region', region_id)]) AS area, week_start,
               registered, active, municipality_list, staff_total, staff_registered
        FROM muni_week
    )
    WHERE (area.1, area.2) IN (SELECT unit_kind, unit_id FROM changed)
    GROUP BY unit_kind, unit_id, week_start
)
SELECT
    aw.week_start AS week_start,
    aw.unit_kind AS unit_kind,
    aw.unit_id AS unit_id,
    aw.name AS unit_name,
    aw.region_id AS region_id,
    aw.municipality_id AS municipality_id,
    ss.teachers_total - co.extra_total AS teachers_total,
    ss.teachers_registered - co.extra_registered AS teachers_registered,
    ss.a_teachers - co.extra_a AS a_teachers,
    ss.b_teachers - co.extra_b AS b_teachers,
    ss.c_teachers - co.extra_c AS c_teachers,
    ss.d_teachers - co.extra_d AS d_teachers,
    ss.active_teachers - co.extra_active AS active_teachers,
{teacher_shares}
    ss.schools_total AS schools_total,
    ss.schools_registered AS schools_registered,
    ss.schools_active AS schools_active,
    if(ss.schools_total = 0, 0., ss.schools_registered / ss.schools_total) AS schools_registered_share,
    if(ss.schools_registered = 0, 0., ss.schools_active / ss.schools_registered) AS schools_active_share,
    if(aw.unit_kind = 'region', ao.municipalities_total, NULL) AS municipalities_total,
    if(aw.unit_kind = 'region', ao.municipalities_registered, NULL) AS municipalities_registered,
    if(aw.unit_kind = 'region', ao.municipalities_active, NULL) AS municipalities_active,
    if(aw.unit_kind = 'region',
       if(ao.municipalities_total = 0, 0., ao.municipalities_registered / ao.municipalities_total), NULL)
        AS municipalities_registered_share,
    if(aw.unit_kind = 'region',
       if(ao.municipalities_registered = 0, 0., ao.municipalities_active / ao.municipalities_registered), NULL)
        AS municipalities_active_share,
    if(aw.unit_kind = 'region', ao.municipalities_no_staff_registered, NULL) AS municipalities_no_staff_registered,
    ao.staff_total AS municipality_staff_total,
    ao.staff_registered AS municipality_staff_registered,
    ss.students_total AS students_total,
    ss.students_registered AS students_registered,
    ss.students_registered_by_parent AS students_registered_by_parent,
    if(ss.students_total = 0, 0., ss.students_registered / ss.students_total) AS students_registered_share,
    if(aw.unit_kind = 'region', NULL, ao.own_registered) AS unit_registered,
    if(aw.unit_kind = 'region', NULL, ao.own_active) AS unit_active,
    if(aw.unit_kind = 'municipality', ao.own_list, NULL) AS municipality_list
FROM area_weeks AS aw
LEFT JOIN school_sums AS ss
    ON ss.unit_kind = aw.unit_kind AND ss.unit_id = aw.unit_id AND ss.week_start = aw.week_start
LEFT JOIN correction AS co
    ON co.unit_kind = aw.unit_kind AND co.unit_id = aw.unit_id AND co.week_start = aw.week_start
LEFT JOIN area_own AS ao
    ON ao.unit_kind = aw.unit_kind AND ao.unit_id = aw.unit_id AND ao.week_start = aw.week_start;
