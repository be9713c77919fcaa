"""``AlertEngine``: the rules, their state, the metric reader they read, the evaluation thread.

``init_telemetry()`` builds it from the settings (which validates the rules file and the
channels, so a mistake raises ``ConfigError`` before anything starts), adds ``engine.reader``
to the ``MeterProvider``, calls ``start()`` at the end and ``stop()`` at shutdown.

Evaluation is separate from time and from collection, so it can be tested without sleeping:
``evaluate(now, data)`` takes a clock reading and a ``MetricsData`` snapshot and returns the
notifications; ``run_once()`` is what the thread does every ``OTELKIT_ALERT_INTERVAL``: collect
from the reader, evaluate at ``clock()``, hand the notifications to the channels.

Rules come in two languages: ``AlertRule`` (otelkit's YAML and the built-in rules) and a
Prometheus rule file (``_promql``: recording and alerting rules in the PromQL subset), whose
unsupported rules are logged once when the engine is built. Under a pre-fork server the runtime
calls ``share(directory, collect)``: then only the holder of the directory's lease (``_lease``)
evaluates, on the summed data of every process that ``collect`` returns.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Final

from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otelkit._errors import ConfigError, guarded
from otelkit.alerting._alert import FIRING
from otelkit.alerting._channels import build_channels
from otelkit.alerting._defaults import default_rules
from otelkit.alerting._dispatch import Dispatcher
from otelkit.alerting._lease import Lease
from otelkit.alerting._query import MetricIndex, Query
from otelkit.alerting._rules import AlertRule
from otelkit.alerting._rulesfile import CHANNEL_SETTINGS, load_rules
from otelkit.alerting._state import RuleState
from otelkit.config._alerting import AlertSettings

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
    from pathlib import Path

    from opentelemetry.sdk.metrics.export import MetricsData

    from otelkit.alerting._alert import Alert
    from otelkit.alerting._delivery import Channel
    from otelkit.alerting._promql._program import Program, Skipped
    from otelkit.alerting._promql._rule import PromRule
    from otelkit.health._report import Status

__all__ = ["COMPONENT", "HEALTHY", "AlertEngine"]

logger = logging.getLogger("otelkit")

COMPONENT = "alerting"
HEALTH_SOURCE = "alerts"
ALERT_LOGGER = "otelkit.alerts"
HEALTHY: Final = "healthy"
DEGRADED: Final = "degraded"
UNHEALTHY: Final = "unhealthy"


class AlertEngine:
    """In-process alerting for one configuration.

    ``settings`` is the ``otelkit.config._settings.Settings`` of ``init_telemetry()`` (or an
    ``AlertSettings``). ``clock`` gives wall-clock seconds; ``channels`` replaces the channels
    the settings configure (tests); ``rules`` replaces the default and file rules.
    """

    def __init__(
        self,
        settings: object,
        *,
        clock: Callable[[], float] = time.time,
        channels: Mapping[str, Channel] | None = None,
        rules: Iterable[AlertRule] | None = None,
    ) -> None:
        self.settings = AlertSettings.of(settings)
        self.interval = self.settings.alert_interval_s
        self._clock = clock
        self._origin = clock()
        self.channels = dict(build_channels(self.settings) if channels is None else channels)
        self.program: Program | None = None
        """The Prometheus rule file's rules, when ``OTELKIT_ALERT_RULES_FILE`` is one."""
        if rules is None:
            rules = self._configured_rules()
        self._lock = threading.RLock()
        self._rules: dict[str, RuleState] = {}
        self._prom: dict[PromRule, RuleState] = {}
        self._problems: set[tuple[str, str]] = set()
        for rule in rules:
            self.add_rule(rule)
        self.use_program(self.program)
        self._labels = {"job": self.settings.service_name or "", "instance": _instance()}
        self._lease: Lease | None = None
        self._collect: Callable[[], MetricsData | None] | None = None
        self._known: Callable[[], Collection[str]] | None = None
        self.reader = InMemoryMetricReader()
        """Add it to the MeterProvider: the engine reads every metric through it."""
        self._dispatcher = Dispatcher(self.channels)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._status_hook: Callable[[], None] | None = None

    def _configured_rules(self) -> list[AlertRule]:
        rules = {rule.name: rule for rule in default_rules(self.settings)}
        if self.settings.alert_rules_file:
            found, self.program = load_rules(self.settings.alert_rules_file, list(self.channels))
            for rule in found:
                rules[rule.name] = rule  # a file rule replaces the built-in of that name
            if self.program is not None:
                for prom_rule in self.program.rules:
                    rules.pop(prom_rule.name, None)  # so does a Prometheus rule
        return list(rules.values())

    def use_program(self, program: Program | None, *, report: bool = True) -> None:
        """Evaluate a Prometheus rule file's rules (``_promql``); log those left out."""
        states: dict[PromRule, RuleState] = {}
        for rule in program.rules if program is not None else ():
            states[rule] = RuleState(
                rule,
                PromQuery(),  # type: ignore[arg-type]
                self.settings.alert_repeat_interval_s,
                self.settings.service_name,
            )
        for skipped in program.unsupported if program is not None and report else ():
            logger.warning("otelkit: not evaluated in-process: %s", skipped)
        with self._lock:
            self.program, self._prom = program, states

    @property
    def unsupported(self) -> tuple[Skipped, ...]:
        """The rules of the Prometheus rule file that are not evaluated, each with the reason."""
        return tuple(self.program.unsupported) if self.program is not None else ()

    # -- rules ------------------------------------------------------------------------------

    @property
    def rules(self) -> tuple[AlertRule, ...]:
        """The ``AlertRule`` rules (those of a Prometheus rule file: ``prometheus_rules``)."""
        with self._lock:
            return tuple(state.rule for state in self._rules.values())  # type: ignore[misc]

    @property
    def prometheus_rules(self) -> tuple[PromRule, ...]:
        with self._lock:
            return tuple(self._prom)

    def add_rule(self, rule: AlertRule) -> None:
        """Evaluate ``rule`` too (from the next evaluation); replaces a rule of the same name.

        Raises ``ConfigError`` when it names a channel that is not configured.
        """
        for channel in rule.channels or ():
            if channel not in self.channels:
                raise ConfigError(
                    f"alert rule {rule.name!r}, field 'channels': channel {channel!r} is not "
                    f"configured (set {CHANNEL_SETTINGS.get(channel, 'it')}). Accepted: "
                    f"{', '.join(self.channels)}."
                )
        query = Query(rule, self.settings.alert_window_s, self._origin)
        state = RuleState(
            rule, query, self.settings.alert_repeat_interval_s, self.settings.service_name
        )
        with self._lock:
            self._rules[rule.name] = state

    def remove_rule(self, name: str) -> None:
        """Stop evaluating the rule called ``name`` (its alerts are forgotten, not resolved)."""
        with self._lock:
            self._rules.pop(name, None)

    # -- evaluation -------------------------------------------------------------------------

    def evaluate(self, now: float, data: MetricsData | None) -> list[Alert]:
        """Evaluate every rule on ``data`` at time ``now``; return the notifications to send.

        ``data`` None (the collection failed) leaves every alert as it is.
        """
        if data is None:
            return []
        index = MetricIndex(data)
        notifications: list[Alert] = []
        with self._lock:
            for state in self._rules.values():
                notifications.extend(self._evaluate_rule(state, now, index))
            if self.program is not None:
                notifications.extend(self._evaluate_program(self.program, now, data))
        return notifications

    @guarded(COMPONENT, ())
    def _evaluate_program(self, program: Program, now: float, data: MetricsData) -> Sequence[Alert]:
        results = program.evaluate(now, data, self._labels)
        notifications: list[Alert] = []
        for rule, state in self._prom.items():
            notifications.extend(state.step(now, results.get(rule, {})))
        return notifications

    @guarded(COMPONENT, ())
    def _evaluate_rule(self, state: RuleState, now: float, index: MetricIndex) -> Sequence[Alert]:
        notifications = state.evaluate(now, index)
        problem = state.query.problem
        if problem is not None and (state.rule.name, problem) not in self._problems:
            self._problems.add((state.rule.name, problem))
            logger.warning("otelkit: alert rule %r has no data: %s", state.rule.name, problem)
        return notifications

    @guarded(COMPONENT, ())
    def run_once(self) -> Sequence[Alert]:
        """Collect, evaluate now, and send the notifications; what the thread does each time.

        Sharing a directory with other processes, only the lease holder evaluates (on the
        summed data); the others return nothing and try again next time.
        """
        if self._lease is not None:
            if not self._lease.acquire():
                return ()
            data = self._collect() if self._collect is not None else None
        else:
            data = self.reader.get_metrics_data()
        notifications = self.evaluate(self._clock(), data)
        self._dispatcher.dispatch(notifications)
        return notifications

    def share(self, directory: Path, collect: Callable[[], MetricsData | None]) -> None:
        """One process per server evaluates: the lease holder of ``directory``, on ``collect()``
        (the whole server's metrics). Called by the runtime under pre-fork servers."""
        with self._lock:
            if self._lease is None or self._lease.path.parent != directory:
                if self._lease is not None:
                    self._lease.release()
                self._lease = Lease(directory)
            self._collect = collect

    @property
    def leader(self) -> bool:
        """Whether this process evaluates (alone, or holding the shared lease)."""
        return self._lease is None or self._lease.held

    def check_metrics_with(self, known: Callable[[], Collection[str]]) -> None:
        """At start, warn about rules that read a metric absent from ``known()`` (the metric
        catalog's names, OpenTelemetry and Prometheus; computed on the engine's thread)."""
        self._known = known

    def unknown_metrics(self, known: Collection[str]) -> list[tuple[str, str]]:
        """(rule, metric) for every rule whose metric is not in ``known``."""
        found = [(r.name, r.metric) for r in self.rules if r.metric not in known]
        program = self.program
        if program is not None:
            for step_rule, metrics in program.reads_by_rule().items():
                found.extend((step_rule, m) for m in sorted(metrics) if m not in known)
        return found

    @guarded(COMPONENT, None)
    def _report_unknown_metrics(self) -> None:
        if self._known is None:
            return
        for rule, metric in self.unknown_metrics(self._known()):
            logger.warning(
                "otelkit: alert rule %r reads metric %r, which nothing otelkit knows emits "
                "(not in the metric catalog, not a declared business metric): it will never "
                "fire unless an instrument of the application's own records it",
                rule,
                metric,
            )

    def alerts(self) -> list[Alert]:
        """Every alert that is pending, firing or recently resolved."""
        with self._lock:
            states = [*self._rules.values(), *self._prom.values()]
            return [alert for state in states for alert in state.alerts()]

    def firing(self) -> list[Alert]:
        return [alert for alert in self.alerts() if alert.state == FIRING]

    def status(self) -> Status:
        """``unhealthy`` if a critical alert fires, ``degraded`` if a warning one does.

        ``start()`` registers it with the health endpoints (``/readyz`` reports it under
        ``sources``; it raises the overall status, never changes readiness).
        """
        severities = {alert.severity for alert in self.firing()}
        if "critical" in severities:
            return UNHEALTHY
        if "warning" in severities:
            return DEGRADED
        return HEALTHY

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        """Notifications so far by (channel, outcome): ``sent``, ``failed``, ``dropped``."""
        return self._dispatcher.counts()

    def dispatch(self, notifications: Iterable[Alert]) -> None:
        """Hand notifications to their channels (on the channels' threads)."""
        self._dispatcher.dispatch(notifications)

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every notification handed over so far was delivered or failed."""
        return self._dispatcher.drain(timeout)

    # -- the thread -------------------------------------------------------------------------

    def start(self) -> None:
        """Start evaluating every ``interval`` seconds on a daemon thread (once)."""
        with self._lock:
            if self._thread is not None:
                return
            from otelkit.health._registry import register_status_source

            self._status_hook = register_status_source(HEALTH_SOURCE, self.status)
            self._dispatcher.export_counts()
            self._thread = threading.Thread(target=self._run, name="otelkit-alerts", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and deliver what is queued, within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        with self._lock:
            thread, self._thread = self._thread, None
            unregister, self._status_hook = self._status_hook, None
        if unregister is not None:
            unregister()
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(deadline - time.monotonic(), 0.0))
        if self._lease is not None:
            self._lease.release()
        self._dispatcher.close(max(deadline - time.monotonic(), 0.0))

    def after_fork_in_child(self) -> None:
        """In a forked child: fresh locks, rule states and channels; evaluate if the parent did.

        Alone, each process evaluates its own metrics; sharing a directory (``share()``), the
        child competes for the lease (it never inherits its parent's).
        """
        running = self._thread is not None
        rules = [state.rule for state in self._rules.values() if isinstance(state.rule, AlertRule)]
        unregister, self._status_hook = self._status_hook, None
        if unregister is not None:
            unregister()  # the parent's entry, in the child's copy of the registry
        self._lock = threading.RLock()
        self._rules = {}
        self._problems = set()
        for rule in rules:
            self.add_rule(rule)
        self.use_program(self.program, report=False)
        if self._lease is not None:
            self._lease.after_fork_in_child()
        self._dispatcher = Dispatcher(self.channels)
        self._stopping = threading.Event()
        self._thread = None
        if running:
            self.start()

    def _run(self) -> None:
        self._report_unknown_metrics()
        while not self._stopping.wait(self.interval):
            self.run_once()

    def __repr__(self) -> str:
        running = "running" if self._thread is not None else "stopped"
        return f"<AlertEngine {len(self._rules)} rules, {running}, {self.status()}>"


class PromQuery:
    """What ``RuleState`` asks of a query, for a Prometheus rule (its program evaluates it)."""

    window = 0.0
    problem = None

    @staticmethod
    def group_labels(key: tuple[str, ...]) -> dict[str, str]:
        return dict(zip(key[::2], key[1::2], strict=True))


def _instance() -> str:
    """The ``instance`` label of in-process series: the host, as a scrape target would be."""
    return socket.gethostname() or "localhost"
