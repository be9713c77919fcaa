"""``python -m otelkit.cli`` runs the ``otelkit`` command."""

import sys

from otelkit.cli import main

sys.exit(main())
