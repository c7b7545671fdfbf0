-- Views for boards and reports, all on top of kpi_unit_week.

-- Every share of every unit and week as one row: (metric, share). NULL shares are left out.
CREATE OR REPLACE VIEW {db}.kpi_shares AS
SELECT week_start, unit_kind, unit_id, unit_name, region_id, municipality_id, m.1 AS metric, m.2 AS share
FROM {db}.kpi_unit_week
ARRAY JOIN [
    ('teachers_registered_share', teachers_registered_share), ('a_share', a_share), ('b_share', b_share), ('c_share', c_share), ('d_share', d_share),
    ('active_share', active_share), ('active_share_of_total', active_share_of_total),
    ('students_registered_share', students_registered_share),
    ('schools_registered_share', ifNull(schools_registered_share, nan)),
    ('schools_active_share', ifNull(schools_active_share, nan)),
    ('municipalities_registered_share', ifNull(municipalities_registered_share, nan)),
    ('municipalities_active_share', ifNull(municipalities_active_share, nan))
] AS m
WHERE NOT isNaN(m.2);

-- Level of each share: low below {level_low}, high above {level_high}, sufficient between.
CREATE OR REPLACE VIEW {db}.kpi_levels AS
SELECT *, multiIf(share < {level_low}, 'low', share > {level_high}, 'high', 'sufficient') AS level
FROM {db}.kpi_shares;

-- Week-over-week change of each share in percentage points; the first week has no previous one.
CREATE OR REPLACE VIEW {db}.kpi_dynamics AS
SELECT
    week_start, unit_kind, unit_id, unit_name, region_id, municipality_id, metric, share,
    if(row_number() OVER w = 1, NULL, lagInFrame(share) OVER w) AS prev_share,
    round((share - prev_share) * 100, 2) AS delta_pp,
    multiIf(prev_share IS NULL OR delta_pp = 0, 'none', delta_pp > 0, 'growth', 'fall') AS direction
FROM {db}.kpi_shares
WINDOW w AS (PARTITION BY unit_kind, unit_id, metric ORDER BY week_start
             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);

-- Regions ranked by b (teachers with >= 3 group messages in the week), best first, with the
-- federal map's bands.
CREATE OR REPLACE VIEW {db}.kpi_region_ranking AS
SELECT
    week_start, unit_id AS region_id, unit_name AS region_name, b_teachers, teachers_registered, b_share,
    rank() OVER (PARTITION BY week_start ORDER BY b_share DESC) AS rank,
    multiIf(b_share < 0.01, '0-1%', b_share < 0.05, '1-5%', '5-100%') AS band
FROM {db}.kpi_unit_week
WHERE unit_kind = 'region';

-- The slides' municipality lists: «Отсутствуют в ИКОП» (absent: not registered), «Отсутствуют
-- регистрации» (no_staff_registered: registered, none of its staff registered), «Активные» (active).
-- The other registered municipalities (staff registered, not active) are in none of them.
CREATE OR REPLACE VIEW {db}.kpi_municipality_lists AS
SELECT week_start, region_id, unit_id AS municipality_id, unit_name AS municipality_name,
       assumeNotNull(municipality_list) AS list
FROM {db}.kpi_unit_week
WHERE unit_kind = 'municipality' AND municipality_list IN ('absent', 'no_staff_registered', 'active');
