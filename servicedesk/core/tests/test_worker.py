"""The worker loop through its real claim path: leases, fencing, rescheduling, retries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from servicedesk.core import clock, registry, scheduling
from servicedesk.core.leases import claim
from servicedesk.core.models import DueItem, DueRun, RowState
from servicedesk.core.registry import Reschedule, Skipped
from servicedesk.core.worker import DELIVERY_PAUSE_MAX, MAX_DUE_ATTEMPTS, Worker

pytestmark = pytest.mark.django_db

performed: list[str] = []


@registry.due_handler("tests.record")
def record(item: DueItem) -> Any:
    performed.append(item.key)
    action = item.payload.get("action")
    if action == "fail":
        raise RuntimeError("boom")
    if action == "again":
        return Reschedule(at=clock.now() + timedelta(minutes=5), payload={"action": "done"})
    if action == "skip":
        return Skipped("moved on")
    if action == "self-schedule":
        scheduling.schedule(key=item.key, kind="tests.record", at=clock.now() + timedelta(hours=1))
    if action == "write":
        # An effect in the perform's transaction: a second due item.
        scheduling.schedule(
            key=f"{item.key}:effect", kind="tests.record", at=clock.now() + timedelta(days=1)
        )
    return None


@pytest.fixture(autouse=True)
def _reset() -> None:
    performed.clear()


def due(key: str, at: Any = None, **payload: Any) -> None:
    scheduling.schedule(key=key, kind="tests.record", at=at or timezone.now(), payload=payload)


class TestClaim:
    def test_two_workers_never_claim_the_same_row(self) -> None:
        for i in range(10):
            due(f"k{i}")
        now = timezone.now()
        first = claim(DueItem, owner="a", now=now, lease_seconds=60, limit=6)
        second = claim(DueItem, owner="b", now=now, lease_seconds=60, limit=10)
        assert len(first) == 6
        assert len(second) == 4
        assert not {pk for pk, _ in first} & {pk for pk, _ in second}
        assert claim(DueItem, owner="c", now=now, lease_seconds=60, limit=10) == []

    def test_future_rows_are_not_claimed(self) -> None:
        due("later", at=timezone.now() + timedelta(minutes=1))
        assert claim(DueItem, owner="a", now=timezone.now(), lease_seconds=60, limit=10) == []

    def test_expired_lease_is_reclaimed_with_a_new_token(self) -> None:
        due("k")
        now = timezone.now()
        [(pk, token_a)] = claim(DueItem, owner="a", now=now, lease_seconds=30, limit=1)
        assert (
            claim(DueItem, owner="b", now=now + timedelta(seconds=29), lease_seconds=30, limit=1)
            == []
        )
        [(pk_b, token_b)] = claim(
            DueItem, owner="b", now=now + timedelta(seconds=31), lease_seconds=30, limit=1
        )
        assert pk_b == pk
        assert token_b == token_a + 1
        assert DueItem.objects.get(pk=pk).lease_owner == "b"

    @pytest.mark.skipif(
        connection.vendor != "postgresql", reason="SKIP LOCKED is PostgreSQL's fast path"
    )
    def test_claim_statement_uses_skip_locked_on_postgresql(
        self, django_assert_num_queries: Any
    ) -> None:
        due("k")
        with django_assert_num_queries(1) as captured:
            claim(DueItem, owner="a", now=timezone.now(), lease_seconds=30, limit=5)
        assert "SKIP LOCKED" in captured.captured_queries[0]["sql"]


class TestPerform:
    def test_performs_logs_and_marks_done(self) -> None:
        due("k", action="write")
        worker = Worker(name="w1")
        assert worker.run_due_once() == 1
        item = DueItem.objects.get(key="k")
        assert item.state == RowState.DONE
        assert item.done_at is not None
        run = DueRun.objects.get(item=item)
        assert (run.outcome, run.worker) == ("done", "w1")
        assert DueItem.objects.filter(key="k:effect").exists()
        assert worker.run_due_once() == 0

    def test_fenced_worker_commits_nothing(self) -> None:
        due("k", action="write")
        now = timezone.now()
        [(pk, stale)] = claim(DueItem, owner="a", now=now, lease_seconds=1, limit=1)
        with time_machine.travel(now + timedelta(seconds=5), tick=False):
            [(_, fresh)] = claim(DueItem, owner="b", now=timezone.now(), lease_seconds=60, limit=1)
            assert Worker(name="a").perform(pk, stale) == "fenced"
            assert not DueItem.objects.filter(key="k:effect").exists()
            assert Worker(name="b").perform(pk, fresh) == "done"
        assert DueRun.objects.filter(item_id=pk).count() == 1
        assert DueItem.objects.filter(key="k:effect").exists()

    def test_rescheduling_by_a_service_fences_the_holder(self) -> None:
        due("k", action="write")
        [(pk, token)] = claim(DueItem, owner="a", now=timezone.now(), lease_seconds=60, limit=1)
        later = timezone.now() + timedelta(hours=2)
        scheduling.schedule(key="k", kind="tests.record", at=later)
        assert Worker(name="a").perform(pk, token) == "fenced"
        item = DueItem.objects.get(pk=pk)
        assert item.state == RowState.PENDING
        assert item.scheduled_at == later
        assert performed == []  # the token check stopped it before the handler ran
        assert not DueItem.objects.filter(key="k:effect").exists()

    def test_handler_reschedule_and_skip(self) -> None:
        due("again", action="again")
        due("skip", action="skip")
        Worker().run_due_once()
        again = DueItem.objects.get(key="again")
        assert again.state == RowState.PENDING
        assert again.payload == {"action": "done"}
        assert DueItem.objects.get(key="skip").state == RowState.DONE
        assert list(DueRun.objects.order_by("id").values_list("outcome", flat=True)) == [
            "rescheduled",
            "skipped",
        ]

    def test_a_handler_may_reschedule_its_own_key(self) -> None:
        due("k", action="self-schedule")
        Worker().run_due_once()
        item = DueItem.objects.get(key="k")
        assert item.state == RowState.PENDING
        assert item.due_at > timezone.now() + timedelta(minutes=59)

    def test_failures_retry_with_backoff_then_fail(self) -> None:
        due("k", action="fail")
        worker = Worker()
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            worker.run_due_once()
        item = DueItem.objects.get(key="k")
        assert (item.state, item.attempts) == (RowState.PENDING, 1)
        assert item.due_at == start + timedelta(seconds=5)
        assert "boom" in item.last_error
        moment = start
        for _ in range(MAX_DUE_ATTEMPTS - 1):
            moment += timedelta(hours=2)
            with time_machine.travel(moment, tick=False):
                worker.run_due_once()
        item.refresh_from_db()
        assert (item.state, item.attempts) == (RowState.FAILED, MAX_DUE_ATTEMPTS)
        assert DueRun.objects.count() == 0

    def test_unknown_kind_is_an_error_not_a_silent_drop(self) -> None:
        scheduling.schedule(key="x", kind="nobody.handles.this", at=timezone.now())
        Worker().run_due_once()
        item = DueItem.objects.get(key="x")
        assert item.state == RowState.PENDING
        assert "no handler" in item.last_error


class TestChunks:
    """Several claimed items are performed in one transaction (``Worker.chunk``)."""

    def test_a_chunk_settles_every_item_with_fewer_statements(
        self, django_assert_max_num_queries: Any
    ) -> None:
        for i in range(6):
            due(f"k{i}", action="again" if i % 2 else "")
        worker = Worker(name="w", chunk=6)
        # claim, lock the six rows, log the six runs, settle the six rows, plus the
        # transaction's own statements: not one transaction and four statements each.
        with django_assert_max_num_queries(8):
            assert worker.run_due_once() == 6
        assert sorted(performed) == [f"k{i}" for i in range(6)]
        items = {i.key: i for i in DueItem.objects.all()}
        for i in range(6):
            item = items[f"k{i}"]
            if i % 2:
                assert (item.state, item.payload) == (RowState.PENDING, {"action": "done"})
                assert item.due_at > timezone.now() + timedelta(minutes=4)
            else:
                assert (item.state, item.lease_owner) == (RowState.DONE, "")
        runs = DueRun.objects.order_by("item__key")
        assert [(r.item.key, r.outcome, r.worker) for r in runs] == [
            (f"k{i}", "rescheduled" if i % 2 else "done", "w") for i in range(6)
        ]
        assert worker.stats.performed == 6

    def test_one_failing_item_does_not_undo_the_others(self) -> None:
        due("a", action="write")
        due("b", action="fail")
        due("c", action="write")
        worker = Worker(chunk=10)
        worker.run_due_once()
        states = dict(DueItem.objects.values_list("key", "state"))
        assert states["a"] == states["c"] == RowState.DONE
        assert states["a:effect"] == states["c:effect"] == RowState.PENDING
        failed = DueItem.objects.get(key="b")
        assert (failed.state, failed.attempts) == (RowState.PENDING, 1)
        assert "boom" in failed.last_error
        # The chunk was rolled back and each item performed alone: one run each.
        assert sorted(DueRun.objects.values_list("item__key", flat=True)) == ["a", "c"]
        assert (worker.stats.performed, worker.stats.failed) == (2, 1)

    def test_a_fenced_item_is_left_alone_and_the_rest_performed(self) -> None:
        for key in ("a", "b", "c"):
            due(key, action="write")
        claimed = claim(DueItem, owner="w", now=timezone.now(), lease_seconds=60, limit=10)
        # A service moves "b" after the claim: its token changes.
        later = timezone.now() + timedelta(hours=2)
        scheduling.schedule(key="b", kind="tests.record", at=later)
        worker = Worker(name="w", chunk=10)
        worker.perform_chunk(claimed)
        assert sorted(performed) == ["a", "c"]
        b = DueItem.objects.get(key="b")
        assert (b.state, b.scheduled_at) == (RowState.PENDING, later)
        assert not DueItem.objects.filter(key="b:effect").exists()
        assert (worker.stats.performed, worker.stats.fenced) == (2, 1)

    def test_an_item_moved_by_another_item_of_its_chunk_is_fenced(self) -> None:
        # "a"'s handler reschedules "a:effect", which is in the same chunk: the bulk
        # settle finds a token changed, rolls the chunk back, and the items are
        # performed one by one, where "a:effect" is fenced.
        due("a", action="write")
        due("a:effect")
        worker = Worker(name="w", chunk=10)
        worker.run_due_once()
        effect = DueItem.objects.get(key="a:effect")
        assert effect.state == RowState.PENDING
        assert effect.due_at > timezone.now() + timedelta(hours=23)
        assert DueItem.objects.get(key="a").state == RowState.DONE
        assert list(DueRun.objects.values_list("item__key", flat=True)) == ["a"]
        assert (worker.stats.performed, worker.stats.fenced) == (1, 1)


class TestPeriodic:
    def test_each_job_runs_once_per_interval(self) -> None:
        calls: list[int] = []
        registry.periodic("tests.tick", every=timedelta(minutes=10))(lambda: calls.append(1))
        try:
            start = timezone.now()
            with time_machine.travel(start, tick=False):
                Worker().ensure_periodic_jobs()
                Worker().ensure_periodic_jobs()  # a second worker starting adds nothing
                Worker().run_due_once()
                Worker().run_due_once()
            assert calls == [1]
            with time_machine.travel(start + timedelta(minutes=11), tick=False):
                Worker().run_due_once()
            assert calls == [1, 1]
            assert DueItem.objects.filter(key="periodic:tests.tick").count() == 1
        finally:
            registry.periodic_jobs.pop("tests.tick")

    def test_a_failing_job_keeps_its_schedule(self) -> None:
        def broken() -> None:
            raise ValueError("bad day")

        registry.periodic("tests.broken", every=timedelta(minutes=1))(broken)
        try:
            Worker().ensure_periodic_jobs()
            Worker().run_due_once()
            item = DueItem.objects.get(key="periodic:tests.broken")
            assert item.state == RowState.PENDING
            assert "bad day" in DueRun.objects.get(item=item).detail
        finally:
            registry.periodic_jobs.pop("tests.broken")


class TestTimersFirst:
    """While the timers run late, the delivery loop pauses (for a bounded time)."""

    @pytest.mark.parametrize("chunk", [1, 3])
    def test_late_items_pause_deliveries_until_the_timers_catch_up(self, chunk: int) -> None:
        for i in range(3):
            due(f"late{i}", at=timezone.now() - timedelta(seconds=5))
        worker = Worker(name="w", chunk=chunk)
        assert worker.may_deliver()
        assert worker.run_due_once() == 3
        assert worker.behind.is_set() and not worker.may_deliver()
        # Not starved: a batch is still delivered once the longest pause has passed.
        worker._delivered_at -= DELIVERY_PAUSE_MAX
        assert worker.may_deliver()
        worker._delivered_at += DELIVERY_PAUSE_MAX
        due("on time")
        assert worker.run_due_once() == 1
        assert not worker.behind.is_set() and worker.may_deliver()
        worker.behind.set()
        assert worker.run_due_once() == 0  # nothing due: caught up
        assert worker.may_deliver()

    def test_a_retry_is_late_by_its_backoff_not_behind(self) -> None:
        due("retried", at=timezone.now() - timedelta(minutes=10))
        DueItem.objects.filter(key="retried").update(attempts=2, due_at=timezone.now())
        worker = Worker(name="w")
        assert worker.run_due_once() == 1
        assert not worker.behind.is_set()
