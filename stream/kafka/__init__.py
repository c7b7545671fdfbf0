"""The worker's Kafka side: the group and its assignment, the partition tasks, the event-time merge
of the input topics, the changelog restore and the commit protocol. They use Kafka through the
typed ports of ``ports`` (made of aiokafka's clients in ``live``; faked in the unit tests)."""
