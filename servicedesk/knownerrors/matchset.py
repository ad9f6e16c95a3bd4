"""The labelled English/Russian paraphrase set for known-error matching.

Shared by the test that runs in ``make test`` (both databases) and by
``bench/matching.py``. The fixtures and how they were built:
``fixtures/matching_known_errors.json``, ``fixtures/matching_queries.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servicedesk.accounts.models import User
from servicedesk.catalog.models import ConfigurationItem, Service

from . import search, services
from .models import Audience, KnownError

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load() -> tuple[dict[str, Any], dict[str, Any]]:
    known_errors = json.loads((FIXTURES / "matching_known_errors.json").read_text("utf-8"))
    queries = json.loads((FIXTURES / "matching_queries.json").read_text("utf-8"))
    return known_errors, queries


def _catalogue(entry: dict[str, Any]) -> tuple[list[ConfigurationItem], list[Service]]:
    cis = [
        ConfigurationItem.objects.get_or_create(name=n)[0]
        for n in entry.get("configuration_items", [])
    ]
    services_ = (
        [Service.objects.get_or_create(name=entry["service"])[0]] if entry.get("service") else []
    )
    return cis, services_


def install(actor: User | None) -> dict[str, KnownError]:
    """Create the set's known errors (and its distractors) through the services."""
    data, _ = load()
    created: dict[str, KnownError] = {}
    for entry in data["known_errors"] + data["drafts"]:
        cis, services_ = _catalogue(entry)
        ke = services.do_create_known_error(
            actor=actor, title=entry["title"], symptoms=entry["symptoms"],
            root_cause=entry["root_cause"], workaround=entry["workaround"],
            keywords=entry.get("keywords", ""), error_codes=entry.get("error_codes", []),
            configuration_items=cis, services=services_,
            audience=entry.get("audience", Audience.SUPPORT),
        )  # fmt: skip
        if entry.get("closed"):
            services.do_close_known_error(known_error=ke, actor=actor, reason="replaced")
        created[entry["key"]] = ke
    return created


@dataclass
class Evaluation:
    total: int = 0
    hits: int = 0
    by_language: dict[str, list[int]] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)
    distractors_returned: list[str] = field(default_factory=list)

    @property
    def hit_rate(self) -> float:
        return self.hits / self.total if self.total else 0.0

    def language_rate(self, lang: str) -> float:
        hits, total = self.by_language.get(lang, [0, 0])
        return hits / total if total else 0.0


def query_for(entry: dict[str, Any]) -> search.Query:
    ci = (
        ConfigurationItem.objects.filter(name=entry["configuration_item"]).first()
        if entry.get("configuration_item")
        else None
    )
    service = (
        Service.objects.filter(name=entry["service"]).first() if entry.get("service") else None
    )
    return search.Query(text=entry["text"], configuration_item=ci, service=service,
                        error_code=entry.get("error_code", ""), limit=3)  # fmt: skip


def evaluate(known_errors: dict[str, KnownError], top: int = 3) -> Evaluation:
    """Run every labelled query; a hit is the expected known error in the top ``top``."""
    data, queries = load()
    distractors = {
        known_errors[d["key"]].pk: d["key"] for d in data["drafts"] if d["key"] in known_errors
    }
    result = Evaluation()
    for entry in queries["queries"]:
        query = query_for(entry)
        query.limit = top
        found = search.match(query)
        ids = [m.known_error.pk for m in found]
        hit = known_errors[entry["expected"]].pk in ids
        result.total += 1
        result.hits += hit
        stats = result.by_language.setdefault(entry["lang"], [0, 0])
        stats[0] += hit
        stats[1] += 1
        if not hit:
            got = [m.known_error.title for m in found]
            result.misses.append(f"{entry['text']!r} -> expected {entry['expected']}, got {got}")
        result.distractors_returned += [distractors[i] for i in ids if i in distractors]
    return result
