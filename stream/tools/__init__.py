"""The tools for demos, reports and operations: produce, replay, repartition, generate, report,
dead letters. The worker imports none of them."""
