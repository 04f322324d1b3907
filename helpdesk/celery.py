"""The celery application: mail, SLA sweeps and mailbox polling run here."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

from helpdesk.observability import request_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Tokens to undo the id when the task ends (eager tasks run in the caller's thread).
_task_tokens: dict = {}


@task_prerun.connect
def _log_with_task_id(task_id=None, **kwargs):
    """A task's log lines carry its id where a request's carry the request id.

    A task run inside a request (eagerly) keeps the request's id.
    """
    if request_id_var.get() == "-":
        _task_tokens[task_id] = request_id_var.set(f"task-{task_id}")


@task_postrun.connect
def _forget_task_id(task_id=None, **kwargs):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        request_id_var.reset(token)
