"""Logging filters of the base layer (settings.LOGGING)."""

import logging

# Answers that are part of normal use: a page that does not exist, a page
# someone may not open, a form sent the wrong way, a limit reached.
EXPECTED_REFUSALS = frozenset({403, 404, 405, 410, 429})


class ExpectedRefusals(logging.Filter):
    """Log django.request's expected refusals at INFO, without a traceback.

    Django logs every 4xx answer as a warning and a PermissionDenied with its
    traceback; those are not faults of the helpdesk and must not look like
    them. 5xx answers keep their level and traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) in EXPECTED_REFUSALS:
            record.levelno = logging.INFO
            record.levelname = logging.getLevelName(logging.INFO)
            record.exc_info = None
            record.exc_text = None
        return True
