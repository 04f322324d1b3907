"""The notification bell over the WebSocket: the mentioned colleague's count, nobody else's."""

import pytest
from channels.db import database_sync_to_async

from tests.console import test_consumers as ws
from tickets import actions, notifications
from tickets.models import OutboundMail

pytestmark = pytest.mark.django_db(transaction=True)

_own_channel_layer = ws._own_channel_layer
_short_lived_connections = ws._short_lived_connections


async def _receive_notification(communicator, timeout=5):
    """Return the next "notification" event, skipping ticket events."""
    while True:
        event = await communicator.receive_json_from(timeout=timeout)
        if event.get("type") == "notification":
            return event


def test_mention_updates_the_colleagues_bell_live_and_marks_them_online(cast, make_ticket):
    ticket = make_ticket()

    async def run():
        colleague = await ws._connect(cast.expert_x2)
        writer = await ws._connect(cast.expert_x)
        outsider = await ws._connect(cast.expert_y)
        national = await ws._connect(cast.supervisor_all)  # joins "all", and its own bell
        await ws._drain(colleague, writer, outsider, national)
        await database_sync_to_async(actions.add_message)(
            ticket=ticket,
            actor=cast.expert_x,
            kind="internal",
            text="@expert.x2 @expert.y @supervisor погледнете",
        )
        event = await _receive_notification(colleague)
        assert event == {"type": "notification", "unread": 1}
        event = await _receive_notification(national)
        assert event == {"type": "notification", "unread": 1}
        for communicator in (writer, outsider):
            while not await communicator.receive_nothing(timeout=ws.QUIET):
                frame = await communicator.receive_json_from()
                assert frame.get("type") != "notification", frame
        for communicator in (colleague, writer, outsider, national):
            await communicator.disconnect()

    ws.run_async(run)
    # Connected colleagues are not "away": the mention reached them live, no mail.
    assert notifications.is_online(cast.expert_x2.pk)
    mailed = OutboundMail.objects.filter(kind="mention").values_list("recipients", flat=True)
    assert list(mailed) == []
