"""Imported by Python at start-up under ``otelkit run``: configure otelkit, then carry on.

Kept tiny: the work is in ``otelkit.cli._autostart``. A Python without otelkit (another
interpreter started by the command) runs on without telemetry, and a ``sitecustomize`` that
this one hides on the path is still run.
"""

import sys

try:
    from otelkit.cli import _autostart
except ImportError as exc:  # another interpreter, without otelkit: run on without it
    sys.stderr.write(f"otelkit run: {sys.executable} cannot import otelkit ({exc}); no telemetry\n")
else:
    _autostart.start()
    _autostart.run_hidden_sitecustomize(__file__)
