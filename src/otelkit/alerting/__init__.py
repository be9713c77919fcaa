"""In-process alerting: rules evaluated on a background thread from the SDK's own metric data.

For setups without Prometheus. One module, one job:

- ``_rules``: ``AlertRule``, the public value type, and its validation;
- ``_matchers``: the attribute conditions of a rule (``where``, ``numerator``, ``denominator``);
- ``_rulesfile``: rules from a YAML file, with errors naming the line and the field; a file
  whose top level has ``groups`` is a Prometheus rule file, read by ``_promql``;
- ``_promql``: Prometheus recording and alerting rules in the PromQL subset the generated rules
  use, parsed with ``promql-parser``; what it cannot evaluate is reported at load;
- ``_defaults``: the default rules (CPU, memory, disk, HTTP error ratio, p95 latency);
- ``_query``: one rule's expression over a ``MetricsData`` snapshot (windows, ratios, quantiles);
- ``_quantile``: ``histogram_quantile`` as Prometheus computes it;
- ``_state``: the pending → firing → resolved state machine of each alert instance;
- ``_alert``: ``Alert``, the notification value handed to channels and callbacks;
- ``_callbacks``: ``on_alert()``, the process-wide registry of user callbacks;
- ``_delivery``: the ``Channel`` protocol and ``DeliveryError`` every channel shares;
- ``_channels``, ``_webhook``, ``_smtp``: where notifications go;
- ``_dispatch``: one worker thread per channel, so a slow or failing channel delays nothing else;
- ``_lease``: under a pre-fork server, which process evaluates (a lock in the shared directory);
- ``_engine``: ``AlertEngine``, which owns the metric reader, the rules and the thread.

Routing by severity (a webhook URL and recipients per severity) is in the channels
(``_webhook``, ``_smtp``), from the settings' ``webhook_routes()`` and ``smtp_routes()``.

The ``OTELKIT_ALERT*`` settings and the value parsers they share with the rules are declared
with the rest of the configuration, in ``otelkit.config``.
"""
