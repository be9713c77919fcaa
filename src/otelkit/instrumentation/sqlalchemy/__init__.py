"""SQLAlchemy: query duration by operation and table, connection-pool metrics, client spans.

``instrument_sqlalchemy(engine)`` instruments one engine (sync, or the ``sync_engine`` of an
``AsyncEngine``); ``install_auto()`` wraps ``Engine.__init__`` so that every engine created
afterwards instruments itself. The package's modules, each with one job:

- ``_library``: SQLAlchemy 2 as an optional extra (``available``).
- ``_recorder``: the instruments of one configuration (``db.client.operation.duration`` and
  the ``db.client.connection.*`` pool metrics).
- ``_engine``: one engine and its binding to the running configuration.
- ``_queries``: queries timed in the dialect's ``do_execute*`` events, with CLIENT spans.
- ``_statements``: operation and table from a statement's text, and its sanitized text.
- ``_pool``: pool accounting (pool events and the pool's ``connect()`` wrapper).
- ``_instrument``: instrumenting one engine (``instrument_sqlalchemy``).
- ``_auto``: instrumenting every new engine (``install_auto``, ``uninstall_auto``).
"""

from __future__ import annotations

from otelkit.instrumentation.sqlalchemy._auto import install_auto, uninstall_auto
from otelkit.instrumentation.sqlalchemy._instrument import instrument_sqlalchemy, instrumented
from otelkit.instrumentation.sqlalchemy._library import available
from otelkit.instrumentation.sqlalchemy._recorder import DB_DURATION_BUCKETS

__all__ = [
    "DB_DURATION_BUCKETS",
    "available",
    "install_auto",
    "instrument_sqlalchemy",
    "instrumented",
    "uninstall_auto",
]
