"""Business metrics on the user's own functions: ``@timed``, ``@counted``, ``@traced``,
``@track_inprogress``, and the ad-hoc ``record()``, ``count()``, ``set_gauge()`` and ``gauge()``.

Decorators validate their arguments when they are applied (at import), create their instrument
in otelkit's fast registry at once, and record into it on every call; whatever
``init_telemetry()`` configures later exports it. Nothing here raises into the caller after
decoration: an attribute function that fails is logged once and the call goes on, an attribute
OpenTelemetry does not accept (a ``dict``, ``None``, a mixed list, any other object) is dropped
and counted (``internal_error_count("attributes")``), lists are kept as tuples, and a failure of
otelkit's own around a call never replaces the caller's exception.

- ``_declared``: one definition per name (refusing another, naming both places), the catalog;
- ``_instruments``: the instruments in the fast registry, and the validation of their arguments;
- ``_attributes``: the attributes of one call (static, from its arguments or its result), cleaned;
- ``_observer``: the wrapper around each call that every decorator shares;
- ``_decorators``: ``timed``, ``counted``, ``track_inprogress``;
- ``_traced``: ``traced``;
- ``_adhoc``: the instruments the ad-hoc functions create on first use, and their two kinds of
  fault (a definition raises once, a name's text never);
- ``_names``: the cap on names created at run time;
- ``_record``: ``record()`` and ``count()``;
- ``_set_gauge``: ``set_gauge()``, the last value of each series;
- ``_gauges``: ``gauge()`` and ``register_gauges()``.
"""

from otelkit.metrics._business._decorators import counted, timed, track_inprogress
from otelkit.metrics._business._gauges import gauge, register_gauges
from otelkit.metrics._business._record import count, record
from otelkit.metrics._business._set_gauge import set_gauge
from otelkit.metrics._business._traced import traced

__all__ = [
    "count",
    "counted",
    "gauge",
    "record",
    "register_gauges",
    "set_gauge",
    "timed",
    "traced",
    "track_inprogress",
]
