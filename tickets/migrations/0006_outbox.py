# The outbox moves from the mail bridge into the ticket domain: the same
# table (mailbridge_outboundmail, renamed to tickets_outboundmail) and rows,
# now written by the domain's actions; each row also records the language
# the recipient reads.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0005_sla_defaults_followup_index'),
        ('mailbridge', '0003_outbox_moves_to_tickets'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='OutboundMail',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.CharField(max_length=200, unique=True)),
                        ('kind', models.CharField(max_length=30, verbose_name='kind')),
                        ('recipients', models.JSONField(default=list, verbose_name='recipients')),
                        ('subject', models.CharField(blank=True, max_length=255, verbose_name='subject')),
                        ('message_id', models.CharField(max_length=255, verbose_name='Message-ID')),
                        ('state', models.CharField(choices=[('pending', 'waiting to be sent'), ('sent', 'sent'), ('failed', 'failed'), ('suppressed', 'not sent')], default='pending', max_length=12, verbose_name='state')),
                        ('attempts', models.PositiveIntegerField(default=0, verbose_name='attempts')),
                        ('last_error', models.TextField(blank=True, verbose_name='last error')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created')),
                        ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='sent')),
                        ('last_attempt_at', models.DateTimeField(blank=True, null=True, verbose_name='last attempt')),
                        ('locked_until', models.DateTimeField(blank=True, null=True)),
                        ('ticket', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='outbound_mail', to='tickets.ticket')),
                        ('ticket_message', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='tickets.message')),
                    ],
                    options={
                        'verbose_name': 'outgoing e-mail',
                        'verbose_name_plural': 'outgoing e-mail',
                        'ordering': ['-created_at'],
                        'indexes': [models.Index(fields=['state', 'created_at'], name='outbound_state')],
                        'db_table': 'mailbridge_outboundmail',
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name='outboundmail', table=None),
        migrations.AddField(
            model_name='outboundmail',
            name='language',
            field=models.CharField(default='bg', max_length=8, verbose_name='language'),
        ),
    ]
