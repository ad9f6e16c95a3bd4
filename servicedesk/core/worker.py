"""The worker loop: durable timers, periodic jobs and outbox delivery.

One process runs two loops in two threads, so a slow delivery never delays
a timer (and while the timers run late, deliveries pause: see BEHIND_SECONDS):

- the *timer loop* claims due items (``leases.claim``), and performs them
  ``chunk`` at a time (by default ten on PostgreSQL, one on SQLite) in one
  transaction: re-check the fencing tokens
  while locking the rows (one statement), run each handler, log the runs and
  settle the rows (done, skipped or rescheduled) in bulk, the bulk UPDATE
  again conditional on the tokens. If a token changed meanwhile (the lease
  expired and another worker took it, or a service rescheduled the row),
  nothing the handlers did is committed. If anything in a chunk fails, the
  chunk is rolled back and its items are performed again one per
  transaction (``perform``), so one failing item neither holds back nor
  undoes the others.
- the *delivery loop* claims outbox messages and hands them to a small
  thread pool; each delivery is logged and either confirmed, retried with
  exponential backoff, or marked failed. Messages of a local channel (rows
  in this database: in-app notifications) are delivered a batch at a time,
  written and settled in one transaction.

Any number of workers may run against the same database.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import Q

from . import clock, registry, scheduling
from .leases import backoff, claim, release
from .lookups import KeyedRead
from .models import DeliveryAttempt, DueItem, DueRun, OutboxMessage, RowState, WorkerHeartbeat
from .registry import PermanentFailure, Reschedule, Skipped
from .writes import insert, insert_many, update_each

log = logging.getLogger("servicedesk.worker")

# The message a delivery holds, if its token still holds it (read for every delivery).
_leased_message = KeyedRead(
    lambda pk, token: OutboxMessage.objects.filter(pk=pk, token=token, state=RowState.LEASED),
    keys=(int, int),
)

PERIODIC_KIND = "core.periodic"
MAX_DUE_ATTEMPTS = 10
# Items performed per transaction (``servicedesk worker --chunk``) on PostgreSQL.
# A chunk saves a commit and four statements per item and reads the chunk's
# subjects in one statement (a fifth more steps per second in bench/escalation.py),
# but holds every row lock its items took until it commits, and redoes more work
# when one item fails. No row is written by every perform (the reports' monthly
# counters are moved by the facts drain, not by the steps), so chunks of
# different workers do not queue behind each other. On SQLite, one writer at a
# time: one item per transaction, so the web waits at most one item's perform.
CHUNK = 10


def default_chunk() -> int:
    return 1 if connection.vendor == "sqlite" else CHUNK


# What settling a row writes (the union of done, skipped and rescheduled).
SETTLED_FIELDS = [
    "state", "lease_owner", "last_error", "updated_at", "done_at", "kind",
    "scheduled_at", "due_at", "attempts", "payload",
]  # fmt: skip


# Timers first: while the due items a worker performs are this late, its
# delivery loop pauses (a delivery is CPU the steps need: rendering MIME,
# talking SMTP), for at most DELIVERY_PAUSE_MAX seconds between two batches,
# so messages are delayed, never starved. On time, deliveries never wait.
BEHIND_SECONDS = 0.5
DELIVERY_PAUSE_MAX = 5.0

# What settling a message delivered in a batch writes.
DELIVERED_FIELDS = ["state", "delivered_at", "last_error", "attempts", "lease_owner", "updated_at"]


def _held(rows: list[tuple[int, int]]) -> Q:
    """The claimed rows whose fencing tokens still hold (with ``state=LEASED``)."""
    held = Q()
    for pk, token in rows:
        held |= Q(pk=pk, token=token)
    return held


class _Fenced(Exception):
    """Our token no longer holds the row: roll the perform back."""


@dataclass
class WorkerStats:
    performed: int = 0
    failed: int = 0
    fenced: int = 0
    delivered: int = 0
    delivery_failures: int = 0
    started_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "started_at"}


def _error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]


class Worker:
    def __init__(
        self,
        *,
        name: str | None = None,
        poll_seconds: float | None = None,
        batch: int = 50,
        lease_seconds: float | None = None,
        delivery_concurrency: int = 4,
        chunk: int | None = None,
    ) -> None:
        host = socket.gethostname()
        self.name = name or f"{host}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.hostname = host
        self.poll_seconds = (
            settings.SERVICEDESK_WORKER_POLL_SECONDS if poll_seconds is None else poll_seconds
        )
        self.lease_seconds = (
            settings.SERVICEDESK_WORKER_LEASE_SECONDS if lease_seconds is None else lease_seconds
        )
        self.batch = batch
        self.chunk = max(1, default_chunk() if chunk is None else chunk)
        self.delivery_concurrency = max(1, delivery_concurrency)
        self.stop_event = threading.Event()
        self.stats = WorkerStats()
        # Set while the timer loop performs items later than BEHIND_SECONDS.
        self.behind = threading.Event()
        self._delivered_at = time.monotonic()

    # ---- timers ---------------------------------------------------------------
    def run_due_once(self) -> int:
        """Claim one batch of due items and perform them; returns how many were claimed."""
        claimed = claim(
            DueItem, owner=self.name, now=clock.now(), lease_seconds=self.lease_seconds,
            limit=self.batch,
        )  # fmt: skip
        if not claimed:
            self.behind.clear()
        for start in range(0, len(claimed), self.chunk):
            if self.stop_event.is_set():
                self._hand_back(DueItem, claimed[start:])
                break
            self.perform_chunk(claimed[start : start + self.chunk])
        return len(claimed)

    def run_drains_once(self) -> int:
        """One batch of each app's drain (``registry.drain``); returns the rows taken.
        A failing drain is logged and tried again on the next round: its rows stay."""
        taken = 0
        for name, fn in registry.drains.items():
            if self.stop_event.is_set():
                break
            try:
                taken += fn()
            except Exception:
                self.stats.failed += 1
                log.exception("drain %s failed", name)
        return taken

    def perform_chunk(self, rows: list[tuple[int, int]]) -> None:
        """Perform several claimed items in one transaction; if that fails, each
        in its own (periodic jobs always run alone: they may be long)."""
        if len(rows) == 1:
            self.perform(*rows[0])
            return
        try:
            alone = self._perform_together(rows)
        except Exception as exc:
            log.info("chunk of %d due items rolled back (%s); one by one", len(rows), exc)
            alone = rows
        for pk, token in alone:
            self.perform(pk, token)

    def _perform_together(self, rows: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Lock the rows our tokens still hold, perform them, log the runs and
        settle the rows in bulk, conditional on the tokens; returns the rows
        left to perform alone."""
        tokens = dict(rows)
        held = _held(rows)
        with transaction.atomic(), ExitStack() as prepared:
            items = list(
                DueItem.objects.select_for_update()
                .filter(held, state=RowState.LEASED)
                .order_by("pk")
            )
            self._note_lateness(items)
            alone = [(i.pk, i.token) for i in items if i.kind == PERIODIC_KIND]
            items = [i for i in items if i.kind != PERIODIC_KIND]
            fenced = len(rows) - len(items) - len(alone)
            kinds: dict[str, list[DueItem]] = defaultdict(list)
            for item in items:
                kinds[item.kind].append(item)
            for kind, group in kinds.items():
                prepare = registry.due_preparers.get(kind)
                if prepare is not None:
                    prepared.enter_context(prepare(group))
            results = []
            for item in items:
                handler = registry.due_handlers.get(item.kind)
                if handler is None:
                    raise LookupError(f"no handler registered for due item kind {item.kind!r}")
                with scheduling.performing(item.key) as performing:
                    outcome = handler(item)
                results.append((item, outcome, performing.requests))
            # The runs are stamped when the chunk's work is done (its commit follows).
            now = clock.now()
            runs = []
            for item, outcome, requests in results:
                scheduled_at = item.scheduled_at
                outcome_name, fields, detail = self._settle(item, outcome, requests)
                runs.append(
                    DueRun(
                        item_id=item.pk, kind=item.kind, token=tokens[item.pk], worker=self.name,
                        scheduled_at=scheduled_at, performed_at=now, outcome=outcome_name,
                        detail=detail[:2000],
                    )
                )  # fmt: skip
                for name, value in fields.items():
                    setattr(item, name, value)
            DueRun.objects.bulk_create(runs)
            if items:
                # Each row only while our token still holds it (bulk_update's CASE
                # expressions cost a sixth of a busy worker's CPU).
                settled = update_each(
                    items, SETTLED_FIELDS,
                    [{"token": tokens[i.pk], "state": RowState.LEASED} for i in items],
                )  # fmt: skip
                if settled != len(items):
                    raise _Fenced
        self.stats.performed += len(items)
        self.stats.fenced += fenced
        return alone

    def perform(self, pk: int, token: int) -> str:
        """Perform one claimed item under its fencing token; returns the outcome."""
        try:
            with transaction.atomic():
                # Check the token, lock and read the row in one statement (``leases.hold``).
                item = (
                    DueItem.objects.select_for_update()
                    .filter(pk=pk, token=token, state=RowState.LEASED)
                    .first()
                )
                if item is None:
                    raise _Fenced
                self._note_lateness([item])
                handler = registry.due_handlers.get(item.kind)
                if handler is None:
                    raise LookupError(f"no handler registered for due item kind {item.kind!r}")
                with scheduling.performing(item.key) as performing:
                    outcome = handler(item)
                outcome_name, fields, detail = self._settle(item, outcome, performing.requests)
                DueRun.objects.create(
                    item_id=pk, kind=item.kind, token=token, worker=self.name,
                    scheduled_at=item.scheduled_at, performed_at=clock.now(),
                    outcome=outcome_name, detail=detail[:2000],
                )  # fmt: skip
                if not release(DueItem, pk, token, **fields):
                    raise _Fenced
        except _Fenced:
            self.stats.fenced += 1
            return "fenced"
        except Exception as exc:
            self.stats.failed += 1
            log.exception("due item %s failed", pk)
            self._retry_due(pk, token, exc)
            return "error"
        self.stats.performed += 1
        return outcome_name

    def _note_lateness(self, items: list[DueItem]) -> None:
        """Timers first: mark the worker behind while it performs items (first
        attempts; a retry's lateness is its backoff) later than BEHIND_SECONDS."""
        now = clock.now()
        late = max(
            ((now - i.scheduled_at).total_seconds() for i in items if i.attempts == 0),
            default=0.0,
        )
        if late > BEHIND_SECONDS:
            self.behind.set()
        else:
            self.behind.clear()

    def may_deliver(self) -> bool:
        """Whether the delivery loop may take its next batch now: always when the
        timers are on time; when they are behind, once DELIVERY_PAUSE_MAX has
        passed since the last batch."""
        return (
            not self.behind.is_set() or time.monotonic() - self._delivered_at >= DELIVERY_PAUSE_MAX
        )

    def _settle(
        self, item: DueItem, outcome: Any, requests: list[tuple[str, dict[str, Any]]]
    ) -> tuple[str, dict[str, Any], str]:
        """Turn a handler's outcome (and schedule/cancel calls it made for its
        own key) into the row's next state."""
        now = clock.now()
        if outcome is None and requests:
            action, args = requests[-1]
            if action == "cancel":
                outcome = Skipped("cancelled by its handler")
            else:
                item.kind = args["kind"]
                outcome = Reschedule(at=args["at"], payload=args["payload"])
        common = {"lease_owner": "", "last_error": "", "updated_at": now}
        if isinstance(outcome, Reschedule):
            return "rescheduled", {
                **common, "kind": item.kind, "state": RowState.PENDING,
                "scheduled_at": outcome.at, "due_at": outcome.at, "attempts": 0,
                "payload": item.payload if outcome.payload is None else outcome.payload,
            }, outcome.detail  # fmt: skip
        if isinstance(outcome, Skipped):
            return "skipped", {**common, "state": RowState.DONE, "done_at": now}, outcome.detail
        return "done", {**common, "state": RowState.DONE, "done_at": now}, ""

    def _retry_due(self, pk: int, token: int, exc: BaseException) -> None:
        with transaction.atomic():
            item = DueItem.objects.filter(pk=pk, token=token, state=RowState.LEASED).first()
            if item is None:
                return
            attempts = item.attempts + 1
            failed = attempts >= MAX_DUE_ATTEMPTS
            release(
                DueItem, pk, token, attempts=attempts, last_error=_error_text(exc),
                state=RowState.FAILED if failed else RowState.PENDING,
                due_at=clock.now() + backoff(attempts), lease_owner="", updated_at=clock.now(),
            )  # fmt: skip

    def _hand_back(
        self, model: type[DueItem] | type[OutboxMessage], rows: list[tuple[int, int]]
    ) -> None:
        """Return claimed-but-unstarted rows at shutdown instead of waiting for their lease."""
        for pk, token in rows:
            release(model, pk, token, state=RowState.PENDING, due_at=clock.now(), lease_owner="")

    # ---- periodic jobs ------------------------------------------------------------
    def ensure_periodic_jobs(self) -> None:
        """Make sure each registered periodic job has its (single) due item."""
        now = clock.now()
        for job in registry.periodic_jobs.values():
            key = f"periodic:{job.name}"
            item = DueItem.objects.filter(key=key).first()
            if item is None or item.state in (RowState.DONE, RowState.FAILED, RowState.CANCELLED):
                scheduling.schedule(key=key, kind=PERIODIC_KIND, at=now, payload={"name": job.name})

    # ---- outbox ---------------------------------------------------------------------
    def run_outbox_once(self, pool: ThreadPoolExecutor | None = None) -> int:
        claimed = claim(
            OutboxMessage, owner=self.name, now=clock.now(),
            lease_seconds=max(self.lease_seconds, settings.SERVICEDESK_WEBHOOK_TIMEOUT * 3),
            limit=self.batch,
        )  # fmt: skip
        rest = self._deliver_local(claimed) if claimed and registry.local_channels else claimed
        if pool is None:
            for pk, token in rest:
                self.deliver(pk, token)
        else:
            list(pool.map(lambda row: self._deliver_in_thread(*row), rest))
        return len(claimed)

    def _deliver_local(self, claimed: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Deliver the claimed messages of local channels a channel's batch at a
        time; returns the rest (and a batch that failed, to deliver one by one)."""
        channel_of = dict(
            OutboxMessage.objects.filter(pk__in=[pk for pk, _ in claimed]).values_list(
                "pk", "channel"
            )
        )
        batches: dict[str, list[tuple[int, int]]] = defaultdict(list)
        rest: list[tuple[int, int]] = []
        for row in claimed:
            channel = channel_of.get(row[0], "")
            (batches[channel] if channel in registry.local_channels else rest).append(row)
        for channel, rows in batches.items():
            try:
                self._deliver_batch(channel, rows)
            except Exception as exc:
                # Expected only when an older worker wrote a row before crashing;
                # anything else is worth a look (each message is then logged alone).
                log.warning("batch of %d %s messages rolled back (%s); one by one",
                            len(rows), channel, exc)  # fmt: skip
                rest.extend(rows)
        return rest

    def _deliver_batch(self, channel: str, rows: list[tuple[int, int]]) -> None:
        """Lock the messages our tokens still hold, deliver them with the channel's
        local handler and settle them, all in one transaction."""
        held = _held(rows)
        with transaction.atomic():
            messages = list(
                OutboxMessage.objects.select_for_update()
                .filter(held, state=RowState.LEASED)
                .order_by("pk")
            )
            if not messages:
                return
            started = time.monotonic()
            results = registry.local_channels[channel](messages)
            duration_ms = int((time.monotonic() - started) * 1000 / len(messages))
            now = clock.now()
            attempts, conditions, failures = [], [], 0
            for message, result in zip(messages, results, strict=True):
                conditions.append({"token": message.token, "state": RowState.LEASED})
                message.attempts += 1
                ok = not isinstance(result, PermanentFailure)
                attempts.append(DeliveryAttempt(
                    message_id=message.pk, number=message.attempts, at=now, ok=ok,
                    detail=str(result)[:500], duration_ms=duration_ms,
                ))  # fmt: skip
                if ok:
                    message.state, message.delivered_at = RowState.DONE, now
                else:
                    failures += 1
                    message.state, message.last_error = RowState.FAILED, str(result)[:2000]
                message.lease_owner, message.updated_at = "", now
            insert_many(attempts)
            settled = update_each(messages, DELIVERED_FIELDS, conditions)
            if settled != len(messages):
                raise _Fenced
        self.stats.delivered += len(messages) - failures
        self.stats.delivery_failures += failures

    def _deliver_in_thread(self, pk: int, token: int) -> None:
        try:
            self.deliver(pk, token)
        finally:
            close_old_connections()

    def deliver(self, pk: int, token: int) -> bool:
        """Deliver one claimed message; True when the receiver confirmed it."""
        message = _leased_message(pk, token)
        if message is None:
            return False
        started = time.monotonic()
        permanent = False
        handler = registry.channels.get(message.channel)
        try:
            if handler is None:
                raise PermanentFailure(f"no channel named {message.channel!r}")
            detail, ok = handler(message), True
        except PermanentFailure as exc:
            detail, ok, permanent = str(exc), False, True
        except Exception as exc:
            detail, ok = _error_text(exc), False
        duration_ms = int((time.monotonic() - started) * 1000)
        now = clock.now()
        attempts = message.attempts + 1
        with transaction.atomic():
            insert(DeliveryAttempt(
                message_id=pk, number=attempts, at=now, ok=ok, detail=(detail or "")[:500],
                duration_ms=duration_ms,
            ))  # fmt: skip
            if ok:
                fields: dict[str, Any] = {"state": RowState.DONE, "delivered_at": now}
                self.stats.delivered += 1
            else:
                self.stats.delivery_failures += 1
                give_up = permanent or attempts >= settings.SERVICEDESK_OUTBOX_MAX_ATTEMPTS
                fields = {
                    "state": RowState.FAILED if give_up else RowState.PENDING,
                    "due_at": now + backoff(attempts),
                    "last_error": (detail or "")[:2000],
                }
            release(
                OutboxMessage, pk, token, attempts=attempts, lease_owner="", updated_at=now,
                **fields,
            )  # fmt: skip
        return ok

    # ---- heartbeat and loops ----------------------------------------------------------
    def heartbeat(self) -> None:
        now = clock.now()
        WorkerHeartbeat.objects.update_or_create(
            name=self.name,
            defaults={"hostname": self.hostname, "pid": os.getpid(), "seen_at": now,
                      "stats": self.stats.as_dict()},
            create_defaults={"hostname": self.hostname, "pid": os.getpid(), "seen_at": now,
                             "started_at": now, "stats": self.stats.as_dict()},
        )  # fmt: skip

    def _timer_loop(self) -> None:
        last_beat = 0.0
        try:
            while not self.stop_event.is_set():
                if time.monotonic() - last_beat > 5:
                    self.heartbeat()
                    last_beat = time.monotonic()
                if self.run_due_once() + self.run_drains_once():
                    continue
                self.stop_event.wait(self.poll_seconds)
        finally:
            connections.close_all()

    def _delivery_loop(self) -> None:
        pool = ThreadPoolExecutor(self.delivery_concurrency, thread_name_prefix="deliver")
        try:
            while not self.stop_event.is_set():
                if not self.may_deliver():
                    self.stop_event.wait(0.1)
                    continue
                delivered = self.run_outbox_once(pool)
                self._delivered_at = time.monotonic()
                if delivered:
                    continue
                self.stop_event.wait(self.poll_seconds)
        finally:
            pool.shutdown(wait=True)
            connections.close_all()

    def run(self, *, until_idle: bool = False) -> None:
        """Run both loops until stopped; with ``until_idle``, in this thread until
        nothing is due (used by tests and one-shot runs)."""
        self.ensure_periodic_jobs()
        if until_idle:
            try:
                while not self.stop_event.is_set():
                    if not (self.run_due_once() + self.run_drains_once() + self.run_outbox_once()):
                        break
            finally:
                connections.close_all()
            return
        delivery = threading.Thread(target=self._delivery_loop, name="delivery", daemon=True)
        delivery.start()
        try:
            self._timer_loop()
        finally:
            self.stop_event.set()
            delivery.join(timeout=60)
            WorkerHeartbeat.objects.filter(name=self.name).delete()
            connections.close_all()
        log.info("worker %s stopped: %s", self.name, self.stats.as_dict())


@registry.due_handler(PERIODIC_KIND)
def _run_periodic(item: DueItem) -> Reschedule | Skipped:
    job = registry.periodic_jobs.get(item.payload.get("name", ""))
    if job is None:
        return Skipped("periodic job is no longer registered")
    detail = ""
    try:
        with transaction.atomic():
            result = job.function()
            detail = "" if result is None else str(result)[:500]
    except Exception as exc:
        # A failing job keeps its schedule; the error is in the run log.
        log.exception("periodic job %s failed", job.name)
        detail = f"error: {_error_text(exc)}"
    return Reschedule(at=clock.now() + job.every, detail=detail)
