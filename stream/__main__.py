"""``python -m stream`` is ``sferum-kpi``."""

from stream.cli import main

main()
