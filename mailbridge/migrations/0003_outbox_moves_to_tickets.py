# The outbox belongs to the ticket domain now (tickets.OutboundMail): the
# mail bridge only delivers it. The table is kept; tickets' migration 0006
# takes the model over in Django's state and renames the table.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('mailbridge', '0002_inbound_mail'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='OutboundMail')],
            database_operations=[],
        ),
    ]
