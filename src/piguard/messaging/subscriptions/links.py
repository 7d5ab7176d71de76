"""The one-click unsubscribe link of a commercial e-mail (NPC-7; RFC 8058, RFC 2369): a signed token
naming the recipient's keyed hash, the content provider and the message type, and the two headers
that carry it. The gateway adds them to every commercial e-mail it allows; :mod:`.unsubscribe`
acts on a click. Here, importing nothing above the core, so the gateway can use it.
"""

from __future__ import annotations

from itsdangerous import URLSafeSerializer

from piguard.core.config import get_settings
from piguard.regulations.markers import carries

OBLIGATIONS = ("NPC-7", "NPC-8", "O31-20")
_SALT = "piguard.mail-unsubscribe.v1"
PATH = "/unsubscribe/"


def serializer() -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().secret_key, salt=_SALT)


def base_url() -> str:
    """Where recipients reach piguard (``PIGUARD_PUBLIC_URL``; else the address it serves on)."""
    s = get_settings()
    return (s.public_url or f"http://{s.host}:{s.port}").rstrip("/")


def token_for(*, recipient_hash: str, content_provider_id: int, message_type: str | None) -> str:
    return str(serializer().dumps({"r": recipient_hash, "c": content_provider_id, "t": message_type or ""}))


@carries("NPC-7", "O31-20")
def mail_unsubscribe_headers(
    *, recipient_hash: str, content_provider_id: int, message_type: str | None
) -> dict[str, str]:
    """The RFC 8058 headers an allowed commercial e-mail must carry: the one-click link to end
    this recipient's consent for this content provider."""
    link = (
        base_url()
        + PATH
        + token_for(
            recipient_hash=recipient_hash, content_provider_id=content_provider_id, message_type=message_type
        )
    )
    return {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
