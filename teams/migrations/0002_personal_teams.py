"""Every user who exists gets a personal team, with themselves as its owner."""

from django.conf import settings
from django.db import migrations


def personal_teams(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    Team = apps.get_model("teams", "Team")
    Membership = apps.get_model("teams", "Membership")
    for user in User.objects.filter(personal_team__isnull=True).order_by("pk").iterator():
        team = Team.objects.create(name=user.username, personal_of=user)
        Membership.objects.create(team=team, user=user, role="owner")


class Migration(migrations.Migration):
    dependencies = [
        ("teams", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(personal_teams, migrations.RunPython.noop)]
