"""Which exposition format a scraper gets, from its ``Accept`` header.

Prometheus says what it can read in ``Accept`` with quality values (2.x:
``application/openmetrics-text;version=1.0.0,…,text/plain;version=0.0.4;q=0.5,*/*;q=0.1``;
3.x adds ``escaping=allow-utf-8``). The offer with the highest quality wins; OpenMetrics and
the UTF-8 capable text 1.0.0 are served only when the header names them (a bare ``*/*``, no
header at all, or a header nothing here matches gets the classic text 0.0.4, which every
scraper reads). ``escaping=allow-utf-8`` on the chosen range means the scraper takes UTF-8
metric and label names: the OpenTelemetry names are then written as they are, quoted where the
legacy syntax cannot hold them; any other scraper gets them escaped to ``[a-zA-Z0-9_:]``.

The protobuf format (``application/vnd.google.protobuf;
proto=io.prometheus.client.MetricFamily; encoding=delimited``), the only one with native
histograms, is served when the header names it with exactly those parameters: Prometheus does
(first) when started with ``--enable-feature=native-histograms``. There too
``escaping=allow-utf-8`` gets the names unescaped (protobuf strings need no quoting).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLASSIC", "OPENMETRICS", "PROTOBUF", "Format", "negotiate"]


@dataclass(frozen=True)
class Format:
    """One exposition format: OpenMetrics or classic text, its version, the name escaping."""

    openmetrics: bool = False
    version: str = "0.0.4"
    utf8: bool = False
    protobuf: bool = False

    @property
    def content_type(self) -> str:
        escaping = "; escaping=allow-utf-8" if self.utf8 else ""
        if self.protobuf:
            return f"application/{_PROTOBUF}; proto={_PROTO}; encoding=delimited{escaping}"
        media = "application/openmetrics-text" if self.openmetrics else "text/plain"
        return f"{media}; version={self.version}; charset=utf-8{escaping}"


CLASSIC = Format()
OPENMETRICS = Format(openmetrics=True, version="1.0.0")
_PROTOBUF = "vnd.google.protobuf"
_PROTO = "io.prometheus.client.MetricFamily"
PROTOBUF = Format(protobuf=True, version="")

# What can be served, in order of preference when two get the same quality.
_OFFERS = (
    ("application", _PROTOBUF, ""),
    ("application", "openmetrics-text", "1.0.0"),
    ("application", "openmetrics-text", "0.0.1"),
    ("text", "plain", "1.0.0"),
    ("text", "plain", "0.0.4"),
)
_DEFAULT_VERSION = {"openmetrics-text": "1.0.0", "plain": "0.0.4"}


@dataclass(frozen=True)
class _Range:
    kind: str
    subtype: str
    params: dict[str, str]
    quality: float


def _ranges(accept: str) -> list[_Range]:
    ranges = []
    for item in accept.split(","):
        media, *raw_params = item.split(";")
        kind, _, subtype = media.strip().lower().partition("/")
        if not kind or not subtype:
            continue
        params: dict[str, str] = {}
        for raw in raw_params:
            key, _, value = raw.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 0.0
        ranges.append(_Range(kind, subtype, params, quality))
    return ranges


def _match(offer: tuple[str, str, str], ranges: list[_Range]) -> tuple[float, int, _Range | None]:
    """The quality of ``offer`` and how specific the range that gave it is (RFC 9110 §12.5.1:
    the most specific matching range decides)."""
    kind, subtype, version = offer
    best: tuple[float, int, _Range | None] = (0.0, -1, None)
    for media in ranges:
        if media.kind == kind and media.subtype == subtype == _PROTOBUF:
            params = media.params
            if params.get("proto") != _PROTO or params.get("encoding") != "delimited":
                continue
            specificity = 2
        elif media.kind == kind and media.subtype == subtype:
            wanted = media.params.get("version", _DEFAULT_VERSION[subtype])
            if wanted != version:
                continue
            specificity = 2
        elif media.kind == kind and media.subtype == "*":
            specificity = 1
        elif media.kind == "*" and media.subtype == "*":
            specificity = 0
        else:
            continue
        if specificity > best[1]:
            best = (media.quality, specificity, media)
    return best


def negotiate(accept: str | None) -> Format:
    """The format to serve for this ``Accept`` header (classic text when in doubt)."""
    if not accept:
        return CLASSIC
    ranges = _ranges(accept)
    chosen: tuple[float, tuple[str, str, str], _Range | None] | None = None
    for offer in _OFFERS:
        quality, specificity, media = _match(offer, ranges)
        default = offer == ("text", "plain", "0.0.4")
        if quality <= 0 or (specificity < 2 and not default):
            continue  # OpenMetrics and text 1.0.0 only when named
        if chosen is None or quality > chosen[0]:
            chosen = (quality, offer, media)
    if chosen is None:
        return CLASSIC
    _, (_, subtype, version), media = chosen
    utf8 = media is not None and media.params.get("escaping") == "allow-utf-8"
    if subtype == _PROTOBUF:
        return Format(protobuf=True, version="", utf8=utf8)  # names are plain strings there
    utf8 = utf8 and version == "1.0.0"  # the text versions that have the quoted-name syntax
    return Format(openmetrics=subtype == "openmetrics-text", version=version, utf8=utf8)
