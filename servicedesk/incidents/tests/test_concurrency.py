"""Concurrent requests against a real (file-backed) database."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections

from servicedesk.incidents.models import Incident
from servicedesk.testing.api import ApiClient
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db(transaction=True)


def in_threads(count: int, work: Any) -> list[Any]:
    results: list[Any] = [None] * count
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_retries_with_one_idempotency_key_create_one_incident(org: Org) -> None:
    client = ApiClient(org.desk_agent)
    responses = in_threads(4, lambda i: client.post("/incidents", {"title": "Storm"},
                                                    headers={"Idempotency-Key": "same"}))  # fmt: skip
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert Incident.objects.filter(title="Storm").count() == 1


def test_concurrent_edits_with_the_same_etag_let_exactly_one_win(org: Org) -> None:
    client = ApiClient(org.desk_agent)
    created = client.post("/incidents", {"title": "Race"}).json()
    url = f"/incidents/{created['id']}"
    etag = client.get(url)["ETag"]
    responses = in_threads(
        4, lambda i: client.patch(url, {"title": f"Edit {i}"}, headers={"If-Match": etag})
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 412, 412, 412]
    winner = next(r for r in responses if r.status_code == 200).json()["title"]
    assert Incident.objects.get(pk=created["id"]).title == winner
    assert Incident.objects.get(pk=created["id"]).version == 2
