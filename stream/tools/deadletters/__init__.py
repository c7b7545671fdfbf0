"""Tools for the dead-letter topic: read it (``scan``), summarise it (``summary``), send letters
back to their source topics exactly once (``redrive``, progress in ``ledger``), show the results
(``render``); ``commands`` is the ``sferum-kpi dead-letters`` command group."""
