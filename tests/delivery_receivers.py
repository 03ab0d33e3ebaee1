"""Real receivers on loopback for the delivery tests: an SMTP server (aiosmtpd) and an HTTP server
(the standard library's), each recording what arrived, optionally slow or refusing."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mail:
    rcpt: list[str]
    message_id: str
    subject: str
    to: str
    body: str


@dataclass
class SmtpSink:
    """An SMTP server on 127.0.0.1 recording every accepted mail; `delay` seconds before it
    answers DATA (a mail recorded then, so a sender killed meanwhile sends it again)."""

    port: int = field(default_factory=free_port)
    delay: float = 0.0
    mails: list[Mail] = field(default_factory=list)
    _controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.mails.append(
            Mail(
                rcpt=list(envelope.rcpt_tos),
                message_id=str(msg["Message-ID"]),
                subject=str(msg["Subject"]),
                to=str(msg["To"]),
                body=msg.get_content(),
            )
        )
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def unique(self) -> set[tuple[str, str]]:
        """(Message-ID, recipient) of what arrived, repeats dropped."""
        return {(m.message_id, r) for m in self.mails for r in m.rcpt}


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class HttpReceiver:
    """An HTTP server on 127.0.0.1 recording every POST, answering `status` after `delay` s."""

    def __init__(self, *, status: int = 200, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay
        self.requests: list[Request] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/zhtj"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """The bodies whose X-Zhtj-Signature is the HMAC-SHA256 of the raw body with `secret`
        (checked here as a receiver would, not with the product's code); fails on any other."""
        out = []
        for r in self.requests:
            expected = "sha256=" + hmac.new(secret.encode(), r.body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(expected, r.headers["x-zhtj-signature"]), r
            out.append(r.json)
        return out


class HangingReceiver:
    """A port that accepts connections and never answers (a receiver that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hooks"

    def stop(self) -> None:
        self.sock.close()
