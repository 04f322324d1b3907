"""The celery application: mail, SLA sweeps and mailbox polling run here."""

import os

from celery import Celery
from celery.signals import task_prerun

from helpdesk.observability import request_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _log_with_task_id(task_id=None, **kwargs):
    """A task's log lines carry its id where a request's carry the request id."""
    request_id_var.set(f"task-{task_id}")
