"""Every model of every project app that holds contact data is exported and erased by its own
app's gdpr.py: the registry test introspects the models (relations to Contact, directly or
through another row; contact id columns; address columns; stored uploads), so a model added
later without its GDPR part fails here."""

import dataclasses

import pytest

from cpaas import gdpr


def test_every_model_with_contact_data_is_covered_by_its_app():
    assert gdpr.coverage_problems() == []


def test_the_apps_with_contact_data_register_an_exporter_and_an_eraser():
    registered = gdpr.registrations()
    assert {"cpaas", "contacts", "consent", "channels_app", "journeys"} <= set(registered)
    for registration in registered.values():
        assert callable(registration.export) and callable(registration.erase)


@pytest.mark.parametrize(
    "model",
    ["channels_app.Message", "channels_app.MessageStatusEvent", "journeys.Step", "contacts.ContactImport",
     "channels_app.SandboxDelivery", "journeys.AudienceRun", "consent.ErasureGate", "cpaas.RealtimeEvent"],
)  # fmt: skip
def test_a_model_left_out_of_its_app_s_registration_is_reported(model, monkeypatch):
    app = model.split(".")[0]
    registration = gdpr.registrations()[app]
    monkeypatch.setitem(
        gdpr._registry,
        app,
        dataclasses.replace(
            registration,
            covers=tuple(m for m in registration.covers if m != model),
            copies=tuple(m for m in registration.copies if m != model),
            not_personal={m: why for m, why in registration.not_personal.items() if m != model},
        ),
    )
    problems = gdpr.coverage_problems()
    assert len(problems) == 1 and problems[0].startswith(f"{model} holds contact data"), problems


def test_an_app_that_registers_nothing_is_reported(monkeypatch):
    monkeypatch.delitem(gdpr._registry, "journeys")
    problems = "\n".join(gdpr.coverage_problems())
    for model in ("Enrollment", "Step", "PromiseToPay", "AudienceRun"):
        assert f"journeys.{model} holds contact data" in problems


def test_a_model_related_to_contact_must_be_exported_not_only_scrubbed(monkeypatch):
    registration = gdpr.registrations()["journeys"]
    monkeypatch.setitem(
        gdpr._registry,
        "journeys",
        dataclasses.replace(
            registration,
            covers=tuple(m for m in registration.covers if m != "journeys.Step"),
            copies=(*registration.copies, "journeys.Step"),
        ),
    )
    assert gdpr.coverage_problems() == [
        "journeys.Step has a relation to Contact: its rows are the person's, list it in covers=."
    ]


def test_another_app_may_not_cover_a_model_for_its_owner(monkeypatch):
    consent = gdpr.registrations()["consent"]
    channels = gdpr.registrations()["channels_app"]
    monkeypatch.setitem(
        gdpr._registry,
        "channels_app",
        dataclasses.replace(
            channels, covers=tuple(m for m in channels.covers if m != "channels_app.Verification")
        ),
    )
    monkeypatch.setitem(
        gdpr._registry,
        "consent",
        dataclasses.replace(consent, covers=(*consent.covers, "channels_app.Verification")),
    )
    assert gdpr.coverage_problems() == [
        "channels_app.Verification is registered by consent/gdpr.py; its own app channels_app must."
    ]


def test_numbers_named_like_addresses_are_limits_not_addresses():
    from channels_app.models import Verification, VerifyPolicy

    assert gdpr.personal_markers(VerifyPolicy) == []  # per_ip, per_number: counts
    assert "address column (client_ip)" in gdpr.personal_markers(Verification)
