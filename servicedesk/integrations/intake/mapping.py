"""Mapping rules: an alert's labels -> the new incident's service, CI, technology,
category, severity, users affected, title and description.

Every rule whose ``match`` holds applies, in position order; for each field the
first rule that sets it wins; a rule with ``stop`` ends the list. Templates are
deliberately tiny (``{{ labels.instance }}``, ``{{ annotations.summary|default:"?" }}``):
no code runs, nothing but the alert's own values can be reached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from servicedesk.catalog.models import Category, ConfigurationItem, Service, Technology

from ..models import Integration, MappingRule
from .payloads import Alert

_PLACEHOLDER = re.compile(
    r"\{\{\s*([A-Za-z0-9_.\-]+)\s*(?:\|\s*default\s*:\s*\"([^\"]*)\"\s*)?\}\}"
)


@dataclass
class Mapping:
    title: str
    description: str
    service: Service | None = None
    configuration_item: ConfigurationItem | None = None
    technology: Technology | None = None
    category: Category | None = None
    severity: int | None = None
    affected_users: int | None = None
    # Which rule set the severity (for the incident's severity reason).
    severity_rule: str = ""
    rules: tuple[str, ...] = ()


def context(alert: Alert, integration: Integration, key: str) -> dict[str, Any]:
    return {
        "labels": alert.labels,
        "annotations": alert.annotations,
        "title": alert.title,
        "description": alert.description,
        "status": alert.status,
        "key": key,
        "source_url": alert.source_url,
        "integration": integration.name,
    }


def render(template: str, values: dict[str, Any]) -> str:
    """Replace ``{{ a.b }}`` by the value at that path (dicts only), or the default."""

    def lookup(match: re.Match[str]) -> str:
        node: Any = values
        for part in match.group(1).split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None or node == "":
            return match.group(2) or ""
        return str(node)

    return _PLACEHOLDER.sub(lookup, template)


@lru_cache(maxsize=512)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def matches(rule: MappingRule, labels: dict[str, str]) -> bool:
    for label, pattern in (rule.match or {}).items():
        if _pattern(str(pattern)).fullmatch(labels.get(label, "")) is None:
            return False
    return True


def _by_name(model: type[Service] | type[ConfigurationItem], value: str) -> Any:
    value = value.strip()
    if not value:
        return None
    found = model.objects.filter(name__iexact=value, is_active=True).first()
    if found is None and ":" in value:
        # host:port (Prometheus' instance label) names the host's CI.
        found = model.objects.filter(name__iexact=value.rsplit(":", 1)[0], is_active=True).first()
    return found


def apply(rules: list[MappingRule], alert: Alert, integration: Integration, key: str) -> Mapping:
    values = context(alert, integration, key)
    result = Mapping(title=alert.title, description=alert.description)
    chosen: dict[str, Any] = {}
    applied: list[str] = []
    for rule in rules:
        if not matches(rule, alert.labels):
            continue
        applied.append(str(rule))
        found: dict[str, Any] = {
            "service": rule.service or (
                _by_name(Service, alert.labels.get(rule.service_label, ""))
                if rule.service_label else None
            ),
            "configuration_item": rule.configuration_item or (
                _by_name(ConfigurationItem, alert.labels.get(rule.ci_label, ""))
                if rule.ci_label else None
            ),
            "technology": rule.technology,
            "category": rule.category,
            "severity": rule.severity,
            "affected_users": rule.affected_users,
            "title": render(rule.title_template, values).strip() if rule.title_template else "",
            "description": render(rule.description_template, values)
            if rule.description_template else "",
        }  # fmt: skip
        for name, value in found.items():
            if value not in (None, "") and name not in chosen:
                chosen[name] = value
                if name == "severity":
                    result.severity_rule = str(rule)
        if rule.stop:
            break
    for name, value in chosen.items():
        setattr(result, name, value)
    if result.severity is None and alert.severity is not None:
        result.severity, result.severity_rule = alert.severity, "the sender"
    if result.affected_users is None:
        result.affected_users = alert.affected_users
    result.title = (result.title or alert.title or key)[:200]
    result.rules = tuple(applied)
    return result
