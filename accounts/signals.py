"""What accounts announces, for the layers above it to act on."""

from django.dispatch import Signal

# Sent (robustly) after an administrator deactivated a person and their
# sessions ended: user, actor. A part that keeps its own credentials for
# people (API tokens) connects here and revokes them.
user_deactivated = Signal()
