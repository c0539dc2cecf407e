import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("apis", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="api",
            name="upstream_header",
            field=models.CharField(
                blank=True,
                help_text="Header the gateway adds with the upstream credential, e.g. X-Api-Key",
                max_length=100,
                validators=[
                    django.core.validators.RegexValidator(
                        "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
                        "Enter an HTTP header name, e.g. X-Api-Key.",
                    )
                ],
            ),
        ),
        migrations.AddField(
            model_name="api",
            name="upstream_secret",
            field=models.TextField(blank=True, editable=False),
        ),
    ]
