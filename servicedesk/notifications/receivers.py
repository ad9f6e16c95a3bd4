"""Reference receivers on loopback: a webhook receiver and an SMTP server.

Both do what docs/notifications.md asks of real receivers: verify the
signature (webhooks) and de-duplicate by the stable message id, which the
product keeps across retries and worker restarts. Tests and
``bench/outbox.py`` run them on port 0; they also serve integrators as a
worked example.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from aiosmtpd.controller import Controller

from servicedesk.integrations.webhooks import verify


@dataclass
class Delivery:
    """One request as the receiver saw it."""

    message_id: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    signature_ok: bool | None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """An HTTP server that records every POST and answers with ``respond(delivery)``.

    ``secret`` set: the signature is checked (``signature_ok``). ``unique``
    keeps the first accepted delivery of each ``X-ServiceDesk-Message-Id``:
    what a de-duplicating receiver acts on. ``hold(delivery)`` runs after a
    delivery is accepted and before the answer goes back (tests delay or
    lose the answer with it).
    """

    secret: str = ""
    respond: Callable[[Delivery], int] = field(default=lambda d: 200)
    hold: Callable[[Delivery], None] | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    unique: dict[str, Delivery] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k: v for k, v in self.headers.items()}
                signature_ok = None
                if receiver.secret:
                    signature_ok = verify(
                        receiver.secret, headers.get("X-ServiceDesk-Timestamp", ""), body,
                        headers.get("X-ServiceDesk-Signature", ""),
                    )  # fmt: skip
                delivery = Delivery(
                    message_id=headers.get("X-ServiceDesk-Message-Id", ""), headers=headers,
                    body=body, received_at=time.time(), signature_ok=signature_ok,
                )  # fmt: skip
                with receiver.lock:
                    receiver.deliveries.append(delivery)
                status = receiver.respond(delivery)
                if 200 <= status < 300:
                    with receiver.lock:
                        receiver.unique.setdefault(delivery.message_id, delivery)
                    if receiver.hold is not None:
                        receiver.hold(delivery)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: tests and the bench print their own figures

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def wait_for(self, count: int, timeout: float = 20.0, *, unique: bool = True) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                seen = len(self.unique) if unique else len(self.deliveries)
            if seen >= count:
                return True
            time.sleep(0.02)
        return False


class _SMTPHandler:
    def __init__(self, sink: SMTPSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        mail = self.sink.record(message, list(envelope.rcpt_tos))
        return await self.sink.answer(mail)


class _LoopbackController(Controller):
    """aiosmtpd's controller on port 0: learn the port the system chose before
    the readiness probe connects to it."""

    def _trigger_server(self) -> None:
        server = cast(asyncio.Server, self.server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Mail:
    message: EmailMessage
    rcpt_tos: list[str]
    received_at: float

    @property
    def message_id(self) -> str:
        return str(self.message["X-ServiceDesk-Message-Id"] or "")

    @property
    def subject(self) -> str:
        # Folded encoded words come back with the fold's leading space.
        return str(self.message["Subject"] or "").strip()

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content() if body is not None else ""


class SMTPSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives.

    ``mails`` holds every copy received; ``unique`` the first accepted copy per
    ``X-ServiceDesk-Message-Id``, as a de-duplicating mail processor keeps.
    """

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.unique: dict[str, Mail] = {}
        self.lock = threading.Lock()
        self.controller = _LoopbackController(_SMTPHandler(self), hostname="127.0.0.1", port=0)
        # The reply to each message, from this coroutine function (tests make the
        # server refuse or defer); ``hold`` runs after a message is accepted and
        # before the reply goes back (tests delay or lose the reply).
        self.responder: Callable[[EmailMessage], Any] | None = None
        self.hold: Callable[[Mail], Any] | None = None

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def start(self) -> SMTPSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def record(self, message: EmailMessage, rcpt_tos: list[str]) -> Mail:
        mail = Mail(message=message, rcpt_tos=rcpt_tos, received_at=time.time())
        with self.lock:
            self.mails.append(mail)
        return mail

    async def answer(self, mail: Mail) -> str:
        reply = "250 Message accepted for delivery"
        if self.responder is not None:
            reply = await self.responder(mail.message)
        if reply.startswith("2"):
            with self.lock:
                self.unique.setdefault(mail.message_id or str(id(mail)), mail)
            if self.hold is not None:
                await self.hold(mail)
        return reply

    def to(self, address: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.mails if address in m.rcpt_tos]

    def wait_for(self, count: int, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.unique) >= count:
                    return True
            time.sleep(0.02)
        return False
