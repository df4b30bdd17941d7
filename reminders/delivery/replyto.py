"""Per-message Reply-To addresses, so an emailed reply can be matched to its message."""

from __future__ import annotations

import hashlib
import hmac

from reminders.config import Settings


def reply_address(message_id: int, settings: Settings) -> str:
    """A per-message Reply-To that a forged reply cannot guess: reply+<id>.<mac>@domain."""
    mac = hmac.new(settings.secret_key.encode(), str(message_id).encode(), hashlib.sha256)
    return f"reply+{message_id}.{mac.hexdigest()[:12]}@{settings.email_reply_domain}"


def parse_reply_address(address: str, settings: Settings) -> int | None:
    """The message id a reply address stands for, or None if it is not one of ours."""
    local = address.split("@", 1)[0]
    if not local.startswith("reply+") or "." not in local:
        return None
    ident, _, mac = local.removeprefix("reply+").partition(".")
    if not ident.isdigit():
        return None
    expected = reply_address(int(ident), settings).split("@", 1)[0].rsplit(".", 1)[1]
    return int(ident) if hmac.compare_digest(mac, expected) else None
