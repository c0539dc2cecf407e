"""AI providers, their models and deployments, prompt endpoints and their versions, moved here from the catalog app (`apis`).

In the state only: the tables exist already, under the names `db_table` keeps.
"""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('apis', '0018_usage_and_ai_move_to_their_apps'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Provider',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.SlugField(max_length=60, unique=True)),
                        ('kind', models.CharField(choices=[('openai', 'OpenAI'), ('anthropic', 'Anthropic'), ('gemini', 'Google Gemini'), ('mistral', 'Mistral'), ('ollama', 'Ollama'), ('openai_compatible', 'OpenAI-compatible')], max_length=20)),
                        ('base_url', models.URLField(help_text="What the provider's official SDK takes as its base URL", max_length=500)),
                        ('sealed_api_key', models.TextField(blank=True, editable=False)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'verbose_name': 'AI provider',
                        'db_table': 'apis_provider',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='PromptEndpoint',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('model', models.CharField(help_text='<provider>/<model>', max_length=200)),
                        ('system', models.TextField(blank=True)),
                        ('template', models.TextField(help_text='Text with {{variable}} placeholders')),
                        ('variables', models.JSONField(blank=True, default=dict, help_text='JSON Schema of variables')),
                        ('output', models.CharField(choices=[('text', 'Text'), ('json', 'JSON')], default='text', max_length=4)),
                        ('output_schema', models.JSONField(blank=True, help_text='JSON Schema of the output', null=True)),
                        ('version', models.PositiveIntegerField(default=1, editable=False)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('api', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='prompt', to='apis.api')),
                    ],
                    options={
                        'db_table': 'apis_promptendpoint',
                        'ordering': ['api__slug'],
                    },
                ),
                migrations.CreateModel(
                    name='PromptVersion',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('version', models.PositiveIntegerField()),
                        ('model', models.CharField(max_length=200)),
                        ('system', models.TextField(blank=True)),
                        ('template', models.TextField()),
                        ('variables', models.JSONField(blank=True, default=dict)),
                        ('output', models.CharField(max_length=4)),
                        ('output_schema', models.JSONField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('author', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('prompt', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='versions', to='ai.promptendpoint')),
                    ],
                    options={
                        'db_table': 'apis_promptversion',
                        'ordering': ['prompt', '-version'],
                        'constraints': [models.UniqueConstraint(fields=('prompt', 'version'), name='one_row_per_prompt_version')],
                    },
                ),
                migrations.CreateModel(
                    name='Deployment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.SlugField(help_text='How X-Model and usage name it', max_length=60)),
                        ('model', models.CharField(max_length=120)),
                        ('weight', models.PositiveIntegerField(default=1, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(1000)])),
                        ('rpm', models.PositiveIntegerField(blank=True, help_text='Requests per minute the provider allows this deployment; empty for no limit', null=True, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(10000000)])),
                        ('tpm', models.PositiveIntegerField(blank=True, help_text='Tokens per minute the provider allows this deployment (input plus the most output each call may produce); empty for no limit', null=True, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(1000000000)])),
                        ('sealed_api_key', models.TextField(blank=True, editable=False)),
                        ('api', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deployments', to='apis.api')),
                        ('provider', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='deployments', to='ai.provider')),
                    ],
                    options={
                        'db_table': 'apis_deployment',
                        'ordering': ['api', 'name'],
                        'constraints': [models.UniqueConstraint(fields=('api', 'name'), name='deployment_name_per_api')],
                    },
                ),
                migrations.CreateModel(
                    name='ProviderModel',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=120)),
                        ('input_cost_per_mtok', models.DecimalField(blank=True, decimal_places=6, help_text="USD per million input tokens; empty takes the bundled price table's", max_digits=12, null=True, validators=[django.core.validators.MinValueValidator(0)])),
                        ('output_cost_per_mtok', models.DecimalField(blank=True, decimal_places=6, help_text="USD per million output tokens; empty takes the bundled price table's", max_digits=12, null=True, validators=[django.core.validators.MinValueValidator(0)])),
                        ('provider', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='models', to='ai.provider')),
                    ],
                    options={
                        'db_table': 'apis_providermodel',
                        'ordering': ['provider', 'name'],
                        'constraints': [models.UniqueConstraint(fields=('provider', 'name'), name='model_name_per_provider')],
                    },
                ),
            ],
        ),
    ]
