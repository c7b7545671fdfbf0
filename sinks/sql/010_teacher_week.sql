-- Per-teacher weekly counters, written by the stream. Re-flushing a row inserts it again with
-- the same or a higher version; ReplacingMergeTree keeps the highest, so read it with FINAL.
-- version = distinct teacher events applied to the row: it only grows, so a newer state wins.
CREATE TABLE IF NOT EXISTS {db}.teacher_week
(
    week_start          Date COMMENT 'Monday of the ISO week (Europe/Moscow by default)',
    teacher_id          String,
    group_chats_created UInt32 COMMENT 'chat_created events with chat_kind = group',
    group_messages      UInt32 COMMENT 'message_sent events with chat_kind = group',
    chat_messages       UInt32 COMMENT 'message_sent events with chat_kind = group or personal',
    calls               UInt32 COMMENT 'call events',
    version             UInt64 COMMENT 'distinct teacher events applied (chat_created, message_sent, call)',
    flushed_at          DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'when this version was written'
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(week_start)
ORDER BY (week_start, teacher_id)
