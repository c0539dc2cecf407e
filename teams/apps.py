"""Application config of the teams app."""

from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "teams"
    verbose_name = "Teams"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_save

        from teams.services import personal_team_for_new_user

        # However a user comes to be (sign-up, admin, createsuperuser), they have a team.
        post_save.connect(
            personal_team_for_new_user, sender=settings.AUTH_USER_MODEL, dispatch_uid="teams-new"
        )
