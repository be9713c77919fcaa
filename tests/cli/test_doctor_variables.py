"""``otelkit doctor`` and ``init_telemetry()`` flag the same variables: one detector.

A correct name is never flagged; a one-letter slip of a name otelkit, a plugin or the
OpenTelemetry SDK reads is flagged by both, with the name meant; a name in a language's or an
instrumentation's namespace (``OTEL_PYTHON_*``, ``OTEL_INSTRUMENTATION_*``) is left to its tool
by both.
"""

from __future__ import annotations

import re
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otelkit.cli._doctor_variables import check_variables, known_variables
from otelkit.config._environ import UnknownVariableWarning, standard_variables
from otelkit.runtime._load import load_settings
from tests.cli.conftest import json_of, run_otelkit

FOREIGN = ("OTEL_PYTHON_", "OTEL_INSTRUMENTATION_", "OTEL_SEMCONV_", "OTEL_NODE_", "OTEL_JAVA_")
KNOWN = sorted(known_variables() | standard_variables())
CHECKED = [
    name
    for name in KNOWN
    if name.startswith(("OTEL_", "OTELKIT_")) and not name.startswith(FOREIGN)
]
"""The names the detector looks at (a plugin may also read another tool's, ``AWS_REGION``)."""
_NAME = re.compile(r"\b(OTEL(?:KIT)?_[A-Z0-9_]+)")


FOREIGN_KNOWN = [name for name in KNOWN if name.startswith(FOREIGN)]


@st.composite
def slips(draw: st.DrawFn, names: list[str] = CHECKED) -> str:
    """A known name with one letter dropped, doubled, replaced, or two letters swapped."""
    name = draw(st.sampled_from(names))
    prefix = "OTELKIT_" if name.startswith("OTELKIT_") else "OTEL_"
    tail = name.removeprefix(prefix)
    at = draw(st.integers(0, len(tail) - 2))
    kind = draw(st.sampled_from(["drop", "double", "swap", "replace"]))
    if kind == "drop":
        tail = tail[:at] + tail[at + 1 :]
    elif kind == "double":
        tail = tail[:at] + tail[at] + tail[at:]
    elif kind == "swap":
        tail = tail[:at] + tail[at + 1] + tail[at] + tail[at + 2 :]
    else:
        tail = tail[:at] + draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ_")) + tail[at + 1 :]
    return prefix + tail


foreign = st.one_of(
    st.builds(
        lambda prefix, rest: prefix + rest,
        st.sampled_from(FOREIGN),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=3, max_size=30),
    ),
    slips(FOREIGN_KNOWN).filter(lambda name: name.startswith(FOREIGN)),
)
"""Other tools' names: any, and near misses of the ones the SDK knows about."""


def flagged_by_init_telemetry(environ: dict[str, str]) -> set[str]:
    """The variables ``init_telemetry()``'s loader warns about (values empty: all unset)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_settings({}, environ)
    return {
        _NAME.search(str(w.message)).group(1)  # type: ignore[union-attr]
        for w in caught
        if issubclass(w.category, UnknownVariableWarning)
    }


def flagged_by_doctor(environ: dict[str, str]) -> set[str]:
    return {f.check.removeprefix("variable ") for f in check_variables(environ, [])}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    correct=st.lists(st.sampled_from(KNOWN), max_size=6),
    slipped=st.lists(slips(), max_size=3),
    others=st.lists(foreign, max_size=3),
)
def test_doctor_and_init_telemetry_flag_the_same_names(
    correct: list[str], slipped: list[str], others: list[str]
) -> None:
    environ = dict.fromkeys([*correct, *slipped, *others], "")

    doctor = flagged_by_doctor(environ)

    assert doctor == flagged_by_init_telemetry(environ)
    assert not doctor & set(correct)
    assert not doctor & set(others)
    assert {
        name for name in slipped if name not in KNOWN and not name.startswith(FOREIGN)
    } <= doctor


def test_a_foreign_near_miss_does_not_fail_doctor(metrics_port: int) -> None:
    """A slip in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` is the instrumentation's business:
    ``init_telemetry()`` says nothing about it, nor does doctor."""
    result = run_otelkit(
        "doctor",
        "-o",
        "json",
        env={
            "OTEL_PYTHON_DISABLED_INSTRUMENTATION": "redis",
            "OTEL_PYTHON_DISTR": "otelkit",
            "OTEL_EXPORTER_PROMETHEUS_PORT": str(metrics_port),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [f for f in json_of(result)["findings"] if f["check"].startswith("variable")]
