"""Matching incidents to known errors: the 1st line's search tool (issue 4).

Index: each matchable known error (workaround published, not closed) keeps
``search_text``, the stems of its title, symptoms, keywords and error codes
(``text.py``), and a row in the side table ``knownerrors_search`` written
here in the same transaction: on PostgreSQL a narrow table with a
``tsvector`` over the stems ('simple' configuration, GIN index), on SQLite an
FTS5 table (migration 0002). Written by the services rather than by triggers:
Django rebuilds SQLite tables on ALTER and would drop triggers silently.

Query: the stems of the incident text form an OR (an AND of all terms
misses paraphrases). The database retrieves the best ``RETRIEVE`` rows:
PostgreSQL by the sum of the matched terms' inverse document frequencies,
SQLite by FTS5's bm25. Those rows are then scored the same way on both
databases, so the same data gives the same answer:

    text  = sum(idf(t) * saturation(tf, length)) / sum(idf(t))  over query terms
    score = text + boosts (same CI, service, technology, error code)

and every match says why (``reasons``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from servicedesk.catalog.models import ConfigurationItem, Service, Technology

from . import text as textmod
from .models import Audience, ErrorCode, IndexStatistic, KnownError, Status, TermStatistic

INDEX_TABLE = "knownerrors_search"
# Candidates the database hands over for scoring.
RETRIEVE = 100
# A term in more than this share of known errors retrieves nothing useful on
# its own (it still counts in the score); at least MIN_RETRIEVAL_TERMS stay.
MAX_RETRIEVAL_SHARE = 0.05
MIN_RETRIEVAL_DF = 1000
MIN_RETRIEVAL_TERMS = 2
# BM25 saturation parameters.
# b = 0.3, not the usual 0.75: a bilingual known error is twice as long as a
# monolingual one without being less relevant, and 0.75 buried such entries
# under short ones (bench/matching.py, 100,000 known errors: top-3 87.5% at
# 0.75, 90.8% at 0.3).
K1 = 1.2
B = 0.3

BOOSTS = {
    "error_code": 0.5,
    "configuration_item": 0.3,
    "service": 0.15,
    "technology": 0.1,
}


# ---- the index ---------------------------------------------------------------------------


def document_parts(known_error: KnownError, codes: Iterable[str]) -> list[str]:
    return [known_error.title, known_error.symptoms, known_error.keywords, " ".join(codes)]


def document_stems(known_error: KnownError, codes: Iterable[str]) -> list[str]:
    codes = list(codes)
    result = [s for part in document_parts(known_error, []) for s in textmod.stems(part)]
    # Codes count as written and as normalised ("E-1042" also as "e1042").
    result += [textmod.normalise_code(c) for c in codes if textmod.normalise_code(c)]
    return result


def _bump(stems: set[str], delta: int) -> None:
    if not stems:
        return
    ordered = sorted(stems)  # one lock order for concurrent writers
    if delta > 0:
        TermStatistic.objects.bulk_create(
            [TermStatistic(stem=s, documents=0) for s in ordered], ignore_conflicts=True
        )
    TermStatistic.objects.filter(stem__in=ordered).update(documents=F("documents") + delta)


def _bump_totals(documents: int, tokens: int) -> None:
    for name, delta in (("documents", documents), ("tokens", tokens)):
        if delta and not IndexStatistic.objects.filter(name=name).update(value=F("value") + delta):
            try:
                with transaction.atomic():
                    IndexStatistic.objects.create(name=name, value=delta)
            except IntegrityError:
                IndexStatistic.objects.filter(name=name).update(value=F("value") + delta)


def _write_index(pk: int, search_text: str, portal: bool) -> None:
    """The side index table's row for one known error (none when not matchable)."""
    with connection.cursor() as cursor:
        key = "id" if connection.vendor == "postgresql" else "rowid"
        if not search_text:
            cursor.execute(f"DELETE FROM {INDEX_TABLE} WHERE {key} = %s", [pk])  # noqa: S608
        elif connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {INDEX_TABLE} (id, portal, search_vector) "  # noqa: S608
                "VALUES (%s, %s, strip(to_tsvector('simple', %s))) "
                "ON CONFLICT (id) DO UPDATE SET portal = EXCLUDED.portal, "
                "search_vector = EXCLUDED.search_vector",
                [pk, portal, search_text],
            )
        else:
            cursor.execute(f"DELETE FROM {INDEX_TABLE} WHERE rowid = %s", [pk])  # noqa: S608
            cursor.execute(
                f"INSERT INTO {INDEX_TABLE} (rowid, search_text, portal) VALUES (%s, %s, %s)",  # noqa: S608
                [pk, search_text, int(portal)],
            )


def reindex(known_error: KnownError) -> None:
    """Bring the known error's index entry and the term statistics up to date
    (inside the caller's transaction)."""
    row = KnownError.objects.filter(pk=known_error.pk).values("search_text").first()
    old_text = row["search_text"] if row else ""
    if known_error.is_matchable:
        codes = list(known_error.codes.values_list("code", flat=True))
        new_stems = document_stems(known_error, codes)
    else:
        new_stems = []
    new_text = " ".join(new_stems)
    portal = known_error.audience == Audience.PORTAL
    if new_text != old_text:
        old_stems = old_text.split()
        old_set, new_set = set(old_stems), set(new_stems)
        _bump(new_set - old_set, +1)
        _bump(old_set - new_set, -1)
        _bump_totals(
            documents=(1 if new_stems else 0) - (1 if old_stems else 0),
            tokens=len(new_stems) - len(old_stems),
        )
        KnownError.objects.filter(pk=known_error.pk).update(
            search_text=new_text, search_length=len(new_stems)
        )
        known_error.search_text, known_error.search_length = new_text, len(new_stems)
    # Also when only the audience changed (support <-> portal).
    if new_text or old_text:
        _write_index(known_error.pk, new_text, portal)


@transaction.atomic
def rebuild() -> int:
    """Recompute every index entry and the statistics from scratch (after bulk
    loads, or to repair); returns the number of matchable known errors."""
    codes: dict[int, list[str]] = {}
    for ke_id, code in ErrorCode.objects.values_list("known_error_id", "code"):
        codes.setdefault(ke_id, []).append(code)
    df: Counter[str] = Counter()
    documents = tokens = 0
    batch: list[KnownError] = []
    for ke in KnownError.objects.order_by("pk").iterator(chunk_size=2000):
        stems = document_stems(ke, codes.get(ke.pk, [])) if ke.is_matchable else []
        new_text = " ".join(stems)
        if stems:
            documents += 1
            tokens += len(stems)
            df.update(set(stems))
        if new_text != ke.search_text or len(stems) != ke.search_length:
            ke.search_text, ke.search_length = new_text, len(stems)
            batch.append(ke)
        if len(batch) >= 2000:
            KnownError.objects.bulk_update(batch, ["search_text", "search_length"])
            batch = []
    if batch:
        KnownError.objects.bulk_update(batch, ["search_text", "search_length"])
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {INDEX_TABLE}")  # noqa: S608
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {INDEX_TABLE} (id, portal, search_vector) "  # noqa: S608
                "SELECT id, audience = 'portal', strip(to_tsvector('simple', search_text)) "
                "FROM knownerrors_knownerror WHERE search_text <> ''"
            )
        else:
            cursor.execute(
                f"INSERT INTO {INDEX_TABLE} (rowid, search_text, portal) "  # noqa: S608
                "SELECT id, search_text, audience = 'portal' FROM knownerrors_knownerror "
                "WHERE search_text != ''"
            )
    TermStatistic.objects.all().delete()
    TermStatistic.objects.bulk_create(
        [TermStatistic(stem=s, documents=n) for s, n in df.items()], batch_size=5000
    )
    IndexStatistic.objects.all().delete()
    IndexStatistic.objects.bulk_create(
        [
            IndexStatistic(name="documents", value=documents),
            IndexStatistic(name="tokens", value=tokens),
        ]
    )
    return documents


# ---- the query ---------------------------------------------------------------------------


@dataclass
class Query:
    text: str
    configuration_item: ConfigurationItem | None = None
    service: Service | None = None
    technology: Technology | None = None
    error_code: str = ""
    portal_only: bool = False
    limit: int = 10


@dataclass
class Match:
    known_error: KnownError
    score: float
    text_score: float
    reasons: list[str] = field(default_factory=list)


def _idf(documents: int, df: int) -> float:
    return math.log(1 + (documents - df + 0.5) / (df + 0.5))


def _retrieval_terms(weights: dict[str, tuple[int, float]], documents: int) -> list[str]:
    """The terms the database retrieves by: the rare ones (see MAX_RETRIEVAL_SHARE)."""
    limit = max(MIN_RETRIEVAL_DF, int(documents * MAX_RETRIEVAL_SHARE))
    by_rarity = sorted(weights, key=lambda t: (weights[t][0], t))
    chosen = [t for t in by_rarity if weights[t][0] <= limit]
    if len(chosen) < MIN_RETRIEVAL_TERMS:
        chosen = by_rarity[:MIN_RETRIEVAL_TERMS]
    return chosen


def _retrieve_postgresql(
    terms: Sequence[str], weights: dict[str, tuple[int, float]], portal_only: bool
) -> list[int]:
    # Retrieve by the (rare) ``terms``; rank by the sum of the idf of every
    # query term a row contains, computed by the database over the GIN hits of
    # the narrow index table: a common word never outranks a rare one, and the
    # common words still separate rows that share the rare ones (at the cost
    # of a few more checks per row, no more rows read).
    cases = " + ".join(
        "CASE WHEN search_vector @@ to_tsquery('simple', %s) THEN %s ELSE 0 END" for _ in weights
    )
    params: list[Any] = []
    for term, (_, idf) in weights.items():
        params += [term, idf]
    portal = "AND portal" if portal_only else ""
    sql = (
        f"SELECT id FROM {INDEX_TABLE} "  # noqa: S608 (terms are parameters)
        f"WHERE search_vector @@ to_tsquery('simple', %s) {portal} "
        f"ORDER BY ({cases}) DESC, id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [" | ".join(terms), *params, RETRIEVE])
        return [row[0] for row in cursor.fetchall()]


def _retrieve_sqlite(terms: Sequence[str], portal_only: bool) -> list[int]:
    expression = " OR ".join(f'"{t}"' for t in terms)
    portal = "AND portal = 1" if portal_only else ""
    sql = (
        f"SELECT rowid FROM {INDEX_TABLE} WHERE {INDEX_TABLE} MATCH %s {portal} "  # noqa: S608
        f"ORDER BY bm25({INDEX_TABLE}) LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [expression, RETRIEVE])
        return [row[0] for row in cursor.fetchall()]


def _statistics(stems: Iterable[str]) -> tuple[int, float, dict[str, int]]:
    """Documents, average length and the document frequency of ``stems``, in one
    round trip (stems never contain ":", the totals' prefix)."""
    wanted = sorted(stems)
    placeholders = ", ".join(["%s"] * len(wanted)) or "NULL"
    sql = (
        "SELECT 'total:' || name, value FROM knownerrors_indexstatistic "  # noqa: S608
        "UNION ALL SELECT stem, documents FROM knownerrors_termstatistic "
        f"WHERE documents > 0 AND stem IN ({placeholders})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, wanted)
        rows = dict(cursor.fetchall())
    documents = int(rows.pop("total:documents", 0))
    tokens = int(rows.pop("total:tokens", 0))
    average = tokens / documents if documents else 1.0
    return documents, max(average, 1.0), {k: int(v) for k, v in rows.items()}


def _query_words(text: str) -> dict[str, str]:
    """stem -> the first word of the query that gave it (for readable reasons)."""
    shown: dict[str, str] = {}
    for word in textmod.words(text):
        stem = textmod._stem_word(word)
        if stem is not None and stem not in shown:
            shown[stem] = word
    return shown


def match(query: Query) -> list[Match]:
    """The known errors whose published workarounds fit the query, best first."""
    shown = _query_words(query.text)
    # The error code field is a boost (and finds known errors by code alone); it
    # counts as a word only when the text contains it too.
    code = textmod.normalise_code(query.error_code) if query.error_code else ""
    if not shown and not code:
        return []
    documents, average, df = _statistics(shown)
    weights = {t: (df[t], _idf(documents, df[t])) for t in shown if t in df}
    ids: list[int] = []
    if weights:
        terms = _retrieval_terms(weights, documents)
        if connection.vendor == "postgresql":
            ids = _retrieve_postgresql(terms, weights, query.portal_only)
        else:
            ids = _retrieve_sqlite(terms, query.portal_only)
    if code:
        code_hits = ErrorCode.objects.filter(normalised=code, known_error__search_length__gt=0)
        if query.portal_only:
            code_hits = code_hits.filter(known_error__audience=Audience.PORTAL)
        ids += [i for i in code_hits.values_list("known_error_id", flat=True)[:20] if i not in ids]
    if not ids:
        return []
    return _score(query, ids, shown, weights, average, code)


def _score(query: Query, ids: list[int], shown: dict[str, str],
           weights: dict[str, tuple[int, float]], average: float, code: str) -> list[Match]:  # fmt: skip
    rows = {
        ke.pk: ke
        for ke in KnownError.objects.filter(pk__in=ids, search_length__gt=0)
        .exclude(status=Status.CLOSED)
        .only("pk", "title", "status", "audience", "technology_id", "search_text", "search_length")
    }
    # Boost lookups only for what the query names (most queries name nothing).
    cis: dict[int, set[int]] = {}
    if query.configuration_item is not None:
        through_ci = KnownError.configuration_items.through.objects.filter(
            knownerror_id__in=rows, configurationitem_id=query.configuration_item.pk
        )
        for ke_id, ci_id in through_ci.values_list("knownerror_id", "configurationitem_id"):
            cis.setdefault(ke_id, set()).add(ci_id)
    services: dict[int, set[int]] = {}
    if query.service is not None:
        through_service = KnownError.services.through.objects.filter(
            knownerror_id__in=rows, service_id=query.service.pk
        )
        for ke_id, service_id in through_service.values_list("knownerror_id", "service_id"):
            services.setdefault(ke_id, set()).add(service_id)
    codes: dict[int, list[str]] = {}
    if code:
        for ke_id, raw in ErrorCode.objects.filter(
            known_error_id__in=rows, normalised=code
        ).values_list("known_error_id", "code"):
            codes.setdefault(ke_id, []).append(raw)

    total_idf = sum(w for _, w in weights.values()) or 1.0
    matches: list[Match] = []
    for pk, ke in rows.items():
        tf = Counter(ke.search_text.split())
        length_norm = 1 - B + B * ke.search_length / average
        text_score = 0.0
        matched: list[str] = []
        for term, (_, idf) in weights.items():
            if tf[term]:
                # BM25 saturation; 1.0 for one occurrence in a document of average length.
                saturation = tf[term] * (K1 + 1) / (tf[term] + K1 * length_norm)
                text_score += idf * saturation
                matched.append(term)
        text_score /= total_idf
        reasons: list[str] = []
        boost = 0.0
        if matched:
            words = ", ".join(shown[t] for t in sorted(matched, key=lambda t: -weights[t][1]))
            reasons.append(f"matched {len(matched)} of {len(weights)} search terms: {words}")
        if code and pk in codes:
            boost += BOOSTS["error_code"]
            reasons.append(f"same error code: {codes[pk][0]}")
        if query.configuration_item is not None and query.configuration_item.pk in cis.get(pk, ()):
            boost += BOOSTS["configuration_item"]
            reasons.append(f"same configuration item: {query.configuration_item}")
        if query.service is not None and query.service.pk in services.get(pk, ()):
            boost += BOOSTS["service"]
            reasons.append(f"same service: {query.service}")
        if query.technology is not None and ke.technology_id == query.technology.pk:
            boost += BOOSTS["technology"]
            reasons.append(f"same technology: {query.technology}")
        if not matched and not (code and pk in codes):
            continue
        matches.append(Match(ke, round(text_score + boost, 4), round(text_score, 4), reasons))
    matches.sort(key=lambda m: (-m.score, m.known_error.pk))
    return matches[: query.limit]


def query_for_incident(incident: Any, limit: int = 10) -> Query:
    """What an incident says about itself, as a matching query."""
    return Query(
        text=f"{incident.title}\n{incident.description}", limit=limit,
        configuration_item=incident.configuration_item, service=incident.service,
        technology=incident.technology,
    )  # fmt: skip


def evidence_for(incident: Any, known_error_id: int) -> dict[str, Any] | None:
    """How well ``known_error_id`` matches ``incident`` (score and reasons), kept
    with an applied workaround; ``None`` when it is not among the matches."""
    found = next(
        (m for m in match(query_for_incident(incident, 20)) if m.known_error.pk == known_error_id),
        None,
    )
    return {"score": found.score, "reasons": found.reasons} if found else None
