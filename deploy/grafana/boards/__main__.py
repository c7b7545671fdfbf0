"""``python -m deploy.grafana.boards [--out DIR]``: write the boards' JSON (see the package)."""

import sys

from . import main

sys.exit(main())
