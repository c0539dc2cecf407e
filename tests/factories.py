"""factory_boy factories for the catalog, applications and users."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from apis.models import Api, Plan, Subscription
from apis.services import api_transition
from keys.models import Application
from keys.secrets import hash_secret
from teams.models import Membership, Team
from teams.services import personal_team_ensure

DEFAULT_SECRET = "pcs_test-secret-for-factories"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"dev{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct-horse-battery")


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    is_superuser = True


class TeamFactory(factory.django.DjangoModelFactory):
    """A shared team; `TeamFactory(members={user: role})` adds its members."""

    class Meta:
        model = Team
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"team-{n}")

    @factory.post_generation
    def members(self, create: bool, extracted: dict | None, **kwargs) -> None:
        for user, role in (extracted or {}).items():
            Membership.objects.create(team=self, user=user, role=role)


class ApplicationFactory(factory.django.DjangoModelFactory):
    """An application of `team`, by default the personal team of `owner` (a new user)."""

    class Meta:
        model = Application

    class Params:
        owner = factory.SubFactory(UserFactory)

    team = factory.LazyAttribute(lambda app: personal_team_ensure(app.owner))
    created_by = factory.SelfAttribute("owner")
    name = factory.Sequence(lambda n: f"app-{n}")
    secret_hash = factory.LazyFunction(lambda: hash_secret(DEFAULT_SECRET))


class ApiFactory(factory.django.DjangoModelFactory):
    """An API in the design state; `ApiFactory(published=True)` publishes it with a plan."""

    class Meta:
        model = Api
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"api-{n}")
    name = factory.Sequence(lambda n: f"API {n}")
    version = "v1"
    description = "An API for tests."
    kind = Api.Kind.REST
    upstream_url = "http://127.0.0.1:9/"

    @factory.post_generation
    def published(self, create: bool, extracted: bool | None, **kwargs) -> None:
        if create and extracted:
            if not self.plans.exists():
                PlanFactory(api=self)
            api_transition(api=self, to="published", actor=None)


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    api = factory.SubFactory(ApiFactory)
    name = factory.Sequence(lambda n: f"plan-{n}")
    rate_limit = "1000/m"


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    application = factory.SubFactory(ApplicationFactory)
    api = factory.SubFactory(ApiFactory, published=True)
    plan = factory.LazyAttribute(lambda sub: sub.api.plans.first())
    status = Subscription.Status.ACTIVE
