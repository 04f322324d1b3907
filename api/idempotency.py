"""Idempotency-Key: a retried POST (create, reply) does its work once.

The key row is inserted in the same transaction as the change, before it:
a second request with the same key waits on the row's unique index (or on
SQLite's write lock) until the first commits, then replays the stored
answer. A refusal (4xx) is not stored, so nothing was written and the client
may correct the request and send it again with the same key. The same key
with a different body is a client bug: 422.
"""

import datetime
import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.response import Response

from api.errors import ApiError
from api.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 255
# Keys are kept this long; a retry after that runs again.
KEEP_FOR = datetime.timedelta(hours=24)


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.path.encode())
    data = request.data
    if hasattr(data, "lists"):  # a form or multipart body: fields and file digests
        fields = sorted((k, v) for k, values in data.lists() for v in values if isinstance(v, str))
        digest.update(json.dumps(fields, ensure_ascii=False).encode())
        for name, upload in sorted(request.FILES.items()):
            digest.update(name.encode())
            digest.update(str(upload.size).encode())
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    else:
        digest.update(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode())
    return digest.hexdigest()


def read_key(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_CHARS or not key.isprintable():
        raise ApiError(
            _("The Idempotency-Key must be 1 to 255 printable characters."),
            code="invalid",
            field=HEADER,
        )
    return key


def idempotent(request, handler) -> Response:
    """Run `handler()` once per (caller, Idempotency-Key); replay its answer on a retry."""
    key = read_key(request)
    if key is None:
        return handler()
    fingerprint = _fingerprint(request)
    user = request.user
    with transaction.atomic():
        IdempotencyKey.objects.filter(
            user=user, key=key, created_at__lt=timezone.now() - KEEP_FOR
        ).delete()
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    user=user, key=key, fingerprint=fingerprint, status_code=0, body={}
                )
        except IntegrityError:
            record = IdempotencyKey.objects.get(user=user, key=key)
            if record.fingerprint != fingerprint:
                raise ApiError(
                    _("This Idempotency-Key was used for a different request."),
                    code="idempotency_mismatch",
                    status_code=422,
                ) from None
            response = Response(record.body, status=record.status_code)
            response["Idempotent-Replayed"] = "true"
            return response
        response = handler()
        if response.status_code >= 300:
            # Nothing was done: forget the key with the rest of the transaction.
            transaction.set_rollback(True)
            return response
        record.status_code = response.status_code
        record.body = response.data
        record.save(update_fields=["status_code", "body"])
        return response


def forget_old(now=None) -> int:
    """Delete keys older than KEEP_FOR; return how many."""
    now = now or timezone.now()
    deleted, _rows = IdempotencyKey.objects.filter(created_at__lt=now - KEEP_FOR).delete()
    return deleted
