-- The indicators as stored rows: kpi_unit_week_compute's result for a registry snapshot,
-- refreshed by sferum-kpi (the worker after flushes, for the weeks they touched and the weeks
-- after them; load-registry and replay for every week). A refresh re-inserts rows; the newest
-- computed_at wins. A board's query for a week and a region reads only those rows.
CREATE TABLE IF NOT EXISTS {db}.kpi_unit_week_data
(
    snapshot                        UInt32,
    computed_at                     DateTime64(3, 'UTC'),
    week_start                      Date,
    unit_kind                       LowCardinality(String),
    unit_id                         String,
    unit_name                       String,
    region_id                       String,
    municipality_id                 String,
    teachers_total                  UInt64,
    teachers_registered             UInt64,
    a_teachers                      UInt64,
    b_teachers                      UInt64,
    c_teachers                      UInt64,
    d_teachers                      UInt64,
    active_teachers                 UInt64,
    teachers_registered_share       Float64,
    a_share                         Float64,
    b_share                         Float64,
    c_share                         Float64,
    d_share                         Float64,
    active_share                    Float64,
    active_share_of_total           Float64,
    schools_total                   Nullable(UInt64),
    schools_registered              Nullable(UInt64),
    schools_active                  Nullable(UInt64),
    schools_registered_share        Nullable(Float64),
    schools_active_share            Nullable(Float64),
    municipalities_total            Nullable(UInt64),
    municipalities_registered       Nullable(UInt64),
    municipalities_active           Nullable(UInt64),
    municipalities_registered_share Nullable(Float64),
    municipalities_active_share     Nullable(Float64),
    municipalities_no_staff_registered Nullable(UInt64),
    municipality_staff_total        Nullable(UInt64),
    municipality_staff_registered   Nullable(UInt64),
    students_total                  UInt64,
    students_registered             UInt64,
    students_registered_by_parent   UInt64,
    students_registered_share       Float64,
    unit_registered                 Nullable(UInt8),
    unit_active                     Nullable(UInt8),
    municipality_list               Nullable(String)
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY snapshot
ORDER BY (week_start, unit_kind, region_id, unit_id);

-- The indicators: one row per (week_start, unit_kind, unit_id) of the current registry snapshot.
CREATE OR REPLACE VIEW {db}.kpi_unit_week AS
SELECT * EXCEPT (snapshot, computed_at)
FROM {db}.kpi_unit_week_data FINAL
WHERE snapshot = {current_snapshot};
