"""Sending one mail through the SMTP server of ZHTJ_SMTP_URL, with the standard library.

`smtp://user:pass@host:port` (port 25 by default) upgrades with STARTTLS when the server offers
it and logs in when a user is given; `smtps://…` (port 465) speaks TLS from the start. smtplib
blocks, so each mail is sent in a thread.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    user: str | None = None
    password: str | None = None
    implicit_tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        implicit = parts.scheme == "smtps"
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("an SMTP URL is smtp://user:pass@host:port")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
        )


@dataclass(frozen=True)
class Mail:
    sender: str
    to: str
    subject: str
    body: str
    message_id: str  # stable per notification: receivers and mail clients drop repeats by it


def build_message(mail: Mail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail.sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Message-ID"] = mail.message_id
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(mail.body)  # UTF-8, encoded as the text needs
    return msg


def _send(server: SmtpServer, mail: Mail, timeout: float) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if server.implicit_tls:
        smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=timeout)
    with smtp:
        smtp.ehlo()
        if not server.implicit_tls and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
        if server.user:
            smtp.login(server.user, server.password or "")
        smtp.send_message(build_message(mail), from_addr=mail.sender, to_addrs=[mail.to])


async def send_mail(server: SmtpServer, mail: Mail, *, seconds: float = 30.0) -> None:
    """Hand one mail to the server (each socket operation waits at most `seconds`); raises (smtplib.SMTPException, OSError) when it did not take it."""
    await asyncio.to_thread(_send, server, mail, seconds)
