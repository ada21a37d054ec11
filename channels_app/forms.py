"""Forms of the messaging pages. They only shape input; the services decide."""

import json

from django import forms

from contacts.models import ChannelKind
from contacts.validation import name_split
from cpaas.jsoninput import JSONInputError, json_parse, json_problem

from .models import Message, Purpose

KIND_CHOICES = ChannelKind.choices


class SimulatorContactForm(forms.Form):
    name = forms.CharField(max_length=201, label="Name", help_text="First and last name, e.g. Nia Okafor.")
    phone = forms.CharField(
        max_length=40, required=False, help_text="Any format; local numbers use the workspace's country."
    )
    email = forms.EmailField(required=False)

    def contact_data(self) -> dict:
        """The contact service's fields: the one Name box becomes first and last name."""
        data = {k: v for k, v in self.cleaned_data.items() if v and k != "name"}
        return {**data, **name_split(self.cleaned_data["name"])}


class SimulatorSendForm(forms.Form):
    kind = forms.ChoiceField(choices=KIND_CHOICES, label="Channel")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000, label="Message")
    buttons = forms.CharField(
        required=False, max_length=200, help_text="Optional: comma-separated reply buttons, e.g. Yes, No."
    )
    purpose = forms.ChoiceField(choices=Purpose.choices, initial=Purpose.TRANSACTIONAL)
    template = forms.BooleanField(
        required=False, label="Send as an approved WhatsApp template (allowed outside the 24-hour window)"
    )

    def content(self) -> dict:
        data = self.cleaned_data
        content = {"text": data["text"]}
        buttons = [b.strip() for b in data.get("buttons", "").split(",") if b.strip()]
        if buttons:
            content["buttons"] = buttons
        if data.get("template") and data["kind"] == "whatsapp":
            content["template"] = {"name": "simulator_message", "variables": {}}
        return content


class MessageFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Text")
    channel = forms.IntegerField(required=False, widget=forms.Select)
    status = forms.ChoiceField(required=False, choices=[("", "Any")] + list(Message.Status.choices))
    purpose = forms.ChoiceField(required=False, choices=[("", "Any")] + list(Purpose.choices))
    direction = forms.ChoiceField(
        required=False, choices=[("", "Both"), ("out", "Outbound"), ("in", "Inbound")]
    )
    contact = forms.IntegerField(required=False, widget=forms.HiddenInput)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")


class ChannelForm(forms.Form):
    """The typed setup form of one provider, built from what the provider declares
    (`credential_fields`, `setting_fields`, its kinds and default rates: providers/base.py):
    secrets as password inputs that are never filled back (blank keeps the stored value),
    settings as typed inputs. A new channel's webhook token is made here, so its webhook URLs
    can be shown (and pasted into the provider's console) before the first save."""

    kind = forms.ChoiceField(choices=KIND_CHOICES)
    provider = forms.ChoiceField(choices=())
    name = forms.CharField(max_length=120)
    address = forms.CharField(max_length=200, required=False)
    rate_limit_per_second = forms.IntegerField(
        min_value=1, max_value=100_000, required=False, label="Rate limit (messages per second)"
    )
    webhook_token = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, provider, editing=None, **kwargs):
        from .models import new_token
        from .providers import get_provider, provider_choices

        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = provider_choices()
        self.provider = p = get_provider(provider)
        # only the kinds this provider carries, in the palette's order
        self.fields["kind"].choices = [(k, label) for k, label in KIND_CHOICES if k in p.kinds]
        carried = ", ".join(k for k, _ in self.fields["kind"].choices)
        self.fields["kind"].error_messages["invalid_choice"] = (
            f"{p.label} does not carry %(value)s (it carries {carried})."
        )
        self.fields["address"].label = p.address_label
        self.fields["address"].help_text = p.address_help
        self.fields["address"].widget.attrs["list"] = "senders"  # filled by "Test connection"
        defaults = ", ".join(f"{k} {p.default_rate(k, {})}/s" for k, _ in self.fields["kind"].choices)
        self.fields[
            "rate_limit_per_second"
        ].help_text = f"Blank: the provider's default ({defaults}). {p.rate_help}".strip()
        masked = editing.masked_credentials() if editing else {}
        generated = p.generated_credentials()
        self.credential_names, self.setting_names = [], []
        for field in p.credential_fields:
            name = f"cred_{field.name}"
            self.credential_names.append(name)
            stored = masked.get(field.name)
            if stored:
                help_text = f"Stored: {stored}. Leave blank to keep it."
            elif field.name in generated:
                help_text = field.help or "Generated for you when blank."
            else:
                help_text = field.help
            widget = forms.PasswordInput(render_value=False) if field.secret else forms.TextInput
            self.fields[name] = forms.CharField(
                label=field.label,
                # a new channel needs it; an edit keeps the stored value when left blank
                required=field.required and editing is None and field.name not in generated,
                widget=widget,
                help_text=help_text,
                error_messages={"required": "Required."},
            )
            self._decorate(name, field)
        for field in p.setting_fields:
            name = f"set_{field.name}"
            self.setting_names.append(name)
            self.fields[name] = self._setting_field(field)
            self._decorate(name, field)
            if editing is not None and field.name in (editing.settings or {}):
                value = editing.settings[field.name]
                self.initial.setdefault(name, json.dumps(value) if field.input == "json" else value)
        if editing is not None:
            for name in ("kind", "provider"):
                self.fields[name].disabled = True
            del self.fields["webhook_token"]
        else:
            self.initial.setdefault("webhook_token", new_token())
            for key, value in p.generated_settings().items():
                self.initial.setdefault(f"set_{key}", value)

    def _setting_field(self, field) -> forms.Field:
        common = {"label": field.label, "required": False, "help_text": field.help}
        if field.input == "choice":
            return forms.ChoiceField(choices=[("", "—")] + list(field.choices), **common)
        if field.input == "number":
            return forms.IntegerField(**common)
        if field.input == "json":
            return forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}), **common)
        if field.input == "url":
            return forms.CharField(max_length=500, widget=forms.URLInput, **common)
        return forms.CharField(max_length=500, **common)

    def _decorate(self, name: str, field) -> None:
        form_field = self.fields[name]
        form_field.help_url = field.help_url  # _field.html links it ("Where to find it")
        form_field.setup_required = field.required
        if field.placeholder:
            form_field.widget.attrs["placeholder"] = field.placeholder
        form_field.widget.attrs["autocomplete"] = "off"

    def clean(self):
        data = super().clean()
        for name in self.setting_names:
            field = next(f for f in self.provider.setting_fields if f"set_{f.name}" == name)
            raw = data.get(name)
            if field.input != "json" or raw in (None, ""):
                continue
            try:
                value = json_parse(raw)
            except JSONInputError as exc:
                self.add_error(name, f"Not JSON: {json_problem(exc)}")
                continue
            if not isinstance(value, dict):
                self.add_error(name, "A JSON object, e.g. {}.")
                continue
            data[name] = value
        return data

    def credentials(self) -> dict:
        return {name.removeprefix("cred_"): self.cleaned_data.get(name, "") for name in self.credential_names}

    def settings(self, existing: dict | None = None) -> dict:
        """The declared settings from the form over the undeclared ones already stored (a
        cleared optional field is removed)."""
        declared = {name.removeprefix("set_") for name in self.setting_names}
        kept = {k: v for k, v in (existing or {}).items() if k not in declared}
        for name in self.setting_names:
            value = self.cleaned_data.get(name)
            if value not in (None, "", {}):
                kept[name.removeprefix("set_")] = value.strip() if isinstance(value, str) else value
        return kept


class VerificationStartForm(forms.Form):
    contact = forms.IntegerField(required=False, widget=forms.Select, label="Contact")
    to = forms.CharField(
        required=False,
        max_length=120,
        label="…or a phone number / email",
        help_text="A new number gets a new contact.",
    )
    channels = forms.CharField(initial="whatsapp, sms, voice", help_text="The order to try, comma-separated.")
    code_length = forms.IntegerField(min_value=4, max_value=10, initial=6)
    expiry_s = forms.IntegerField(min_value=60, max_value=3600, initial=600, label="Expires after (s)")
    fallback_after_s = forms.IntegerField(
        min_value=5,
        max_value=600,
        initial=30,
        label="Next channel after (s)",
        help_text="When the code is not delivered by then.",
    )
    locale = forms.ChoiceField(
        choices=[
            ("en", "English"),
            ("fr", "Français"),
            ("es", "Español"),
            ("de", "Deutsch"),
            ("pt", "Português"),
        ]
    )

    def channel_list(self) -> list[str]:
        return [c.strip().lower() for c in self.cleaned_data["channels"].split(",") if c.strip()]


class VerificationCheckForm(forms.Form):
    code = forms.CharField(
        max_length=12, widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"})
    )


class VerifyPolicyForm(forms.Form):
    """The workspace's verification settings; the service validates the values."""

    countries = forms.CharField(
        required=False,
        label="Countries",
        help_text="ISO codes phone codes may go to, comma-separated (e.g. GB, IE). Empty: every country.",
    )
    per_minute = forms.IntegerField(label="Verifications per minute (workspace)")
    per_number = forms.IntegerField(label="Per number, per 10 minutes")
    per_ip = forms.IntegerField(label="Per end-user IP, per 10 minutes", help_text="The API's client_ip.")
    per_prefix = forms.IntegerField(
        label="Per destination prefix, per 10 minutes",
        help_text="+country code and 4 digits: a burst on one prefix is how SMS pumping shows.",
    )
    resend_cooldown_s = forms.IntegerField(
        label="Resend cooldown (s)", help_text="Between two codes to a number."
    )

    def data_for_service(self) -> dict:
        data = dict(self.cleaned_data)
        data["countries"] = [c.strip() for c in data["countries"].replace(";", ",").split(",") if c.strip()]
        return data
