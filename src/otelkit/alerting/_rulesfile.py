"""Alert rules from a YAML file (``OTELKIT_ALERT_RULES_FILE``), validated when otelkit starts.

The file is a mapping with one key, ``rules``, a list of rules (schema in docs/alerting.md)::

    rules:
      - name: CheckoutErrors
        metric: http.server.request.duration
        where: {http.route: /checkout}
        aggregation: ratio
        numerator: {error.type: {exists: true}}
        operator: ">"
        threshold: 0.02
        for: 2m
        severity: critical
        channels: [log, webhook]

Every problem raises ``ConfigError`` naming the file, the line, the rule and the field, with
what is accepted: a syntax error, an unknown or repeated field, a missing one, a bad value, a
channel that is not configured, two rules with one name. PyYAML is needed only when a file is
given (``pip install 'otelkit[alerting]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from otelkit._errors import ConfigError
from otelkit.alerting._rules import FIELDS, AlertRule, RuleError

if TYPE_CHECKING:
    from collections.abc import Collection

    import yaml

    from otelkit.alerting._promql._program import Program

__all__ = ["CHANNEL_SETTINGS", "load_rules", "load_rules_file", "parse_rules"]

VARIABLE = "OTELKIT_ALERT_RULES_FILE"
EXTRA_HINT = "pip install 'otelkit[alerting]'"
REQUIRED = ("name", "metric", "threshold")
YAML_FIELDS = (*FIELDS, "enabled")
# The variable that turns each optional channel on, for the error naming it.
CHANNEL_SETTINGS = {"webhook": "OTELKIT_ALERT_WEBHOOK_URL", "smtp": "OTELKIT_ALERT_SMTP_HOST"}


def load_rules_file(path: str, channels: Collection[str]) -> list[AlertRule]:
    """The enabled rules of the file at ``path``; ``channels`` are the configured channels."""
    rules, _ = load_rules(path, channels)
    return rules


def load_rules(path: str, channels: Collection[str]) -> tuple[list[AlertRule], Program | None]:
    """The file's rules: otelkit's format (a list of ``AlertRule``), or Prometheus' (a
    ``Program``, when the top level has ``groups``)."""
    source = f"{VARIABLE}={path!r}"
    try:
        import yaml  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"{source} is set, but reading YAML rules needs PyYAML, which is not installed: "
            f"{EXTRA_HINT}."
        ) from None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:  # ValueError: undecodable, or a NUL in the path
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(
            f"{source}: the file cannot be read ({reason}). Accepted: the path of a readable "
            "YAML rules file."
        ) from None
    return parse_any(text, source, channels)


def parse_rules(text: str, source: str, channels: Collection[str]) -> list[AlertRule]:
    """Rules from YAML ``text``; ``source`` names it in errors (the variable and the path)."""
    return parse_any(text, source, channels)[0]


def parse_any(
    text: str, source: str, channels: Collection[str]
) -> tuple[list[AlertRule], Program | None]:
    """Rules from YAML ``text`` in either format; ``source`` names it in errors."""
    import yaml

    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:  # a character YAML does not allow
        raise ConfigError(f"{source}: not valid YAML ({str(exc).splitlines()[0]}).") from None
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = f", line {mark.line + 1}" if mark is not None else ""
            problem = exc.problem or exc.context or "syntax error"
            raise ConfigError(f"{source}{line}: not valid YAML ({problem}).") from None
        except yaml.YAMLError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"{source}: not valid YAML ({reason}).") from None
        if _is_prometheus_format(root):
            return [], _program(loader, root, source)
        return _Reader(loader, source, channels).rules(root), None
    finally:
        loader.dispose()


def _is_prometheus_format(root: yaml.Node | None) -> TypeGuard[yaml.MappingNode]:
    import yaml

    return isinstance(root, yaml.MappingNode) and any(
        isinstance(key, yaml.ScalarNode) and key.value == "groups" for key, _ in root.value
    )


def _program(loader: yaml.SafeLoader, root: yaml.MappingNode, source: str) -> Program:
    try:
        from otelkit.alerting._promql._file import read_program
    except ImportError:
        raise ConfigError(
            f"{source} is a Prometheus rule file (it has `groups`); reading PromQL needs "
            f"promql-parser, which is not installed: {EXTRA_HINT}."
        ) from None
    return read_program(loader, root, source)


class _Reader:
    """Walks the node tree, so every error can point at its line."""

    def __init__(self, loader: yaml.SafeLoader, source: str, channels: Collection[str]) -> None:
        self.loader = loader
        self.source = source
        self.channels = channels

    def error(self, node: yaml.Node, message: str) -> ConfigError:
        return ConfigError(f"{self.source}, line {node.start_mark.line + 1}: {message}")

    def rules(self, root: yaml.Node | None) -> list[AlertRule]:
        import yaml

        if root is None:
            return []
        if not isinstance(root, yaml.MappingNode):
            raise self.error(
                root, "the file must be a mapping with a `rules` list. Accepted: rules"
            )
        items = self.mapping(root, "the top level", ("rules",))
        if "rules" not in items:
            raise self.error(root, "the `rules` list is missing. Accepted: rules")
        sequence = items["rules"][1]
        if isinstance(sequence, yaml.ScalarNode) and self.value(sequence) is None:
            return []
        if not isinstance(sequence, yaml.SequenceNode):
            raise self.error(sequence, "`rules` must be a list of rules")
        rules: list[AlertRule] = []
        seen: dict[str, int] = {}
        for position, node in enumerate(sequence.value, start=1):
            rule, enabled, name_node = self.rule(node, position)
            if rule.name in seen:
                raise self.error(
                    name_node,
                    f"rule {rule.name!r}, field 'name': the name is already used by the rule at "
                    f"line {seen[rule.name]}. Accepted: {FIELDS['name']}.",
                )
            seen[rule.name] = node.start_mark.line + 1
            if enabled:
                rules.append(rule)
        return rules

    def rule(self, node: yaml.Node, position: int) -> tuple[AlertRule, bool, yaml.Node]:
        import yaml

        label = f"rule #{position}"
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{label} must be a mapping of fields")
        for key_node, value_node in node.value:  # the name first, to name the rule in errors
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == "name":
                name = self.value(value_node)
                if isinstance(name, str) and name.strip():
                    label = f"rule {name.strip()!r}"
        items = self.mapping(node, label, YAML_FIELDS)
        for field in REQUIRED:
            if field not in items:
                raise self.error(
                    node, f"{label}, field {field!r}: missing. Accepted: {FIELDS[field]}."
                )
        enabled = True
        if "enabled" in items:
            enabled_node = items["enabled"][1]
            enabled = self.value(enabled_node)
            if not isinstance(enabled, bool):
                raise self.error(
                    enabled_node,
                    f"{label}, field 'enabled': {enabled!r} is not a boolean. "
                    "Accepted: true or false.",
                )
        arguments: dict[str, Any] = {}
        for field, (_, value_node) in items.items():
            if field != "enabled":
                arguments["for_duration" if field == "for" else field] = self.value(value_node)
        try:
            rule = AlertRule(**arguments)
        except RuleError as exc:
            where = items.get(exc.field, (node, node))[0]
            raise self.error(
                where, f"{label}, field {exc.field!r}: {exc.reason}. Accepted: {exc.accepted}."
            ) from None
        for channel in rule.channels or ():
            if channel not in self.channels:
                raise self.error(
                    items["channels"][0],
                    f"{label}, field 'channels': channel {channel!r} is not configured (set "
                    f"{CHANNEL_SETTINGS.get(channel, 'it')}). Accepted: "
                    f"{', '.join(self.channels)}.",
                )
        return rule, enabled, items["name"][0]

    def mapping(
        self, node: yaml.MappingNode, label: str, accepted: tuple[str, ...]
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Keys → (key node, value node); unknown and repeated keys are errors."""
        from otelkit.config._setting import did_you_mean

        items: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, str) or key not in accepted:
                raise self.error(
                    key_node,
                    f"{label}: unknown field {key!r}"
                    f"{did_you_mean(str(key), accepted)}. Accepted fields: {', '.join(accepted)}.",
                )
            if key in items:
                raise self.error(
                    key_node,
                    f"{label}, field {key!r}: given twice (first at line "
                    f"{items[key][0].start_mark.line + 1}).",
                )
            items[key] = (key_node, value_node)
        return items

    def value(self, node: yaml.Node) -> Any:
        import yaml

        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            problem = exc.problem or "cannot be read"
            raise self.error(node, f"{problem}.") from None
        except TypeError:  # e.g. a mapping used as a key
            raise self.error(node, "a mapping or a list cannot be used as a key.") from None
        except (ValueError, OverflowError):  # e.g. a date such as 2001-13-45
            raise self.error(node, f"{node.value!r} cannot be read.") from None
