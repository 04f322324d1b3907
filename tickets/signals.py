"""What the domain tells the doors after a commit, without knowing who listens.

The domain never imports a door. Doors subscribe in their AppConfig.ready():
the console pushes live updates on ``ticket_changed``, the mail bridge
delivers the outbox on ``outbox_written``. Both are sent from
``transaction.on_commit`` with ``send_robust``, so a failing listener (a
broker that is down) is logged and never undoes the change; what must not be
lost is already a row in the outbox.
"""

from django.dispatch import Signal

# kwargs: ticket_id, change (what happened: "created", "message", "status" ...), extra fields.
ticket_changed = Signal()

# kwargs: ids (the new OutboundMail rows, in the order they were written).
outbox_written = Signal()

# Sent synchronously *inside* the transaction of a change, with the same
# kwargs as ticket_changed, for listeners that must write rows of their own
# with the change (the API's webhook deliveries): a listener that fails rolls
# the change back, so nothing slow or remote belongs here.
ticket_changing = Signal()

# kwargs: user_id, old_email, new_email. Sent after the commit of
# tickets.personal_data.anonymise, so that a door that keeps people's
# addresses of its own (the mail bridge: received mail) forgets them too.
person_anonymised = Signal()

# kwargs: user_id. Sent after the commit of a change that wrote an agent a
# console notification (tickets/notifications.py): the console tells that
# person's open pages, each of which reads the new unread count.
notification_created = Signal()
# kwargs: alert_id. Sent after the commit of tickets.surges.detect for each
# new SurgeAlert; the console pushes it to the supervisors concerned.
surge_alerted = Signal()
