"""Replacing a library's method by a wrapper, once, and putting the original back.

Every client instrumentation wraps a method of a library class. ``Patch`` remembers the
original, refuses to wrap its own wrapper (a second ``install()`` after a re-init is a no-op,
so nothing is measured twice) and restores the original on ``uninstall()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Patch"]

_MARK = "__otelkit_http_client__"


class Patch:
    """``owner.name`` replaced by ``wrap(original)`` while installed."""

    __slots__ = ("_original", "_wrap", "name", "owner")

    def __init__(self, owner: type, name: str, wrap: Callable[[Any], Any]) -> None:
        self.owner = owner
        self.name = name
        self._wrap = wrap
        self._original: Any = None

    @property
    def installed(self) -> bool:
        return getattr(self.owner.__dict__.get(self.name), _MARK, False) is True

    def install(self) -> None:
        if self.installed:
            return
        original = self.owner.__dict__[self.name]
        wrapper = self._wrap(original)
        setattr(wrapper, _MARK, True)
        wrapper.__wrapped__ = original
        self._original = original
        setattr(self.owner, self.name, wrapper)

    def uninstall(self) -> None:
        if self.installed and self._original is not None:
            setattr(self.owner, self.name, self._original)
        self._original = None
