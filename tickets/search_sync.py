"""Keeps the ticket search documents (tickets.search) in step with subjects and messages.

Connected to the models' signals in TicketsConfig.ready(), so every save of
a message or of a changed subject, through whichever action, reaches the
document in the same transaction. Writes that bypass signals (a queryset
update, e.g. a merge moving messages) call tickets.search.refresh() themselves.
"""

from django.db.models import signals

from tickets import search
from tickets.models import Message, Ticket

# Set on a new Ticket instance by the filing (tickets.actions.filing) before its
# insert: its first message follows in the same transaction, and the search
# document is written once, with both, when that message is saved — one
# statement instead of a document from the subject and an update for the text.
FIRST_MESSAGE_PENDING = "_search_first_message_pending"


def remember_subject(sender, instance, **kwargs):
    # __dict__, not the attribute: a deferred subject must not cost a query per row.
    instance._search_subject = instance.__dict__.get("subject") if instance.pk else None


def ticket_saved(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    if update_fields is not None and "subject" not in update_fields:
        return
    subject = instance.__dict__.get("subject")
    if created and subject is not None and instance.__dict__.get(FIRST_MESSAGE_PENDING):
        # Filing: the document is written once, with the first message (message_saved).
        instance._search_subject = subject
        return
    if created and subject is not None:
        # A new ticket has no messages yet: no need to read anything back.
        search.start_document(instance.pk, subject)
        instance._search_subject = subject
    elif created or (subject is not None and getattr(instance, "_search_subject", None) != subject):
        search.refresh([instance.pk])
        instance._search_subject = subject


def ticket_deleted(sender, instance, **kwargs):
    search.remove(instance.pk)


def message_saved(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    if created:
        ticket = instance.ticket if Message.ticket.is_cached(instance) else None
        if ticket is not None and ticket.__dict__.pop(FIRST_MESSAGE_PENDING, False):
            search.start_document(ticket.pk, ticket.subject, [(instance.kind, instance.body_text)])
            return
        search.append_message(instance.ticket_id, instance.kind, instance.body_text)
        return
    if update_fields is not None and not {"body_text", "kind", "ticket"} & set(update_fields):
        return
    search.refresh([instance.ticket_id])


def message_deleted(sender, instance, **kwargs):
    search.refresh([instance.ticket_id])


def connect():

    signals.post_init.connect(remember_subject, sender=Ticket, dispatch_uid="search-subject")
    signals.post_save.connect(ticket_saved, sender=Ticket, dispatch_uid="search-ticket")
    signals.post_delete.connect(ticket_deleted, sender=Ticket, dispatch_uid="search-ticket-del")
    signals.post_save.connect(message_saved, sender=Message, dispatch_uid="search-message")
    signals.post_delete.connect(message_deleted, sender=Message, dispatch_uid="search-msg-del")
