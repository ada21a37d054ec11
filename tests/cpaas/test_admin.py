"""The Django admin: staff only; the workspace data read-only there (no secrets shown); django-q2's
failed tasks and schedules visible."""

import pytest
from django.utils import timezone
from django_q.models import Failure, Schedule

from channels_app.models import Channel
from tests.conftest import client_for
from tests.factories import ContactFactory, UserFactory


@pytest.fixture
def staff(db):
    return UserFactory(username="sam-staff", is_staff=True)


@pytest.mark.django_db
def test_the_admin_is_for_staff_only(admin_user):
    # a workspace admin who is not staff is sent to the admin's log-in
    response = client_for(admin_user).get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_staff_read_workspace_data_but_cannot_change_it(staff, workspace):
    contact = ContactFactory(workspace=workspace, first_name="Ada")
    client = client_for(staff)
    assert "Contacts" in client.get("/admin/").content.decode()
    listing = client.get("/admin/contacts/contact/")
    assert listing.status_code == 200 and "Ada" in listing.content.decode()
    page = client.get(f"/admin/contacts/contact/{contact.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    # a change or a deletion is refused
    assert (
        client.post(f"/admin/contacts/contact/{contact.pk}/change/", {"first_name": "Eve"}).status_code == 403
    )
    assert client.post(f"/admin/contacts/contact/{contact.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/contacts/contact/add/").status_code == 403
    contact.refresh_from_db()
    assert contact.first_name == "Ada"


@pytest.mark.django_db
def test_channel_credentials_are_not_shown(staff, workspace):
    channel = Channel.objects.filter(workspace=workspace).first()
    page = client_for(staff).get(f"/admin/channels_app/channel/{channel.pk}/change/").content.decode()
    assert "credential" not in page.lower()


@pytest.mark.django_db
def test_failed_tasks_and_schedules_are_visible(workspace):
    superuser = UserFactory(username="root-admin", is_staff=True, is_superuser=True)
    now = timezone.now()
    Failure.objects.create(id="a" * 32, name="import-ada", func="contacts.tasks.contact_import_run", args=(1,),
                           kwargs={}, result="ValueError: column 'phone' missing", started=now, stopped=now,
                           success=False)  # fmt: skip
    Schedule.objects.create(
        func="inbox.tasks.sweep", name="inbox sweep", schedule_type=Schedule.MINUTES, minutes=1
    )
    client = client_for(superuser)
    failures = client.get("/admin/django_q/failure/")
    assert failures.status_code == 200 and "import-ada" in failures.content.decode()
    schedules = client.get("/admin/django_q/schedule/")
    assert schedules.status_code == 200 and "inbox sweep" in schedules.content.decode()
