"""The labelled English/Russian paraphrase set: top-3 hit rate of at least 90%
(issue 4), on whichever database the suite runs (SQLite FTS5 or PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection

from servicedesk.knownerrors import matchset
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db

MIN_HIT_RATE = 0.90


def test_paraphrase_set_top3_hit_rate(org: Org) -> None:
    known_errors = matchset.install(org.problem_manager)
    result = matchset.evaluate(known_errors)
    report = "\n".join(result.misses)
    print(f"{connection.vendor}: top-3 hit rate {result.hit_rate:.1%} over {result.total} queries "
          f"(en {result.language_rate('en'):.1%}, ru {result.language_rate('ru'):.1%})\n{report}")  # fmt: skip
    assert result.total >= 100
    assert set(result.by_language) == {"en", "ru"}
    assert result.distractors_returned == []  # drafts and closed known errors never match
    assert result.hit_rate >= MIN_HIT_RATE, report
