import factory
from django.contrib.auth import get_user_model

from contacts.models import AttributeDefinition, Contact, Event, Segment, Tag
from cpaas.models import Membership, Workspace


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"workspace-{n}")
    timezone = "Europe/London"
    default_country = "GB"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("secret-pass-123")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = "admin"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    workspace = factory.SubFactory(WorkspaceFactory)
    first_name = factory.Sequence(lambda n: f"Person{n}")
    last_name = "Example"
    phone = factory.Sequence(lambda n: f"+4479111{n:05d}")
    email = factory.LazyAttribute(lambda c: f"{c.first_name.lower()}@example.com")


class AttributeDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AttributeDefinition

    workspace = factory.SubFactory(WorkspaceFactory)
    key = factory.Sequence(lambda n: f"attr{n}")
    label = factory.LazyAttribute(lambda a: a.key.title())
    type = "text"


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    workspace = factory.SelfAttribute("contact.workspace")
    contact = factory.SubFactory(ContactFactory)
    name = "signup"
    occurred_at = factory.Faker("date_time_this_year", tzinfo=__import__("datetime").timezone.utc)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"tag{n}")


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Segment {n}")
    definition = factory.LazyFunction(
        lambda: {"match": "all", "rules": [{"field": "language", "op": "eq", "value": "fr"}]}
    )


# --- channels_app ------------------------------------------------------------------------------


class ChannelFactory(factory.django.DjangoModelFactory):
    """A sandbox channel (the workspace also has the sandbox channels it starts with)."""

    class Meta:
        model = "channels_app.Channel"

    workspace = factory.SubFactory(WorkspaceFactory)
    kind = "sms"
    provider = "sandbox"
    name = factory.Sequence(lambda n: f"Channel {n}")
    address = "+15005550006"
    rate_limit_per_second = 1000

    @factory.post_generation
    def secret(obj, create, extracted, **kwargs):
        from channels_app.models import ChannelBucket

        if obj.provider == "sandbox" and not obj.credentials_encrypted:
            obj.set_credentials({"secret": extracted or "sandbox-test-secret"})
            if create:
                obj.save(update_fields=["credentials_encrypted"])
        if create:
            ChannelBucket.objects.get_or_create(channel=obj)
