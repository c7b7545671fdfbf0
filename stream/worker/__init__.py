"""The worker's runtime: the Faust app hosting it, the command, its use of ClickHouse, the supervisor of
N processes, its metrics and KPI gauges. Its input path on aiokafka is ``stream.kafka``."""
