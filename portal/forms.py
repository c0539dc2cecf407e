"""Forms of the developer portal: signup, password change, applications, subscriptions."""

from __future__ import annotations

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from apis.models import Api, Plan
from keys.models import Application
from lifecycle.states import State
from portal.password_guard import password_check_failed
from teams.models import INVITED_ROLES, Role, Team


class SignupForm(UserCreationForm):
    """A new developer account: username, e-mail and a password typed twice."""

    email = forms.EmailField(required=True, help_text="For notices about the APIs you use.")

    # The stubs leave out UserCreationForm.Meta, which Django defines (model, field classes).
    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined]
        model = User
        fields = ("username", "email")


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's password change; a wrong old password counts as a failed sign-in."""

    def clean_old_password(self) -> str:
        try:
            return super().clean_old_password()
        except ValidationError:
            password_check_failed()
            raise


class AdminPasswordChangeForm(PasswordChangeForm):
    """The same, as Django admin's password-change page shows it."""

    required_css_class = "required"


class ApplicationForm(forms.Form):
    """The name of a new application."""

    name = forms.CharField(max_length=100, help_text="Something you will recognise, e.g. 'shop'.")


class PlanChoiceField(forms.ModelChoiceField):
    """Plans labelled with their API and limits."""

    def label_from_instance(self, obj: Plan) -> str:
        approval = ", needs approval" if obj.requires_approval else ""
        return f"{obj.api.name} {obj.api.version} — {obj.name} ({obj.rate_limit}{approval})"


class SubscribeForm(forms.Form):
    """Subscribe one of the team's applications to a plan of a published API."""

    application = forms.ModelChoiceField(queryset=Application.objects.none())
    plan = PlanChoiceField(queryset=Plan.objects.none())

    def __init__(self, *args, team: Team, api: Api | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        application, plan = self.fields["application"], self.fields["plan"]
        assert isinstance(application, forms.ModelChoiceField)  # as declared above
        assert isinstance(plan, forms.ModelChoiceField)
        application.queryset = Application.objects.filter(team=team)
        plans = Plan.objects.select_related("api").filter(api__state=State.PUBLISHED)
        if api is not None:
            plans = plans.filter(api=api)
        plan.queryset = plans.order_by("api__name", "api__version", "name")


class TeamForm(forms.Form):
    """The name of a new team."""

    name = forms.CharField(max_length=100, label="New team name")


class InvitationForm(forms.Form):
    """Whom to invite to the current team, and as what."""

    email = forms.EmailField(label="E-mail address")
    role = forms.ChoiceField(choices=INVITED_ROLES, initial=Role.DEVELOPER)
