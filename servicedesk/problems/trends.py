"""Problem prevention: trend analysis of closed incidents (SPEC 3, issue 4).

Population: incidents closed, opened within the last ``window_days``, and not
linked to any problem or known error ("closed incidents not matched to any
known problem"). A cluster is ``min_incidents`` or more of them sharing

- the same configuration item, service or category, or
- similar text: the titles' stem sets overlap (Jaccard) at least
  ``text_similarity``, joined transitively.

The rules are settings (``SERVICEDESK_TREND_*``) and can be overridden per
call; every cluster carries its evidence. The daily job proposes clusters as
problem candidates (one open candidate per cluster fingerprint; a dismissed
cluster is proposed again only when a newer incident joins it).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef

from servicedesk.core import clock
from servicedesk.incidents.models import Incident, Status
from servicedesk.knownerrors import text as textmod
from servicedesk.knownerrors.models import KnownErrorIncident

from . import conf
from .models import Candidate, ProblemIncident, Source

DIMENSIONS = ("configuration_item", "text", "service", "category")
POPULATION_LIMIT = 5000
# Words in more than this share of a large population join nothing by
# themselves (they still count in the similarity); small populations are
# compared in full.
COMMON_TERM_SHARE = 0.2
COMMON_TERM_MIN = 50


@dataclass(frozen=True)
class Rules:
    window_days: int
    min_incidents: int
    dimensions: tuple[str, ...]
    text_similarity: float

    def as_dict(self) -> dict[str, Any]:
        return {"window_days": self.window_days, "min_incidents": self.min_incidents,
                "dimensions": list(self.dimensions), "text_similarity": self.text_similarity}  # fmt: skip


def rules(**overrides: Any) -> Rules:
    """The configured rules, with any non-None ``overrides``."""
    dims = overrides.get("dimensions") or [
        d.strip() for d in str(conf.get("SERVICEDESK_TREND_DIMENSIONS")).split(",") if d.strip()
    ]
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown:
        from servicedesk.core.errors import FieldError

        raise FieldError(
            "dimensions", f"unknown dimension {unknown[0]!r}; use {', '.join(DIMENSIONS)}"
        )

    def pick(name: str, setting: str) -> Any:
        value = overrides.get(name)
        return value if value is not None else conf.get(setting)

    return Rules(
        window_days=int(pick("window_days", "SERVICEDESK_TREND_WINDOW_DAYS")),
        min_incidents=max(2, int(pick("min_incidents", "SERVICEDESK_TREND_MIN_INCIDENTS"))),
        dimensions=tuple(d for d in DIMENSIONS if d in dims),
        text_similarity=float(pick("text_similarity", "SERVICEDESK_TREND_TEXT_SIMILARITY")),
    )


@dataclass
class Cluster:
    rule: str
    key: str
    label: str
    incidents: list[Incident]
    shared_terms: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        return f"trend:{self.rule}:{self.key}"[:200]

    @property
    def first_opened_at(self) -> datetime:
        return min(i.opened_at for i in self.incidents)

    @property
    def last_opened_at(self) -> datetime:
        return max(i.opened_at for i in self.incidents)

    def explanation(self, rules: Rules) -> str:
        what = {
            "configuration_item": f"on configuration item {self.label}",
            "service": f"on service {self.label}",
            "category": f"in category {self.label}",
            "text": f"with similar titles ({self.label})",
        }[self.rule]
        return (
            f"{len(self.incidents)} closed incidents {what} opened within {rules.window_days} "
            f"days (rule: {rules.min_incidents} or more), none linked to a problem or known error"
        )

    def evidence(self, rules: Rules) -> dict[str, Any]:
        return {
            "rule": self.rule, "key": self.key, "label": self.label, "rules": rules.as_dict(),
            "count": len(self.incidents), "incidents": [i.pk for i in self.incidents],
            "first_opened_at": self.first_opened_at.isoformat(),
            "last_opened_at": self.last_opened_at.isoformat(),
            "shared_terms": self.shared_terms, "explanation": self.explanation(rules),
        }  # fmt: skip


def population(rules: Rules, now: datetime | None = None) -> list[Incident]:
    since = (now or clock.now()) - timedelta(days=rules.window_days)
    qs = (
        Incident.objects.filter(status=Status.CLOSED, opened_at__gte=since)
        .exclude(Exists(ProblemIncident.objects.filter(incident=OuterRef("pk"))))
        .exclude(Exists(KnownErrorIncident.objects.filter(incident=OuterRef("pk"))))
        .select_related("configuration_item", "service", "category")
        .order_by("-opened_at", "-id")
    )
    return list(qs[:POPULATION_LIMIT])


def _by_reference(incidents: list[Incident], rule: str, rules: Rules) -> list[Cluster]:
    groups: dict[int, list[Incident]] = defaultdict(list)
    for incident in incidents:
        key = getattr(incident, f"{rule}_id")
        if key is not None:
            groups[key].append(incident)
    return [
        Cluster(rule, str(key), str(getattr(members[0], rule)), sorted(members, key=lambda i: i.pk))
        for key, members in groups.items()
        if len(members) >= rules.min_incidents
    ]


def _by_text(incidents: list[Incident], rules: Rules) -> list[Cluster]:
    terms = {i.pk: textmod.stem_set(i.title) for i in incidents}
    frequency: Counter[str] = Counter(t for s in terms.values() for t in s)
    common = max(COMMON_TERM_MIN, int(len(incidents) * COMMON_TERM_SHARE))
    postings: dict[str, list[int]] = defaultdict(list)
    for pk, stems in terms.items():
        for stem in stems:
            if frequency[stem] <= common:
                postings[stem].append(pk)
    parent = {pk: pk for pk in terms}

    def find(pk: int) -> int:
        while parent[pk] != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    compared: set[tuple[int, int]] = set()
    for posting in postings.values():
        for index, a in enumerate(posting):
            for b in posting[index + 1 :]:
                pair = (min(a, b), max(a, b))
                if pair in compared:
                    continue
                compared.add(pair)
                union = terms[a] | terms[b]
                if union and len(terms[a] & terms[b]) / len(union) >= rules.text_similarity:
                    parent[find(a)] = find(b)
    groups: dict[int, list[Incident]] = defaultdict(list)
    by_pk = {i.pk: i for i in incidents}
    for pk in terms:
        groups[find(pk)].append(by_pk[pk])
    clusters = []
    for members in groups.values():
        if len(members) < rules.min_incidents:
            continue
        shared = Counter(t for m in members for t in terms[m.pk])
        top = [t for t, n in shared.most_common() if n >= 2][:3]
        members.sort(key=lambda i: i.pk)
        label = ", ".join(top)
        clusters.append(Cluster("text", "+".join(sorted(top)), label, members, top))
    return clusters


def find_clusters(rules: Rules, now: datetime | None = None) -> list[Cluster]:
    """Clusters by the rules, most specific dimension first; a cluster with the
    same incidents as an earlier (more specific) one is left out."""
    incidents = population(rules, now)
    found: list[Cluster] = []
    seen: set[frozenset[int]] = set()
    for rule in rules.dimensions:
        clusters = (
            _by_text(incidents, rules) if rule == "text" else _by_reference(incidents, rule, rules)
        )
        for cluster in sorted(clusters, key=lambda c: (-len(c.incidents), c.key)):
            members = frozenset(i.pk for i in cluster.incidents)
            if members in seen:
                continue
            seen.add(members)
            found.append(cluster)
    return found


@transaction.atomic
def propose(rules: Rules, now: datetime | None = None) -> list[tuple[Cluster, Candidate]]:
    """Record the clusters as problem candidates (idempotent per fingerprint)."""
    now = now or clock.now()
    proposed: list[tuple[Cluster, Candidate]] = []
    for cluster in find_clusters(rules, now):
        evidence = cluster.evidence(rules)
        reason = cluster.explanation(rules)
        candidate = (
            Candidate.objects.select_for_update()
            .filter(fingerprint=cluster.fingerprint, state=Candidate.State.OPEN)
            .first()
        )
        if candidate is None:
            decided = (
                Candidate.objects.filter(fingerprint=cluster.fingerprint)
                .exclude(state=Candidate.State.OPEN)
                .order_by("-decided_at")
                .first()
            )
            if (
                decided is not None
                and decided.decided_at
                and cluster.last_opened_at <= decided.decided_at
            ):
                continue  # nothing new since the problem manager decided
            title = f"Trend: {cluster.explanation(rules).split(' opened')[0]}"[:200]
            candidate = Candidate.objects.create(
                source=Source.TREND, fingerprint=cluster.fingerprint, title=title,
                reasons=[reason], evidence=evidence, created_at=now, updated_at=now,
            )  # fmt: skip
        else:
            candidate.reasons, candidate.evidence, candidate.updated_at = [reason], evidence, now
            candidate.save(update_fields=["reasons", "evidence", "updated_at"])
        candidate.incidents.set(cluster.incidents)
        proposed.append((cluster, candidate))
    return proposed
