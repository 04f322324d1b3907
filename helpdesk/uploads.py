"""Checking and storing attached files: by their content, never their name."""

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.utils.translation import gettext as _

from helpdesk.sizes import format_size, size_format

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
# The names such files usually carry. The server decides by content; the browser,
# which cannot read the content before sending, checks the name against these
# (and the `accept` attribute of the file inputs lists them).
PORTAL_EXTENSIONS = {
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "image/tiff": (".tif", ".tiff"),
    "image/bmp": (".bmp",),
    "application/pdf": (".pdf",),
    "application/msword": (".doc",),
    "application/vnd.ms-excel": (".xls",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/vnd.oasis.opendocument.spreadsheet": (".ods",),
    "application/zip": (".zip",),
    "text/plain": (".txt",),
    "text/csv": (".csv",),
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
        raise UploadRejected(clean, too_big_reason(rules["MAX_FILE_BYTES"]))
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
        raise UploadRejected("", too_many_reason(rules["MAX_FILES"]))
    total = sum(len(data) for _name, data in files)
    if total > rules["MAX_REQUEST_BYTES"]:
        raise UploadRejected("", too_much_reason(rules["MAX_REQUEST_BYTES"]))
    return [check_file(name, data, allowed=allowed) for name, data in files]


# The reasons, one wording for the server's refusal and the browser's warning.


def too_big_reason(limit: int) -> str:
    return _("the file is larger than %(size)s") % {"size": format_size(limit)}


def too_many_reason(count: int) -> str:
    return _("at most %(n)s files can be attached at once") % {"n": count}


def too_much_reason(limit: int) -> str:
    return _("all files together exceed %(size)s") % {"size": format_size(limit)}


def browser_rules() -> dict:
    """The portal's upload limits and their reasons, for the check in the browser
    (static/js/uploads.js) before anything is sent. The server's check is the same
    whether or not the browser ran this one."""
    rules = settings.HELPDESK
    extensions = sorted({ext for exts in PORTAL_EXTENSIONS.values() for ext in exts})
    return {
        "maxFileBytes": rules["MAX_FILE_BYTES"],
        "maxFiles": rules["MAX_FILES"],
        "maxRequestBytes": rules["MAX_REQUEST_BYTES"],
        "extensions": extensions,
        "types": sorted(PORTAL_TYPES),
        "accept": ",".join(extensions),
        "maxFileText": format_size(rules["MAX_FILE_BYTES"]),
        "reasons": {
            "tooBig": too_big_reason(rules["MAX_FILE_BYTES"]),
            "tooMany": too_many_reason(rules["MAX_FILES"]),
            "tooMuch": too_much_reason(rules["MAX_REQUEST_BYTES"]),
            "empty": _("the file is empty"),
            # %(type)s: the browser fills in the file's extension.
            "type": _("this kind of file is not accepted (%(type)s)"),
        },
        # The portal form's wording around a reason (portal/forms.py).
        "oneFile": _("“%(name)s” was not accepted: %(reason)s."),
        "allFiles": _("The files were not accepted: %(reason)s."),
        "size": size_format(),
    }
