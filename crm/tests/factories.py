import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from crm.models import (
    Activity,
    ActivityKind,
    Customer,
    Deal,
    DealStage,
    Route,
    RouteStop,
    SalesRep,
    Task,
    Team,
)

PASSWORD = "test-password-123"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            # get_or_create: transactional tests flush the groups the migration created.
            self.groups.add(*(Group.objects.get_or_create(name=name)[0] for name in extracted))


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    manager = factory.SubFactory(UserFactory, groups=["supervisor"])


class SalesRepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SalesRep

    user = factory.SubFactory(UserFactory, groups=["rep"])
    team = factory.SubFactory(TeamFactory)
    employee_code = factory.Sequence(lambda n: f"E{n:04d}")
    hire_date = dt.date(2024, 1, 15)
    timezone = "Europe/Madrid"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Faker("company")
    code = factory.Sequence(lambda n: f"C{n:05d}")
    address = factory.Faker("street_address")
    owner = factory.SubFactory(SalesRepFactory)


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deal

    rep = factory.SubFactory(SalesRepFactory)
    customer = factory.SubFactory(CustomerFactory, owner=factory.SelfAttribute("..rep"))
    title = factory.Sequence(lambda n: f"Deal {n}")
    amount = Decimal("1000.00")
    stage = DealStage.PROSPECTING
    closed_at = factory.LazyAttribute(
        lambda deal: timezone.now() if deal.stage in DealStage.closed() else None
    )


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    rep = factory.SubFactory(SalesRepFactory)
    customer = factory.SubFactory(CustomerFactory, owner=factory.SelfAttribute("..rep"))
    kind = ActivityKind.VISIT
    subject = factory.Sequence(lambda n: f"Visit {n}")
    due_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=1))


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    rep = factory.SubFactory(SalesRepFactory)
    title = factory.Sequence(lambda n: f"Task {n}")


class RouteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Route

    code = factory.Sequence(lambda n: f"{1000 + n}")
    name = factory.Sequence(lambda n: f"Route {n}")
    rep = factory.SubFactory(SalesRepFactory)


class RouteStopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RouteStop

    route = factory.SubFactory(RouteFactory)
    customer = factory.SubFactory(CustomerFactory)
    sequence = factory.Sequence(lambda n: n + 1)
    planned_quantity = 10
