"""Exemplars under pre-fork servers: each process publishes its own, a scrape keeps the latest.

The shared files hold numbers that are added up; an exemplar is not added, it is replaced by a
newer one. So exemplars travel with each process's snapshot (written every few seconds and at
each scrape it receives, ``SharedMetrics.publish``): a scrape takes the receiving process's
exemplars fresh from memory, the other live processes' from their snapshots, and the
exposition keeps per bucket (per counter) the latest of them all. An ended process's exemplars
end with it (its snapshot is removed); its counts stay in the files.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from otelkit.metrics._fastpath import as_exemplars, kept

if TYPE_CHECKING:
    from collections.abc import Iterable

    from opentelemetry.sdk.metrics import Exemplar

    from otelkit.metrics._fastpath import _Instrument

__all__ = ["EXEMPLARS_KIND", "SeriesKey", "exemplar_entries", "gather"]

EXEMPLARS_KIND = "exemplars"
"""The ``kind`` of a snapshot entry that holds one instrument's exemplars."""

SeriesKey = tuple[str, tuple[tuple[str, Any], ...]]
"""An instrument's name and a series' attributes, as the shared files' totals key them."""


def _attributes_key(attributes: Any) -> tuple[tuple[str, Any], ...]:
    """Sorted attribute pairs as they come back from JSON (lists as tuples)."""
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in attributes)


def exemplar_entries(instruments: Iterable[_Instrument]) -> list[dict[str, Any]]:
    """The exemplars the shared instruments of this process keep, as snapshot entries."""
    entries = []
    for instrument in instruments:
        if instrument.local:
            continue  # otelkit's own counters are per process, never in the shared files
        points = [
            [sorted((series.attributes or {}).items()), [k for k in found if k is not None]]
            for series in instrument.all_series()
            if (found := kept(series))
        ]
        if points:
            entries.append({"kind": EXEMPLARS_KIND, "name": instrument.name, "points": points})
    return entries


def gather(entries: Iterable[dict[str, Any]]) -> dict[SeriesKey, list[Exemplar]]:
    """Every process's exemplar entries by series (the exposition picks the latest)."""
    found: dict[SeriesKey, list[Exemplar]] = {}
    for entry in json.loads(json.dumps(list(entries), default=str)):  # one key form for all
        if entry.get("kind") != EXEMPLARS_KIND:
            continue
        for attributes, exemplars in entry["points"]:
            key = (entry["name"], _attributes_key(attributes))
            found.setdefault(key, []).extend(as_exemplars(tuple(e) for e in exemplars))
    return found
