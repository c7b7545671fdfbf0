"""Synthetic data for demos, tests and load tests: a registry and an event stream with a
realistic rhythm (school days, weekends, lessons, holidays; heavy and light users).

- ``small``: three regions at a fraction of their size, a few thousand teachers; fast.
- ``orel``: the seed's Орловская область, its 27 municipalities by name; after ``load-registry``
  and ``replay``, the region's row of the last week shows the seed's totals exactly, and each
  municipality's shares round to the seed's lists.
- ``federal``: the 85 regions, about 1.1 M teachers, for load tests; streamed to the file.

Usage::

    from stream.tools.generate.run import generate
    summary = generate("orel", Path("out"), period=Period(date(2026, 11, 16), 8), seed=1)
"""
