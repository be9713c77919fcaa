"""The histogram aggregation setting (declared here to keep ``_core`` within its size)."""

from __future__ import annotations

from typing import Any

from otelkit.config import _parse
from otelkit.config._setting import Setting

__all__ = ["HISTOGRAM_AGGREGATIONS", "HISTOGRAM_AGGREGATION_SETTING"]

HISTOGRAM_AGGREGATIONS = ("explicit_bucket_histogram", "base2_exponential_bucket_histogram")
"""The values of ``OTELKIT_HISTOGRAM_AGGREGATION``, named as the OpenTelemetry variables name
them (``OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION``)."""

HISTOGRAM_AGGREGATION_SETTING: Setting[Any] = Setting(
    key="histogram_aggregation",
    env="OTELKIT_HISTOGRAM_AGGREGATION",
    parse=_parse.choice(*HISTOGRAM_AGGREGATIONS),
    default="explicit_bucket_histogram",
    accepted=", ".join(f"`{a}`" for a in HISTOGRAM_AGGREGATIONS),
    doc="Aggregation of otelkit's histograms for every reader: explicit buckets, or base-2 "
    "exponential buckets (Prometheus native histograms; max 160 buckets, max scale 20).",
)
