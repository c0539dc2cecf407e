"""Applications belong to teams: each one moves to its owner's personal team.

The owner stays on as `created_by`; names are unique per team instead of per owner.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def to_personal_teams(apps, schema_editor):
    Application = apps.get_model("keys", "Application")
    Team = apps.get_model("teams", "Team")
    for team in Team.objects.filter(personal_of__isnull=False).iterator():
        Application.objects.filter(created_by_id=team.personal_of_id).update(team=team)


def to_owners(apps, schema_editor):
    Application = apps.get_model("keys", "Application")
    Membership = apps.get_model("teams", "Membership")
    for application in Application.objects.filter(created_by__isnull=True).iterator():
        owner = Membership.objects.filter(team_id=application.team_id, role="owner").first()
        application.created_by_id = owner.user_id
        application.save(update_fields=["created_by"])


class Migration(migrations.Migration):
    dependencies = [
        ("keys", "0002_token_keys"),
        ("teams", "0002_personal_teams"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="application", name="application_name_per_owner"),
        migrations.RenameField(model_name="application", old_name="owner", new_name="created_by"),
        migrations.AlterField(
            model_name="application",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="applications_created",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="application",
            name="team",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="applications",
                to="teams.team",
            ),
        ),
        migrations.RunPython(to_personal_teams, to_owners),
        migrations.AlterField(
            model_name="application",
            name="team",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="applications",
                to="teams.team",
            ),
        ),
        migrations.AddConstraint(
            model_name="application",
            constraint=models.UniqueConstraint(
                fields=("team", "name"), name="application_name_per_team"
            ),
        ),
    ]
