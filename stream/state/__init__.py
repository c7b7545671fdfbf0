"""The worker's per-user state: its encoding into bounded records, and the local store of a partition."""
