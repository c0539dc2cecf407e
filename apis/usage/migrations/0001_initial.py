"""Usage events, rollups, spend and its alerts, moved here from the catalog app (`apis`).

In the state only: the tables exist already, under the names `db_table` keeps.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('apis', '0018_usage_and_ai_move_to_their_apps'),
        ('keys', '0004_application_budgets'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='UsageLock',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=40, unique=True)),
                    ],
                    options={
                        'db_table': 'apis_usagelock',
                    },
                ),
                migrations.CreateModel(
                    name='UsageRejected',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('source_id', models.CharField(editable=False, max_length=64, unique=True)),
                        ('fields', models.JSONField()),
                        ('reason', models.TextField()),
                        ('at', models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        'verbose_name': 'rejected usage entry',
                        'verbose_name_plural': 'rejected usage entries',
                        'db_table': 'apis_usagerejected',
                        'ordering': ['-at'],
                    },
                ),
                migrations.CreateModel(
                    name='SpendAlert',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('policy', models.CharField(choices=[('budget', 'Money budget'), ('tokens', 'Token quota'), ('monthly', 'Request quota')], max_length=8)),
                        ('threshold', models.PositiveSmallIntegerField()),
                        ('month', models.CharField(help_text='YYYY-MM (UTC)', max_length=7)),
                        ('detail', models.CharField(max_length=300)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('api', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='apis.api')),
                        ('application', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='keys.application')),
                    ],
                    options={
                        'db_table': 'apis_spendalert',
                        'ordering': ['-created_at', '-id'],
                        'constraints': [models.UniqueConstraint(fields=('application', 'api', 'policy', 'threshold', 'month'), name='one_alert_per_threshold_and_month', nulls_distinct=False)],
                    },
                ),
                migrations.CreateModel(
                    name='SpendRollup',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField()),
                        ('model', models.CharField(blank=True, max_length=200)),
                        ('calls', models.PositiveIntegerField(default=0)),
                        ('cost', models.DecimalField(decimal_places=6, default=0, max_digits=18)),
                        ('estimated_calls', models.PositiveIntegerField(default=0)),
                        ('estimated_cost', models.DecimalField(decimal_places=6, default=0, max_digits=18)),
                        ('cached_calls', models.PositiveIntegerField(default=0)),
                        ('api', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='apis.api')),
                        ('application', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='keys.application')),
                    ],
                    options={
                        'verbose_name': 'spend rollup',
                        'verbose_name_plural': 'spend this month',
                        'db_table': 'apis_spendrollup',
                        'ordering': ['-day', 'api_id', 'application_id', 'model'],
                        'indexes': [models.Index(fields=['day'], name='spend_rollup_month')],
                        'constraints': [models.UniqueConstraint(fields=('day', 'api', 'application', 'model'), name='spend_rollup_day')],
                    },
                ),
                migrations.CreateModel(
                    name='UsageEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('source_id', models.CharField(editable=False, max_length=64, unique=True)),
                        ('at', models.DateTimeField()),
                        ('status', models.PositiveSmallIntegerField()),
                        ('latency_ms', models.PositiveIntegerField(default=0)),
                        ('bytes_in', models.PositiveBigIntegerField(default=0)),
                        ('bytes_out', models.PositiveBigIntegerField(default=0)),
                        ('prompt_tokens', models.PositiveIntegerField(default=0)),
                        ('completion_tokens', models.PositiveIntegerField(default=0)),
                        ('cache_read_tokens', models.PositiveIntegerField(default=0)),
                        ('cache_write_tokens', models.PositiveIntegerField(default=0)),
                        ('reasoning_tokens', models.PositiveIntegerField(default=0)),
                        ('estimated', models.BooleanField(default=False)),
                        ('cached', models.BooleanField(default=False)),
                        ('cost', models.DecimalField(decimal_places=6, default=0, max_digits=14)),
                        ('channel', models.CharField(default='http', max_length=8)),
                        ('request_id', models.CharField(blank=True, max_length=128)),
                        ('model', models.CharField(blank=True, max_length=200)),
                        ('rolled_up', models.BooleanField(default=False, editable=False)),
                        ('api', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='apis.api')),
                        ('application', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='keys.application')),
                        ('subscription', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='apis.subscription')),
                    ],
                    options={
                        'db_table': 'apis_usageevent',
                        'ordering': ['-at', '-id'],
                        'indexes': [models.Index(fields=['api', 'application', 'at'], name='usage_event_period'), models.Index(condition=models.Q(('rolled_up', False)), fields=['id'], name='usage_event_pending'), models.Index(fields=['at'], name='usage_event_at')],
                    },
                ),
                migrations.CreateModel(
                    name='UsageRollup',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('granularity', models.CharField(choices=[('hour', 'Hour'), ('day', 'Day')], max_length=4)),
                        ('period_start', models.DateTimeField()),
                        ('requests', models.PositiveIntegerField(default=0)),
                        ('errors', models.PositiveIntegerField(default=0)),
                        ('prompt_tokens', models.PositiveBigIntegerField(default=0)),
                        ('completion_tokens', models.PositiveBigIntegerField(default=0)),
                        ('cache_read_tokens', models.PositiveBigIntegerField(default=0)),
                        ('cache_write_tokens', models.PositiveBigIntegerField(default=0)),
                        ('reasoning_tokens', models.PositiveBigIntegerField(default=0)),
                        ('estimated_tokens', models.PositiveBigIntegerField(default=0)),
                        ('cost', models.DecimalField(decimal_places=6, default=0, max_digits=18)),
                        ('p50_ms', models.PositiveIntegerField(default=0)),
                        ('p95_ms', models.PositiveIntegerField(default=0)),
                        ('latency_histogram', models.JSONField(default=dict, editable=False)),
                        ('bytes_in', models.PositiveBigIntegerField(default=0)),
                        ('bytes_out', models.PositiveBigIntegerField(default=0)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('api', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='apis.api')),
                        ('application', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='keys.application')),
                    ],
                    options={
                        'db_table': 'apis_usagerollup',
                        'ordering': ['-period_start', 'api_id', 'application_id'],
                        'indexes': [models.Index(fields=['granularity', 'api', 'period_start'], name='usage_rollup_api'), models.Index(fields=['granularity', 'application', 'period_start'], name='usage_rollup_app')],
                        'constraints': [models.UniqueConstraint(fields=('granularity', 'period_start', 'api', 'application'), name='usage_rollup_period')],
                    },
                ),
            ],
        ),
    ]
