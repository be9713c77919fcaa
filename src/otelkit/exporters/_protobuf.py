"""The protobuf wire format, by hand, for OTLP: varints, length-delimited fields, attributes.

OTLP export spends most of its time building protobuf message objects one field at a time and
serializing them afterwards. Writing the bytes directly is several times cheaper, and most
attributes repeat from one span to the next (``http.request.method=GET``, a route, a status
code): their encoded ``KeyValue`` is kept in a bounded cache. Values are encoded as the SDK's
OTLP encoder encodes them (``opentelemetry.exporter.otlp.proto.common``): the same type tests
in the same order, the same empty ``AnyValue`` for ``None``, and an attribute whose value
cannot be encoded is left out (logged), never the whole batch.

Field numbers are those of opentelemetry-proto's ``common.proto`` (``AnyValue``, ``KeyValue``,
``ArrayValue``, ``KeyValueList``); a test compares every tag with the installed descriptors.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

logger = logging.getLogger("otelkit")

_BYTE = [bytes((n,)) for n in range(0x80)]
"""The one-byte varints (lengths and small numbers, by far the most common)."""

pack_fixed64 = struct.Struct("<Q").pack
pack_fixed32 = struct.Struct("<I").pack
_pack_double = struct.Struct("<d").pack

_INT64_MIN, _INT64_END = -(1 << 63), 1 << 63

# Tags, (field number << 3) | wire type, of common.proto's messages.
ANY_STRING, ANY_BOOL, ANY_INT, ANY_DOUBLE = b"\x0a", b"\x10", b"\x18", b"\x21"
ANY_ARRAY, ANY_KVLIST, ANY_BYTES = b"\x2a", b"\x32", b"\x3a"
VALUES = b"\x0a"
"""``ArrayValue.values`` and ``KeyValueList.values``."""
KV_KEY, KV_VALUE = b"\x0a", b"\x12"


def varint(n: int) -> bytes:
    """An unsigned varint; a negative ``n`` as the 10-byte two's complement (int64)."""
    if 0 <= n < 0x80:
        return _BYTE[n]
    if 0 < n < 0x4000:  # two bytes: most lengths and counts
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload (a string, bytes or a message)."""
    size = len(payload)
    return tag + (_BYTE[size] if size < 0x80 else varint(size)) + payload


def text(tag: bytes, value: str | None) -> bytes:
    """A string field with implicit presence: nothing for ``None`` or an empty string."""
    return field(tag, value.encode()) if value else b""


def any_value(value: Any) -> bytes:
    """The body of an ``AnyValue``; raises for a value the OTLP encoder rejects."""
    kind = type(value)
    if kind is str:
        return field(ANY_STRING, value.encode())
    if kind is int:
        return ANY_INT + varint(_int64(value))
    if value is None:
        return b""
    if isinstance(value, bool):
        return ANY_BOOL + (b"\x01" if value else b"\x00")
    if isinstance(value, str):
        return field(ANY_STRING, value.encode())
    if isinstance(value, int):
        return ANY_INT + varint(_int64(value))
    if isinstance(value, float):
        return ANY_DOUBLE + _pack_double(value)
    if isinstance(value, bytes):
        return field(ANY_BYTES, value)
    if isinstance(value, Sequence):
        items = [field(VALUES, any_value(item)) for item in value]
        return field(ANY_ARRAY, b"".join(items))
    if isinstance(value, Mapping):
        pairs = [field(VALUES, _key_value(str(k), v)) for k, v in value.items()]
        return field(ANY_KVLIST, b"".join(pairs))
    raise TypeError(f"an attribute value of type {kind.__name__} has no OTLP form")


def _int64(value: int) -> int:
    if not _INT64_MIN <= value < _INT64_END:
        raise ValueError("an integer attribute value outside the int64 range")
    return value


def _key_value(key: str, value: Any) -> bytes:
    """The body of a ``KeyValue`` (its key, then its value, always present)."""
    return text(KV_KEY, key) + field(KV_VALUE, any_value(value))


class AttributeEncoder:
    """Encodes attribute mappings as repeated ``KeyValue`` fields under one tag.

    ``cache_limit`` bounds the cache of encoded pairs (cleared whole when full: what repeats
    comes back at once). Only strings up to ``_CACHED_LENGTH``, ints and bools are cached:
    hashable and immutable, and a float's ``0.0 == -0.0`` would mix two encodings.
    """

    _CACHED_LENGTH = 256

    __slots__ = ("_cache", "_keys", "_limit", "_tag")

    def __init__(self, tag: bytes, cache_limit: int = 4096) -> None:
        self._tag = tag
        self._limit = cache_limit
        self._cache: dict[tuple[str, type, object], bytes] = {}
        self._keys: dict[str, bytes] = {}

    def encode(self, attributes: Mapping[str, Any] | None) -> bytes:
        """Every attribute as a ``KeyValue`` field, in the mapping's order."""
        if not attributes:
            return b""
        cache, longest, pair = self._cache, self._CACHED_LENGTH, self._pair
        out: list[bytes] = []
        append = out.append
        for key, value in attributes.items():
            kind = type(value)
            if (kind is str and len(value) <= longest) or kind is int or kind is bool:
                slot = (key, kind, value)
                encoded = cache.get(slot)
                if encoded is None:
                    encoded = pair(key, value)
                    if encoded and len(cache) < self._limit:
                        cache[slot] = encoded
                    elif encoded:
                        cache.clear()
                append(encoded)
            else:
                append(pair(key, value))
        return b"".join(out)

    def _pair(self, key: str, value: Any) -> bytes:
        """One ``KeyValue`` field; nothing (logged) when the value cannot be encoded."""
        try:
            body = field(KV_VALUE, any_value(value))  # present, empty for None
            encoded_key = self._keys.get(key)
            if encoded_key is None:
                encoded_key = text(KV_KEY, key)
                if len(self._keys) >= self._limit:
                    self._keys.clear()
                self._keys[key] = encoded_key
            return field(self._tag, encoded_key + body)
        except Exception as error:  # the SDK's encoder leaves the attribute out too
            logger.warning(
                "otelkit: attribute %r left out of an OTLP export: %s", key, error, exc_info=False
            )
            return b""
