-- Per-user weekly counters of activity sent with role = staff, written by the stream like
-- teacher_week. A municipality acts through the staff of its education authority (registry_staff,
-- staff_id = user_id): the regional centre's slides count a municipality active when it
-- "created at least 1 chat and wrote at least 3 messages" itself. Read it with FINAL.
CREATE TABLE IF NOT EXISTS {db}.staff_week
(
    week_start          Date,
    user_id             String,
    group_chats_created UInt32,
    group_messages      UInt32,
    chat_messages       UInt32,
    calls               UInt32,
    version             UInt64,
    flushed_at          DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(week_start)
ORDER BY (week_start, user_id)
