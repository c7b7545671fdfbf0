"""The pure core: a user's counters and how events change them, batches, weeks, the refresh's work.
No Kafka, no Faust, no ClickHouse here (tests/unit/test_layout.py keeps it so)."""
