"""Hands e-mail from the outbox to a mail relay over SMTP (NPC-7, O31-11).

The gateway decides an e-mail as it decides a text message; an allowed one waits in the outbox for a
transport that carries e-mail (an SMS centre's link never takes one). :class:`SmtpTransport` is that
transport: one SMTP session per batch (STARTTLS or implicit TLS, optional login), one message per
outbox row, ``From`` the registered sender address (the port), ``To`` the recipient, the subject
the text's first line, the text as a UTF-8 body, ``X-Piguard-Ref`` the record's reference, and, on a
commercial e-mail, the one-click unsubscribe headers (``List-Unsubscribe``, RFC 8058) that end
consent when clicked. Outcomes follow the relay's answer: accepted → ``sent`` (the transport id is
the ``Message-ID``); a 5xx refusal → ``failed``; a 4xx answer, a timeout or a lost connection →
``retry`` with the outbox's back-off. Errors name the SMTP code, never an address.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate

from piguard.messaging.records.service import OutboundMessage, SendOutcome

#: RFC 5322 recommends header lines of at most 78 characters; a longer first line is cut
SUBJECT_MAX = 78
#: the outbox keeps a transport id of at most this many characters
TRANSPORT_REF_MAX = 64


def subject_of(text: str) -> str:
    """The subject: the text's first non-empty line, cut to :data:`SUBJECT_MAX` characters."""
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= SUBJECT_MAX else line[: SUBJECT_MAX - 1] + "…"
    return ""


def message_id(m: OutboundMessage) -> str:
    """``<REF@sender-domain>``: unique (the record's reference), and short enough to be kept as the
    transport id (:data:`TRANSPORT_REF_MAX`; a long domain gives way to ``piguard.invalid``)."""
    mid = f"<{m.ref}@{m.sender.rpartition('@')[2]}>"
    return mid if len(mid) <= TRANSPORT_REF_MAX else f"<{m.ref}@piguard.invalid>"


def build_message(m: OutboundMessage) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = m.sender
    msg["To"] = m.recipient
    msg["Subject"] = subject_of(m.text)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id(m)
    msg["X-Piguard-Ref"] = m.ref
    for name, value in m.headers:
        msg[name] = value
    msg.set_content(m.text, charset="utf-8")
    return msg


def _outcome(ref: str, code: int, what: str) -> SendOutcome:
    return SendOutcome(ref, "failed" if 500 <= code < 600 else "retry", error=f"smtp_{what}_{code}")


class SmtpTransport:
    """The outbox's e-mail transport over SMTP (see the module docstring)."""

    name = "smtp"
    channels = ("email",)

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("starttls", "tls", "none"):
            raise ValueError("security: starttls, tls or none")
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username, password
        self.timeout, self.local_hostname = timeout, local_hostname
        self.context = context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host,
                self.port,
                timeout=self.timeout,
                local_hostname=self.local_hostname,
                context=self.context,
            )
        else:
            conn = smtplib.SMTP(
                self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname
            )
            if self.security == "starttls":
                conn.starttls(context=self.context)
        if self.username:
            conn.login(self.username, self.password or "")
        return conn

    def send(self, messages: Sequence[OutboundMessage]) -> list[str | SendOutcome | None]:
        try:
            conn = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            return [_outcome(m.ref, 400, f"auth_{exc.smtp_code}") for m in messages]  # retry: fix the login
        except (OSError, smtplib.SMTPException):
            return [SendOutcome(m.ref, "retry", error="link_lost") for m in messages]
        out: list[str | SendOutcome | None] = []
        try:
            for i, m in enumerate(messages):
                msg = build_message(m)
                try:
                    conn.send_message(msg, from_addr=m.sender, to_addrs=[m.recipient])
                except smtplib.SMTPRecipientsRefused as exc:
                    code = next(iter(exc.recipients.values()))[0] if exc.recipients else 550
                    out.append(_outcome(m.ref, code, "recipient"))
                except smtplib.SMTPSenderRefused as exc:
                    out.append(_outcome(m.ref, exc.smtp_code, "sender"))
                except smtplib.SMTPDataError as exc:
                    out.append(_outcome(m.ref, exc.smtp_code, "data"))
                except (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPException):
                    # the session is gone: this message and the rest go back to the queue
                    out.extend(SendOutcome(r.ref, "retry", error="link_lost") for r in messages[i:])
                    return out
                else:
                    out.append(str(msg["Message-ID"]))
        finally:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()
        return out
