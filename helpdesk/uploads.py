"""Checking and storing attached files: by their content, never their name."""

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.utils.translation import gettext as _

# What people attach in practice: scans, screenshots, PDFs, office files.
PORTAL_TYPES = {
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/tiff",
    "image/bmp",
    "application/pdf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/zip",
    "text/plain",
    "text/csv",
}
# Mail brings a few more shapes that an agent still needs to see.
MAIL_TYPES = PORTAL_TYPES | {
    "message/rfc822",
    "application/vnd.ms-tnef",
    "application/pgp-signature",
}

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_TNEF_MAGIC = b"\x78\x9f\x3e\x22"


@dataclass
class CheckedFile:
    name: str
    content: bytes
    size: int
    content_type: str
    sha256: str


class UploadRejected(Exception):
    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def clean_filename(name: str) -> str:
    """Return a safe display name: no path, no control characters, bounded length."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"[<>:\"|?*]", "_", name).strip().strip(".")
    if not name:
        name = "file"
    if len(name) > 150:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 140 - len(ext)] + dot + ext) if dot and len(ext) < 10 else name[:150]
    return name


def _looks_like_text(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return False
    for encoding in ("utf-8", "cp1251"):
        try:
            sample.decode(encoding)
            return True
        except UnicodeDecodeError:
            # A multi-byte character cut at the sample's end is still text.
            try:
                sample[:-3].decode(encoding)
                return True
            except UnicodeDecodeError:
                continue
    return False


def _looks_like_email(data: bytes) -> bool:
    head = data[:2048].lower()
    return any(h in head for h in (b"\nfrom:", b"\nsubject:", b"\nreceived:")) or head.startswith(
        (b"from:", b"received:", b"return-path:", b"message-id:", b"date:")
    )


def detect_content_type(data: bytes, name: str = "") -> str:
    """Return the MIME type that the bytes are, or "" when unknown."""
    kind = filetype.guess(data[:8192])
    if kind is not None:
        mime = kind.mime
        if mime == "application/zip" or mime.startswith("application/vnd.openxmlformats"):
            return mime
        return mime
    if data.startswith(_OLE_MAGIC):
        lower = name.lower()
        if lower.endswith((".xls", ".xlt")):
            return "application/vnd.ms-excel"
        return "application/msword"
    if data.startswith(_TNEF_MAGIC):
        return "application/vnd.ms-tnef"
    if data.startswith(b"-----BEGIN PGP"):
        return "application/pgp-signature"
    if _looks_like_text(data):
        if _looks_like_email(data):
            return "message/rfc822"
        if name.lower().endswith(".csv"):
            return "text/csv"
        return "text/plain"
    return ""


def check_file(name: str, data: bytes, *, allowed=PORTAL_TYPES) -> CheckedFile:
    """Return the checked file or raise UploadRejected with a reason for people."""
    rules = settings.HELPDESK
    clean = clean_filename(name)
    if len(data) == 0:
        raise UploadRejected(clean, _("the file is empty"))
    if len(data) > rules["MAX_FILE_BYTES"]:
        limit = rules["MAX_FILE_BYTES"] // (1024 * 1024)
        raise UploadRejected(clean, _("the file is larger than %(mb)s MB") % {"mb": limit})
    content_type = detect_content_type(data, clean)
    if content_type not in allowed:
        raise UploadRejected(
            clean,
            _("this kind of file is not accepted (%(type)s)")
            % {"type": content_type or _("unknown")},
        )
    return CheckedFile(
        name=clean,
        content=data,
        size=len(data),
        content_type=content_type,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def check_files(files: list[tuple[str, bytes]], *, allowed=PORTAL_TYPES) -> list[CheckedFile]:
    """Check a whole request's files; raise UploadRejected on the first bad one."""
    rules = settings.HELPDESK
    if len(files) > rules["MAX_FILES"]:
        raise UploadRejected(
            "", _("at most %(n)s files can be attached at once") % {"n": rules["MAX_FILES"]}
        )
    total = sum(len(data) for _name, data in files)
    if total > rules["MAX_REQUEST_BYTES"]:
        limit = rules["MAX_REQUEST_BYTES"] // (1024 * 1024)
        raise UploadRejected("", _("all files together exceed %(mb)s MB") % {"mb": limit})
    return [check_file(name, data, allowed=allowed) for name, data in files]
