"""Prometheus rule files (``groups:``), read for the in-process engine.

The format is Prometheus' own (the file ``otelkit rules`` writes)::

    groups:
      - name: shop-http
        rules:
          - record: job:http_server_requests:rate5m
            expr: sum by (job) (rate(http_server_request_duration_seconds_count[5m]))
          - alert: NoTraffic
            expr: job:http_server_requests:rate5m == 0
            for: 10m
            labels: {severity: warning}
            annotations: {summary: "{{ $labels.job }} receives no requests"}

What is not Prometheus' format is an error naming the file, the line, the group and the rule
(a ``ConfigError``, before anything starts); valid PromQL outside the in-process subset is not:
the rule is listed in ``Program.unsupported`` with the reason. A group's ``interval`` is not
used: every rule is evaluated each ``OTELKIT_ALERT_INTERVAL``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import promql_parser as pp

from otelkit._errors import ConfigError
from otelkit.alerting._promql._program import Program, Skipped
from otelkit.alerting._promql._rule import PromRule

if TYPE_CHECKING:
    import yaml

__all__ = ["read_program"]

GROUP_FIELDS = ("name", "interval", "rules", "limit", "query_offset", "labels")
RULE_FIELDS = ("record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations")


def read_program(loader: yaml.SafeLoader, root: yaml.MappingNode, source: str) -> Program:
    """The compiled rules of a file whose top level is ``root``."""
    reader = _Reader(loader, source)
    return reader.program(root)


class _Reader:
    def __init__(self, loader: yaml.SafeLoader, source: str) -> None:
        self.loader = loader
        self.source = source

    def error(self, node: yaml.Node, message: str) -> ConfigError:
        return ConfigError(f"{self.source}, line {node.start_mark.line + 1}: {message}")

    def value(self, node: yaml.Node) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except Exception:
            raise self.error(node, "this value cannot be read") from None

    def fields(
        self, node: yaml.Node, label: str, accepted: tuple[str, ...]
    ) -> dict[str, yaml.Node]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{label} must be a mapping")
        found: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if key not in accepted:
                raise self.error(
                    key_node, f"{label}: unknown field {key!r}. Accepted: {', '.join(accepted)}."
                )
            if key in found:
                raise self.error(key_node, f"{label}: field {key!r} given twice")
            found[key] = value_node
        return found

    def program(self, root: yaml.MappingNode) -> Program:
        import yaml

        top = self.fields(root, "the top level", ("groups",))
        groups = top["groups"]
        program = Program()
        if not isinstance(groups, yaml.SequenceNode):
            raise self.error(groups, "`groups` must be a list of rule groups")
        for group_node in groups.value:
            group = self.fields(group_node, "a group", GROUP_FIELDS)
            name = self.value(group["name"]) if "name" in group else None
            if not isinstance(name, str) or not name:
                raise self.error(group_node, "a group needs a `name`")
            rules = group.get("rules")
            if rules is None or not isinstance(rules, yaml.SequenceNode):
                raise self.error(group_node, f"group {name!r}: `rules` must be a list")
            for rule_node in rules.value:
                self.rule(program, name, rule_node)
        return program

    def rule(self, program: Program, group: str, node: yaml.Node) -> None:
        items = self.fields(node, f"a rule of group {group!r}", RULE_FIELDS)
        kind = "alert" if "alert" in items else "record" if "record" in items else None
        if kind is None or ("alert" in items and "record" in items):
            raise self.error(node, f"group {group!r}: a rule has either `alert` or `record`")
        name = self.value(items[kind])
        label = f"group {group!r}, {kind} rule {name!r}"
        if not isinstance(name, str) or not name:
            raise self.error(items[kind], f"group {group!r}: `{kind}` must be a name")
        if "expr" not in items:
            raise self.error(node, f"{label}: `expr` is missing")
        expr = self.value(items["expr"])
        if not isinstance(expr, (str, int, float)) or isinstance(expr, bool):
            raise self.error(items["expr"], f"{label}, field 'expr': must be PromQL text")
        expr = str(expr)
        try:
            pp.parse(expr)
        except ValueError as exc:
            raise self.error(
                items["expr"], f"{label}, field 'expr': not valid PromQL ({exc})"
            ) from None
        labels = self.texts(items.get("labels"), f"{label}, field 'labels'")
        if kind == "record":
            program.add_recording(group, name, expr, labels)
            return
        if "keep_firing_for" in items and self.seconds(items["keep_firing_for"], label) > 0:
            program.unsupported.append(
                Skipped(group, name, kind, "keep_firing_for is not in the in-process subset")
            )
            return
        compiled_rule = PromRule(
            name=name,
            expr=expr,
            for_duration=self.seconds(items["for"], label) if "for" in items else 0.0,
            labels=labels,
            annotations=self.texts(items.get("annotations"), f"{label}, field 'annotations'"),
            group=group,
        )
        program.add_alert(compiled_rule)

    def seconds(self, node: yaml.Node, label: str) -> float:
        value = self.value(node)
        text = str(value).strip()
        if text and text.rstrip("smhdwy") == "0":  # `0s`: the parser takes only > 0
            return 0.0
        try:
            return float(pp.parse_duration(str(value)).total_seconds())
        except ValueError:
            raise self.error(
                node, f"{label}: {value!r} is not a duration. Accepted: 30s, 5m, 1h30m."
            ) from None

    def texts(self, node: yaml.Node | None, label: str) -> dict[str, str]:
        if node is None:
            return {}
        value = self.value(node)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise self.error(node, f"{label}: must be a mapping of name → text")
        return {k: "" if v is None else str(v) for k, v in value.items()}
