-- Every accepted `registered` event, once per event_id. "Registered by W" takes the earliest ts
-- per (role, user_id).
CREATE TABLE IF NOT EXISTS {db}.registrations
(
    role          LowCardinality(String) COMMENT 'teacher, student, parent, staff, school, municipality',
    user_id       String COMMENT 'the registered user, or school_id / municipality_id',
    registered_by LowCardinality(String) COMMENT 'self or parent',
    ts            DateTime64(3, 'UTC'),
    event_id      String
)
ENGINE = ReplacingMergeTree
ORDER BY (role, user_id, event_id)
