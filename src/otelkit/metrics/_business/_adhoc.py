"""The instruments ``record()``, ``count()`` and ``set_gauge()`` create on first use, by name.

These functions are called in the middle of the user's code, so they split their faults in two:

- what the code writes down, the definition (``buckets=``, ``unit=``, ``description=`` and the
  kind of instrument a name is used for), is checked at the first call of that definition, and
  a bad one, or one that contradicts another declaration of the name, raises ``ConfigError``
  there, naming both places; the first test that runs the line finds it. A refused definition
  raises once: its later calls drop their value and count it (``otelkit.dropped``,
  ``reason="invalid_definition"``), and a definition once accepted never raises again;
- what may come from data, the name's text, is never raised: a name that is no valid
  instrument name, that Prometheus would expose like another one, or that is new past the
  run-time cap (``_names``) drops the value, counted in ``otelkit.dropped``.

After the first call a definition costs one dict lookup and three comparisons.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, NamedTuple

from otelkit._errors import ConfigError, record_internal_error
from otelkit.metrics._business._declared import Definition, call_site
from otelkit.metrics._business._instruments import NameClash, check_name, created
from otelkit.metrics._business._names import admit, release
from otelkit.metrics._fastpath import dropped

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["AdHoc", "Known", "matches"]

_SEQUENCES = (list, tuple)


class Known(NamedTuple):
    buckets: Any
    unit: Any
    description: Any
    definition: Definition
    instrument: Any


def matches(known: Known, buckets: Any, unit: Any, description: Any) -> bool:
    """Whether a call writes the definition ``known`` was accepted with (as it was written)."""
    return (
        unit == known.unit
        and description == known.description
        and (buckets is known.buckets or (type(buckets) in _SEQUENCES and buckets == known.buckets))
    )


def _given(buckets: object) -> object:
    """``buckets`` as remembered for the next call's comparison (a copy of a list)."""
    if type(buckets) is list:
        return list(buckets)
    return buckets if buckets is None or type(buckets) is tuple else _NEVER


_NEVER = object()  # other iterables (arrays) are compared on the slow path, once normalized


class AdHoc:
    """The instruments one ad-hoc function (``what``) created, by name.

    ``resolve(name, buckets, unit, description)`` checks the arguments and applies the
    defaults (raising ``ConfigError``); ``make(name, definition)`` creates the instrument.
    """

    def __init__(
        self,
        what: str,
        resolve: Callable[[str, Any, Any, Any], Definition],
        make: Callable[[str, Definition], Any],
        catalog_description: str,
    ) -> None:
        self._what = what
        self._resolve = resolve
        self._make = make
        self._catalog_description = catalog_description
        self.known: dict[str, Known] = {}
        """Name -> the accepted definition, as its first call wrote it, and the instrument."""
        self._refused: set[tuple[str, str, str, str]] = set()
        self._lock = threading.Lock()

    def declare(self, name: str, buckets: Any, unit: Any, description: Any, depth: int) -> Any:
        """The instrument of ``name`` for a definition that is not the one ``known`` holds
        (checked, declared and created), or None: its value is dropped. ``depth``: how many
        frames above the caller the user's code is.

        The functions first look their name up in ``known`` themselves and compare with
        ``matches``: that is their whole cost once a definition is accepted."""
        what = self._what
        refusal = (name, repr(buckets), repr(unit), repr(description))
        if refusal in self._refused:
            dropped("metrics", "invalid_definition")
            return None
        try:
            check_name(name, what)
        except ConfigError as exc:
            dropped("metrics", "invalid_name")
            record_internal_error(what, exc)
            return None
        with self._lock:
            try:
                return self._create(name, buckets, unit, description, depth + 1)
            except NameClash as exc:
                dropped("metrics", "name_collision")
                record_internal_error(what, exc)
                return None
            except ConfigError:
                self._refused.add(refusal)
                raise

    def _create(self, name: str, buckets: Any, unit: Any, description: Any, depth: int) -> Any:
        """Check and declare a definition of ``name`` (with ``_lock`` held)."""
        definition = self._resolve(name, buckets, unit, description)
        known = self.known.get(name)
        if known is not None and known.definition == definition:
            return known.instrument  # the same definition, written another way
        if not admit(name, self._what):
            return None
        site = call_site(depth + 1)
        try:
            instrument = created(
                name,
                definition,
                self._what,
                site,
                lambda: self._make(name, definition),
                open_attributes=True,
                catalog_description=self._catalog_description,
            )
        except ConfigError:
            if known is None:
                release(name)
            raise
        self.known[name] = Known(_given(buckets), unit, description, definition, instrument)
        return instrument
