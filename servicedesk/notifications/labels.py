"""Readable words for the codes that appear in messages, in each message language.

Messages must never show a raw code (``in_progress``, ``awaiting_user``): the
context builder turns every code into its label here. The labels are kept in
this module rather than in gettext catalogues so that a message renders in
the recipient's language whatever the web UI's translations hold.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import formats, timezone, translation

LABELS: dict[str, dict[str, dict[str, str]]] = {
    "status": {
        "en": {"new": "new", "assigned": "assigned", "in_progress": "in progress",
               "pending": "waiting", "resolved": "resolved", "closed": "closed",
               "cancelled": "cancelled"},
        "ru": {"new": "новый", "assigned": "назначен", "in_progress": "в работе",
               "pending": "в ожидании", "resolved": "решён", "closed": "закрыт",
               "cancelled": "отменён"},
    },
    "pending_reason": {
        "en": {"awaiting_user": "waiting for the user", "awaiting_vendor": "waiting for a vendor",
               "awaiting_problem": "waiting for a problem fix"},
        "ru": {"awaiting_user": "ожидание ответа пользователя",
               "awaiting_vendor": "ожидание поставщика",
               "awaiting_problem": "ожидание устранения проблемы"},
    },
    "resolution_code": {
        "en": {"known_error": "resolved by a known error's workaround",
               "workaround": "workaround applied", "permanent_fix": "permanent fix",
               "configuration": "configuration changed", "user_instruction": "user instructed",
               "no_fault_found": "no fault found", "duplicate": "duplicate", "other": "other"},
        "ru": {"known_error": "решено обходным путём известной ошибки",
               "workaround": "применён обходной путь", "permanent_fix": "постоянное исправление",
               "configuration": "изменена конфигурация", "user_instruction": "пользователь проинструктирован",
               "no_fault_found": "неисправность не обнаружена", "duplicate": "дубликат",
               "other": "другое"},
    },
    "escalation_kind": {
        "en": {"functional": "functional", "hierarchical": "hierarchical"},
        "ru": {"functional": "функциональная", "hierarchical": "иерархическая"},
    },
    "escalation_reason": {
        "en": {"insufficient_knowledge": "insufficient knowledge at the previous level",
               "time_expired": "the agreed time expired", "other": "other reasons"},
        "ru": {"insufficient_knowledge": "недостаточно знаний на предыдущем уровне",
               "time_expired": "истекло согласованное время", "other": "другие причины"},
    },
    "support_level": {
        "en": {"1": "1st line", "2": "2nd line", "3": "3rd line"},
        "ru": {"1": "1-я линия", "2": "2-я линия", "3": "3-я линия"},
    },
    "source": {
        "en": {"phone": "phone", "email": "e-mail", "portal": "self-service portal",
               "walk_in": "walk-in", "monitoring": "monitoring", "api": "integration"},
        "ru": {"phone": "телефон", "email": "электронная почта", "portal": "портал самообслуживания",
               "walk_in": "личное обращение", "monitoring": "мониторинг", "api": "интеграция"},
    },
    "clock": {
        "en": {"respond": "response", "resolve": "resolution"},
        "ru": {"respond": "реакции", "resolve": "решения"},
    },
    "severity": {
        "en": {"1": "1 (critical)", "2": "2 (high)", "3": "3 (medium)", "4": "4 (low)"},
        "ru": {"1": "1 (критическая)", "2": "2 (высокая)", "3": "3 (средняя)", "4": "4 (низкая)"},
    },
}  # fmt: skip

# Words the templates need outside the tables above.
WORDS: dict[str, dict[str, str]] = {
    "en": {"no_contact": "no phone or e-mail on record", "service_desk": "Service Desk",
           "system": "ServiceDesk"},
    "ru": {"no_contact": "телефон и e-mail не указаны", "service_desk": "Служба поддержки",
           "system": "ServiceDesk"},
}  # fmt: skip


def language_of(code: str | None) -> str:
    """A message language we have templates for: the code if supported, else English."""
    return code if code in WORDS else "en"


def label(table: str, code: object, language: str) -> str:
    """The label of ``code`` in ``table``; unknown codes read as words, never as ``a_b``."""
    if code is None or code == "":
        return ""
    key = str(code)
    value = LABELS.get(table, {}).get(language, {}).get(key)
    if value is None:
        value = LABELS.get(table, {}).get("en", {}).get(key)
    return value if value is not None else key.replace("_", " ")


def word(name: str, language: str) -> str:
    return WORDS[language_of(language)][name]


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def when(value: datetime | str | None, language: str, time_zone: str | None) -> str:
    """A moment as the recipient reads it: their language, their time zone."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    assert isinstance(value, datetime)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, zone("UTC"))
    local = value.astimezone(zone(time_zone))
    with translation.override(language_of(language)):
        text = formats.date_format(local, "DATETIME_FORMAT")
    return f"{text} ({local.tzname()})"
