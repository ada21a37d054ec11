from django import forms

from cpaas.jsoninput import JSONFormField

from .models import AttributeDefinition, ChannelKind

ADDRESS_FIELDS = {"whatsapp": "WhatsApp id", "messenger": "Messenger id", "viber": "Viber id"}


class ContactForm(forms.Form):
    """Fields of a contact, plus one field per custom attribute of the workspace."""

    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    phone = forms.CharField(required=False, help_text="Any format; stored as E.164 (+447911123456).")
    email = forms.CharField(required=False)
    external_id = forms.CharField(
        max_length=120,
        required=False,
        label="External id",
        help_text="Your system's id for this person (used by the API to upsert).",
    )
    language = forms.CharField(max_length=8, required=False, help_text="ISO 639-1, e.g. en, fr, es.")
    timezone = forms.CharField(
        max_length=64,
        required=False,
        label="Time zone",
        help_text="IANA name, e.g. Europe/London. Empty: the workspace's.",
    )
    preferred_channel = forms.ChoiceField(choices=[("", "—")] + ChannelKind.choices, required=False)
    tags = forms.CharField(required=False, help_text="Comma separated.")
    is_vulnerable = forms.BooleanField(
        required=False,
        label="Vulnerable customer",
        help_text="Suppresses automated collections and marketing messages.",
    )
    vulnerability_note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        for kind, label in ADDRESS_FIELDS.items():
            self.fields[f"address_{kind}"] = forms.CharField(required=False, label=label)
        self.definitions = list(AttributeDefinition.objects.filter(workspace=workspace))
        for d in self.definitions:
            widget = {
                "date": forms.DateInput(attrs={"type": "date"}),
                "boolean": forms.Select(choices=[("", "—"), ("true", "Yes"), ("false", "No")]),
            }.get(d.type)
            self.fields[f"attr_{d.key}"] = forms.CharField(
                required=False,
                label=d.label,
                widget=widget,
                help_text=f"{d.get_type_display()} · {{{{contact.{d.key}}}}}",
            )

    @classmethod
    def initial_for(cls, contact) -> dict:
        initial = {
            f: getattr(contact, f) or ""
            for f in (
                "first_name",
                "last_name",
                "phone",
                "email",
                "external_id",
                "language",
                "timezone",
                "preferred_channel",
                "is_vulnerable",
                "vulnerability_note",
            )
        }
        initial["is_vulnerable"] = contact.is_vulnerable
        initial["tags"] = ", ".join(t.name for t in contact.tags.all())
        for kind in ADDRESS_FIELDS:
            initial[f"address_{kind}"] = contact.addresses.get(kind, "")
        for key, value in contact.attributes.items():
            initial[f"attr_{key}"] = "true" if value is True else "false" if value is False else value
        return initial

    def service_data(self) -> dict:
        """The form's cleaned values in the shape contact services take."""
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith(("attr_", "address_"))}
        data["addresses"] = {
            kind: self.cleaned_data[f"address_{kind}"]
            for kind in ADDRESS_FIELDS
            if self.cleaned_data.get(f"address_{kind}")
        }
        data["attributes"] = {d.key: self.cleaned_data.get(f"attr_{d.key}") for d in self.definitions}
        return data

    def add_service_errors(self, exc) -> None:
        for field, messages in exc.message_dict.items():
            name = field
            if field.startswith("attributes."):
                name = "attr_" + field.split(".", 1)[1]
            elif field.startswith("addresses."):
                name = "address_" + field.split(".", 1)[1]
            self.add_error(name if name in self.fields else None, messages)


class AttributeForm(forms.Form):
    key = forms.SlugField(max_length=60, help_text="Lower case, e.g. due_date. Used as {{contact.due_date}}.")
    label = forms.CharField(max_length=100, required=False)
    type = forms.ChoiceField(choices=AttributeDefinition.Type.choices)


class EventForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="e.g. payment_completed")
    properties = JSONFormField(
        required=False,
        initial=dict,
        help_text='JSON object, e.g. {"amount": 120}',
        widget=forms.Textarea(attrs={"rows": 2}),
    )
