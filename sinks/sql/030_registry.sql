-- The registry (FGIS «Моя школа» export), loaded by `sferum-kpi load-registry` as numbered
-- snapshots. Rows of a snapshot become visible only when its row in registry_snapshots is
-- written, after every check passed: a load is atomic, and a failed one is never seen.
-- `line` is the CSV line of the row, for error messages.
CREATE TABLE IF NOT EXISTS {db}.registry_snapshots
(
    snapshot  UInt32,
    loaded_at DateTime DEFAULT now(),
    source    String COMMENT 'the directory loaded',
    counts    Map(String, UInt64) COMMENT 'rows per file'
)
ENGINE = MergeTree
ORDER BY snapshot;

CREATE TABLE IF NOT EXISTS {db}.registry_regions
(
    snapshot UInt32, line UInt32,
    region_id String, name String
)
ENGINE = MergeTree PARTITION BY snapshot ORDER BY region_id;

CREATE TABLE IF NOT EXISTS {db}.registry_municipalities
(
    snapshot UInt32, line UInt32,
    municipality_id String, region_id String, name String
)
ENGINE = MergeTree PARTITION BY snapshot ORDER BY (region_id, municipality_id);

CREATE TABLE IF NOT EXISTS {db}.registry_schools
(
    snapshot UInt32, line UInt32,
    school_id String, municipality_id String, name String
)
ENGINE = MergeTree PARTITION BY snapshot ORDER BY (municipality_id, school_id);

CREATE TABLE IF NOT EXISTS {db}.registry_teachers
(
    snapshot UInt32, line UInt32,
    teacher_id String, school_id String
)
ENGINE = MergeTree PARTITION BY snapshot ORDER BY (school_id, teacher_id);

CREATE TABLE IF NOT EXISTS {db}.registry_students
(
    snapshot UInt32, line UInt32,
    student_id String, school_id String, birth_date Date32
)
ENGINE = MergeTree PARTITION BY snapshot ORDER BY (school_id, student_id);

-- staff.csv (optional): the accounts of each municipality's education authority.
CREATE TABLE IF NOT EXISTS {db}.registry_staff
(
    snapshot UInt32, line UInt32,
    staff_id String, municipality_id String
)
ENGINE = MergeTree PARTITION BY snapshot ORDER BY (municipality_id, staff_id);
