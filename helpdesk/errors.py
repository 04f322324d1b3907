"""Errors the domain raises: each carries a message that can be shown to people."""


class DomainError(Exception):
    """A request the helpdesk refuses; `message` can be shown to the user."""

    code = "invalid"

    def __init__(self, message, *, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field


class NotAllowed(DomainError):
    code = "forbidden"


class InvalidTransition(DomainError):
    code = "transition"


class Conflict(DomainError):
    """Someone else changed the ticket first (e.g. took it from the queue)."""

    code = "conflict"


class RateLimited(DomainError):
    code = "rate_limited"
