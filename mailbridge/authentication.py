"""Is the From address proven? Reading the receiving server's Authentication-Results.

A From header is a claim anyone can write. The mail server that received the
message checked SPF, DKIM and DMARC and wrote what it found into an
``Authentication-Results`` header (RFC 8601) under its own name, the
*authserv-id*. Only headers carrying an authserv-id the operator configured
(``HELPDESK_MAIL_AUTHSERV_IDS``) are read, and of those only the topmost one:
it is the one our server added last; anything below it may have come with the
message. The From address counts as proven when that header says

* ``dmarc=pass`` (DMARC checked alignment itself), or
* ``dkim=pass`` for a signing domain (``header.d``) aligned with the From
  domain, or
* ``spf=pass`` for an envelope domain (``smtp.mailfrom``) aligned with it.

"Aligned" is DMARC's relaxed alignment: the same domain, or one a subdomain
of the other (``mail.school.bg`` and ``school.bg``). Everything here is pure:
bytes and strings in, a verdict out.
"""

import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

__all__ = ["Verdict", "authentication_results", "judge", "parse_results"]

# A header value is bounded before it is parsed: a hostile one cannot make
# the regular expressions below work for long.
MAX_HEADER_CHARS = 8192
_COMMENT = re.compile(r"\([^()]*\)")
_METHOD = re.compile(r"^\s*([a-z0-9_-]+)\s*=\s*([a-z]+)\b(.*)$", re.IGNORECASE | re.DOTALL)
_PROPERTY = re.compile(r"([a-z0-9_-]+\.[a-z0-9_-]+)\s*=\s*\"?([^\s;\"]+)\"?", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    """Whether the From address is proven, how, and a reason for people and logs."""

    proven: bool
    method: str  # "dmarc", "dkim", "spf" or "" when not proven
    reason: str


def authentication_results(raw: bytes) -> list[str]:
    """Return the Authentication-Results header values of a raw message, topmost first."""
    head_end = raw.find(b"\r\n\r\n")
    if head_end < 0:
        head_end = raw.find(b"\n\n")
    head = raw[: head_end if head_end >= 0 else 65536][:262144]
    message = BytesHeaderParser(policy=compat32).parsebytes(head)
    values = message.get_all("Authentication-Results") or []
    return [str(v)[:MAX_HEADER_CHARS] for v in values]


def parse_results(value: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """Return (authserv-id, [(method, result, {property: value})]) of one header value."""
    value = " ".join(_COMMENT.sub(" ", value[:MAX_HEADER_CHARS]).split())
    parts = value.split(";")
    authserv_id = parts[0].strip().split(" ")[0].lower() if parts else ""
    results = []
    for part in parts[1:]:
        match = _METHOD.match(part)
        if match is None:
            continue
        method, result, rest = match.group(1).lower(), match.group(2).lower(), match.group(3)
        properties = {k.lower(): v.lower() for k, v in _PROPERTY.findall(rest)}
        results.append((method, result, properties))
    return authserv_id, results


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().strip(".").lower()


def aligned(one: str, other: str) -> bool:
    """DMARC's relaxed alignment: the same domain, or one a subdomain of the other."""
    one, other = one.strip(".").lower(), other.strip(".").lower()
    if not one or not other:
        return False
    return one == other or one.endswith("." + other) or other.endswith("." + one)


def judge(results: list[str], from_address: str, trusted_ids) -> Verdict:
    """Decide whether `from_address` is proven by the topmost trusted header in `results`."""
    trusted = {t.strip().lower() for t in trusted_ids if t and t.strip()}
    if not trusted:
        return Verdict(False, "", "no trusted authserv-id is configured")
    domain = _domain_of(from_address)
    if not domain:
        return Verdict(False, "", "the From address has no domain")
    for value in results:
        authserv_id, methods = parse_results(value)
        if authserv_id not in trusted:
            continue
        for method, result, properties in methods:
            if result != "pass":
                continue
            if method == "dmarc":
                checked = properties.get("header.from", domain)
                if aligned(checked, domain):
                    return Verdict(True, "dmarc", f"dmarc=pass by {authserv_id}")
            elif method == "dkim":
                signer = properties.get("header.d", "") or _domain_of(
                    properties.get("header.i", "")
                )
                if aligned(signer, domain):
                    return Verdict(True, "dkim", f"dkim=pass for {signer} by {authserv_id}")
            elif method == "spf":
                envelope = _domain_of(properties.get("smtp.mailfrom", "")) or properties.get(
                    "smtp.helo", ""
                )
                if aligned(envelope, domain):
                    return Verdict(True, "spf", f"spf=pass for {envelope} by {authserv_id}")
        return Verdict(False, "", f"{authserv_id} found no aligned pass for {domain}")
    return Verdict(False, "", "no Authentication-Results from a trusted server")
