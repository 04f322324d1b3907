"""Tell real mail from automatic noise: auto-replies, bounces and our own loops.

A helpdesk that answers an out-of-office reply, or opens a ticket for a
bounce of its own notification, starts a mail loop. ``classify`` looks only
at the parsed message; what to do with each kind is the caller's decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailbridge.parsing import ParsedMail, looks_like_bounce_sender

NORMAL = "normal"
AUTO_REPLY = "auto_reply"
BOUNCE = "bounce"
OWN_LOOP = "own_loop"


@dataclass(frozen=True)
class Noise:
    kind: str  # NORMAL, AUTO_REPLY, BOUNCE or OWN_LOOP
    reason: str

    @property
    def is_noise(self) -> bool:
        return self.kind != NORMAL


# Subjects of classic (non-DSN) bounces, in the languages our servers speak.
# Searched anywhere in the subject: "undeliver" also finds "Undelivered Mail
# Returned to Sender", "delivery failed" also "Mail delivery failed".
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification \((?:failure|failed)\)"
    r"|delivery (?:has )?failed|failure notice|returned mail"
    r"|non-?deliver|unzustellbar|nicht zustellbar|недоставен|не е доставено|неуспешна доставка",
    re.IGNORECASE,
)
_BOUNCE_SENDER_NAME = re.compile(r"mail delivery (?:system|subsystem)", re.IGNORECASE)
_ATTACHED_ORIGINAL = frozenset({"message/rfc822", "text/rfc822-headers", "message/delivery-status"})
_AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_NOT_AUTO = frozenset({"no", "false", "0"})


def _bounce_reason(parsed: ParsedMail) -> str:
    """Return why ``parsed`` is a bounce, or "" when it is not one."""
    delivery_report = parsed.report_type == "delivery-status" or bool(parsed.dsn_actions)
    if parsed.is_multipart_report and delivery_report:
        if parsed.bounce_recipients:
            return "delivery status report: " + ", ".join(parsed.bounce_recipients[:5])
        if not parsed.dsn_actions:
            return "delivery status report"
        return ""
    if parsed.headers.get("x-failed-recipients"):
        return "X-Failed-Recipients: " + parsed.headers["x-failed-recipients"][:200]
    from_daemon = looks_like_bounce_sender(parsed.from_addr) or bool(
        _BOUNCE_SENDER_NAME.search(parsed.from_name)
    )
    if not from_daemon:
        return ""
    has_original = any(a.content_type in _ATTACHED_ORIGINAL for a in parsed.attachments)
    if has_original or _BOUNCE_SUBJECT.search(parsed.subject):
        return f"bounce from {parsed.from_addr or parsed.from_name}"
    return ""


def _auto_reply_reason(parsed: ParsedMail) -> str:
    """Return why ``parsed`` was sent by a machine, or "" for a person's mail."""
    headers = parsed.headers
    auto_submitted = headers.get("auto-submitted", "").partition(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    for name in ("x-autoreply", "x-autorespond"):
        if name in headers and headers[name].strip().lower() not in _NOT_AUTO:
            return f"{name}: {headers[name][:100]}"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    if "x-auto-response-suppress" in headers:
        return "X-Auto-Response-Suppress: " + headers["x-auto-response-suppress"][:100]
    if "list-id" in headers:
        return "List-Id: " + headers["list-id"][:200]
    if "return-path" in headers and headers["return-path"].replace(" ", "") in ("<>", ""):
        return "empty Return-Path"
    if parsed.is_multipart_report:
        # A delay notice or a read receipt: machine mail, but not a failure.
        return f"{parsed.report_type or 'unknown'} report without failed recipients"
    return ""


def classify(
    parsed: ParsedMail,
    own_addresses: set[str],
    loop_header: str = "X-NEISPUO-Helpdesk-Loop",
) -> Noise:
    """Return what kind of mail ``parsed`` is, with the reason for the verdict.

    Checks, in order: our own loop header or one of ``own_addresses`` as the
    sender (OWN_LOOP), a bounce (BOUNCE; see ``ParsedMail.bounce_*`` for the
    failed recipients and the original Message-ID), an automatic reply or
    list mail (AUTO_REPLY); anything else is NORMAL.
    """
    if loop_header and loop_header.lower() in parsed.headers:
        return Noise(OWN_LOOP, f"{loop_header} header present")
    own = {address.strip().lower() for address in own_addresses}
    if parsed.from_addr and parsed.from_addr in own:
        return Noise(OWN_LOOP, f"sent from our own address {parsed.from_addr}")
    reason = _bounce_reason(parsed)
    if reason:
        return Noise(BOUNCE, reason)
    reason = _auto_reply_reason(parsed)
    if reason:
        return Noise(AUTO_REPLY, reason)
    return Noise(NORMAL, "")
