"""Prometheus rule files in-process: the PromQL subset the generated rules use.

The file ``otelkit rules`` writes for Prometheus is read by the in-process engine too, so a
team with Prometheus and a team without it alert on the same expressions. Parsed with
``promql-parser`` (the Rust parser Prometheus-compatible tools use, ``otelkit[alerting]``);
what the subset cannot evaluate is reported when the file loads, with the reason, and never
fails later.

- ``_samples``: the SDK's ``MetricsData`` as the Prometheus series the exposition writes
  (``_total``, ``_bucket`` with ``le``, ``_count``, ``_sum``; ``job`` and ``instance``);
- ``_vector``: instant vectors and their label arithmetic (matching, aggregation, set ops);
- ``_functions``: ``rate``/``increase`` extrapolated as Prometheus does, ``histogram_quantile``;
- ``_compile``: the AST to an evaluator, or ``Unsupported`` with the reason;
- ``_template``: ``{{ $labels.x }}`` and ``{{ $value }}`` in annotations;
- ``_program``: a file's groups, recording and alerting rules, evaluated in order;
- ``_file``: reading the YAML, with errors naming the group, the rule and the line.
"""
