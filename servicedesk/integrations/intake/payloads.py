"""What senders POST, turned into :class:`Alert` records. Pure functions, no database.

Vendor payloads ignore fields they do not know (senders add fields between
versions); the generic format is ours and strict. A payload that is not what
its endpoint expects raises :class:`PayloadError` (HTTP 422, with a location).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticError

from servicedesk.core.schemas import StrictIn
from servicedesk.core.validation import Count, SafeDateTime, SafeText, clean_text

FIRING, RESOLVED = "firing", "resolved"
MAX_ALERTS = 10_000
KEY_MAX = 200

LabelName = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(clean_text)
]
LabelValue = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(clean_text)]
Labels = Annotated[dict[LabelName, LabelValue], Field(max_length=500)]
Url = Annotated[str, StringConstraints(max_length=2_000), AfterValidator(clean_text)]


class PayloadError(Exception):
    """The payload is not what the endpoint expects: 422 with pydantic-style details."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors

    @classmethod
    def at(cls, loc: list[str | int], msg: str) -> PayloadError:
        return cls([{"loc": ["body", *loc], "msg": msg, "type": "value_error"}])


@dataclass
class Alert:
    """One alert, whatever sent it."""

    key: str  # the source's own de-duplication key
    status: str  # firing | resolved
    title: str
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    source_url: str = ""
    starts_at: datetime | None = None
    # The alert's own identity under a shared key (e.g. its fingerprint when the
    # key is a label set): the key resolves when its last identity resolves.
    identity: str = ""
    severity: int | None = None
    affected_users: int | None = None

    def __post_init__(self) -> None:
        self.identity = self.identity or self.key


def short_key(value: str) -> str:
    """Keys longer than the column are replaced by their digest (stable, unique enough)."""
    if len(value) <= KEY_MAX:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def labels_key(labels: dict[str, str]) -> str:
    return short_key(",".join(f"{k}={labels[k]}" for k in sorted(labels)))


def _validate(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        raise PayloadError(
            [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        ) from None


# ---- Alertmanager (webhook payload version 4) and Grafana unified alerting ------------


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PromAlert(_Lenient):
    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Labels = {}
    startsAt: SafeDateTime | None = None
    generatorURL: Url = ""
    fingerprint: Annotated[str, StringConstraints(max_length=200)] = ""


class AlertmanagerPayload(_Lenient):
    """The body Alertmanager POSTs to a webhook receiver (``version: "4"``)."""

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    alerts: Annotated[list[PromAlert], Field(max_length=MAX_ALERTS)]
    receiver: Annotated[str, StringConstraints(max_length=500)] = ""
    groupKey: Annotated[str, StringConstraints(max_length=10_000)] = ""
    externalURL: Url = ""


class GrafanaAlert(PromAlert):
    dashboardURL: Url = ""
    panelURL: Url = ""
    valueString: Annotated[str, StringConstraints(max_length=10_000)] = ""


class GrafanaPayload(_Lenient):
    """Grafana alerting's webhook contact point (Grafana 8+, ``version: "1"``)."""

    status: Literal["firing", "resolved"]
    alerts: Annotated[list[GrafanaAlert], Field(max_length=MAX_ALERTS)]
    externalURL: Url = ""


class GrafanaLegacyPayload(_Lenient):
    """The legacy (pre-8) Grafana dashboard alert notification."""

    ruleId: int | None = None
    ruleName: Annotated[str, StringConstraints(max_length=500)] = ""
    state: Literal["alerting", "ok", "no_data", "paused", "pending"]
    title: Annotated[str, StringConstraints(max_length=500)] = ""
    message: SafeText = ""
    ruleUrl: Url = ""
    tags: Labels = {}


def _prom_alert(a: PromAlert, extra_description: str = "") -> Alert:
    labels, annotations = dict(a.labels), dict(a.annotations)
    title = annotations.get("summary") or annotations.get("title") or labels.get("alertname", "")
    if not title:
        title = "Alert " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    instance = labels.get("instance") or labels.get("host")
    if instance and instance not in title and "summary" not in annotations:
        title = f"{title} on {instance}"
    parts = [annotations.get("description", ""), extra_description]
    parts.append("Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    if a.generatorURL:
        parts.append(f"Source: {a.generatorURL}")
    return Alert(
        key=short_key(a.fingerprint) if a.fingerprint else labels_key(labels),
        status=a.status,
        title=title,
        description="\n\n".join(p for p in parts if p),
        labels=labels,
        annotations=annotations,
        source_url=a.generatorURL,
        starts_at=a.startsAt,
        identity=a.fingerprint or labels_key(labels),
    )


def parse_alertmanager(data: Any) -> list[Alert]:
    if isinstance(data, dict) and "version" in data and data["version"] != "4":
        raise PayloadError.at(
            ["version"], f"unsupported Alertmanager payload version {data['version']!r}; need '4'"
        )
    payload = _validate(AlertmanagerPayload, data)
    return [_prom_alert(a) for a in payload.alerts]


def parse_grafana(data: Any) -> list[Alert]:
    if isinstance(data, dict) and "alerts" not in data and "state" in data:
        legacy = _validate(GrafanaLegacyPayload, data)
        key = f"rule:{legacy.ruleId}" if legacy.ruleId is not None else legacy.ruleName
        if not key:
            raise PayloadError.at(["ruleId"], "a legacy notification needs ruleId or ruleName")
        labels = {"alertname": legacy.ruleName, **legacy.tags}
        return [
            Alert(
                key=short_key(key),
                status=RESOLVED if legacy.state == "ok" else FIRING,
                title=legacy.title or legacy.ruleName or key,
                description=legacy.message,
                labels={k: v for k, v in labels.items() if v},
                source_url=legacy.ruleUrl,
            )
        ]
    payload = _validate(GrafanaPayload, data)
    alerts = []
    for a in payload.alerts:
        extra = f"Values: {a.valueString}" if a.valueString else ""
        alert = _prom_alert(a, extra)
        alert.source_url = a.panelURL or a.dashboardURL or a.generatorURL
        alerts.append(alert)
    return alerts


# ---- Zabbix ---------------------------------------------------------------------------
# Zabbix webhook bodies are whatever the media type's script builds from its
# parameters, so we read the usual names in any of their spellings: EVENT.ID,
# event.id, eventid, event_id; values may be strings or numbers; a macro
# Zabbix did not expand ("{EVENT.RECOVERY.ID}") counts as absent.

_MACRO = re.compile(r"^\{[A-Z0-9_.]+\}$")
_ZABBIX_SEVERITIES = ["Not classified", "Information", "Warning", "Average", "High", "Disaster"]


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _present(value: Any) -> bool:
    return (
        value is not None and value != "" and not (isinstance(value, str) and _MACRO.match(value))
    )


def _zabbix_tags(value: Any) -> dict[str, str]:
    """Tags as a dict from any shape Zabbix scripts send: {"tag": ["v"]}, {"tag": "v"},
    [{"tag": .., "value": ..}], the JSON text of those ({EVENT.TAGSJSON}), or
    "tag:value, tag2:value2" ({EVENT.TAGS})."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "[{":
            try:
                return _zabbix_tags(json.loads(text))
            except ValueError:
                pass
        tags: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in text.split(","))):
            name, _, tag_value = item.partition(":")
            tags.setdefault(name.strip(), tag_value.strip())
        return tags
    if isinstance(value, dict):
        return {
            str(k): ",".join(map(str, v)) if isinstance(v, list) else str(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        tags = {}
        for item in value:
            if isinstance(item, dict) and "tag" in item:
                name, tag_value = str(item["tag"]), str(item.get("value", ""))
                tags[name] = f"{tags[name]},{tag_value}" if name in tags else tag_value
        return tags
    return {}


def _text(value: Any, limit: int = 10_000) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    return clean_text(str(value).replace("\x00", ""))[:limit]


def parse_zabbix(data: Any) -> list[Alert]:
    if not isinstance(data, dict):
        raise PayloadError.at([], "a Zabbix payload is a JSON object")
    fields = {_norm(k): v for k, v in data.items() if _present(v)}

    def pick(*names: str) -> Any:
        return next((fields[n] for n in names if n in fields), None)

    event_id = pick("event_id", "eventid", "problem_id")
    if event_id is None or not _text(event_id).strip():
        raise PayloadError.at(["event_id"], "the Zabbix event id ({EVENT.ID}) is required")
    value = _text(pick("event_value", "value", "event_status", "status", "trigger_status"))
    value = value.strip().upper()
    if value in {"0", "OK", "RESOLVED", "RECOVERY"} or pick("event_recovery_id", "recovery_id"):
        status = RESOLVED
    elif value in {"", "1", "PROBLEM", "FIRING", "UPDATE"}:
        status = FIRING
    else:
        raise PayloadError.at(["event_value"], f"unknown event value {value!r}")

    tags = _zabbix_tags(pick("event_tags", "event_tagsjson", "tags") or {})
    host = _text(pick("host_host", "host_name", "hostname", "host"), 200)
    severity_name = _text(pick("event_severity", "severity", "trigger_severity"), 100)
    nseverity = _text(pick("event_nseverity", "nseverity", "trigger_nseverity"), 10)
    if not severity_name and nseverity.isdigit() and int(nseverity) < len(_ZABBIX_SEVERITIES):
        severity_name = _ZABBIX_SEVERITIES[int(nseverity)]
    labels = {k[:200]: v[:10_000] for k, v in tags.items() if k}
    for name, item in (("host", host), ("severity", severity_name), ("nseverity", nseverity),
                       ("host_groups", _text(pick("host_groups"), 1000)),
                       ("trigger_id", _text(pick("trigger_id"), 100))):  # fmt: skip
        if item:
            labels.setdefault(name, item)

    name = _text(pick("event_name", "trigger_name", "problem_name", "name"), 500)
    subject = _text(pick("subject", "alert_subject"), 500)
    title = name or subject or f"Zabbix event {_text(event_id)}"
    if host and host not in title:
        title = f"{title} on {host}"
    parts = [
        _text(pick("trigger_description", "description"), 50_000),
        _text(pick("operation_data", "event_opdata"), 5_000),
        _text(pick("message", "alert_message"), 50_000),
        "Tags: " + ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) if tags else "",
    ]
    return [
        Alert(
            key=short_key(_text(event_id, 500).strip()),
            status=status,
            title=title,
            description="\n\n".join(p for p in parts if p),
            labels=labels,
            source_url=_text(pick("event_url", "trigger_url", "zabbix_url", "url"), 2_000),
        )
    ]


# ---- generic (our own documented format) --------------------------------------------


class GenericAlertIn(StrictIn):
    """ServiceDesk's generic alert: one JSON object per request."""

    key: Annotated[
        str,
        StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
        AfterValidator(clean_text),
    ] = Field(description="De-duplication key: alerts with one key share an open incident.")
    status: Literal["firing", "resolved"] = "firing"
    title: Annotated[str, StringConstraints(max_length=200), AfterValidator(clean_text)] = Field(
        "", description="Required when firing."
    )
    description: SafeText = ""
    labels: Labels = {}
    source_url: Url = ""
    severity: Annotated[int, Field(ge=1, le=9)] | None = Field(
        None, description="Severity to set when no mapping rule sets one."
    )
    affected_users: Count | None = Field(None, description="Users unable to work (default 0).")
    occurred_at: SafeDateTime | None = None


def parse_generic(data: Any) -> list[Alert]:
    payload = _validate(GenericAlertIn, data)
    if payload.status == FIRING and not payload.title.strip():
        raise PayloadError.at(["title"], "a firing alert needs a title")
    return [
        Alert(
            key=payload.key,
            status=payload.status,
            title=payload.title.strip(),
            description=payload.description,
            labels=dict(payload.labels),
            source_url=payload.source_url,
            starts_at=payload.occurred_at,
            severity=payload.severity,
            affected_users=payload.affected_users,
        )
    ]


PARSERS: dict[str, Callable[[Any], list[Alert]]] = {
    "alertmanager": parse_alertmanager,
    "zabbix": parse_zabbix,
    "grafana": parse_grafana,
    "generic": parse_generic,
}


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` inlined (for an OpenAPI request body)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result
