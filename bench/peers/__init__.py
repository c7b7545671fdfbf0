"""Other stream processors doing the worker's job, to measure it against."""
