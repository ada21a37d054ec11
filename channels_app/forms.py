"""Forms of the messaging pages. They only shape input; the services decide."""

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
    """Name, address, rate, credentials (blank keeps what is stored) and provider settings."""

    kind = forms.ChoiceField(choices=KIND_CHOICES)
    provider = forms.ChoiceField(choices=())
    name = forms.CharField(max_length=120)
    address = forms.CharField(
        max_length=200, required=False, help_text="The sender: number (E.164), sender id or email."
    )
    rate_limit_per_second = forms.IntegerField(
        min_value=1, max_value=100_000, initial=20, label="Rate limit (messages per second)"
    )
    settings_json = forms.CharField(
        required=False,
        label="Provider settings (JSON)",
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
        help_text='Non-secret options, e.g. {"sandbox": {"fail": "30003"}} or {"api_base": "https://api.twilio.com"}.',
    )

    def __init__(self, *args, provider, editing=None, **kwargs):
        import json

        from .providers import get_provider, provider_choices

        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = provider_choices()
        self.provider = get_provider(provider)
        self.credential_names = []
        masked = editing.masked_credentials() if editing else {}
        for field in self.provider.credential_fields:
            name = f"cred_{field.name}"
            self.credential_names.append(name)
            stored = masked.get(field.name)
            self.fields[name] = forms.CharField(
                label=field.label,
                required=False,
                widget=forms.PasswordInput(render_value=False) if field.secret else forms.TextInput,
                help_text=(f"Stored: {stored}. Leave blank to keep it." if stored else field.help)
                or (
                    "Generated for you when blank."
                    if field.name in get_provider(provider).generated_credentials()
                    else ""
                ),
            )
        if editing is not None:
            for name in ("kind", "provider"):
                self.fields[name].disabled = True
            self.initial.setdefault("settings_json", json.dumps(editing.settings) if editing.settings else "")

    def clean_settings_json(self):
        raw = self.cleaned_data.get("settings_json", "").strip()
        if not raw:
            return {}
        try:
            value = json_parse(raw)
        except JSONInputError as exc:
            raise forms.ValidationError(f"Not JSON: {json_problem(exc)}") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("A JSON object, e.g. {}.")
        return value

    def credentials(self) -> dict:
        return {name.removeprefix("cred_"): self.cleaned_data.get(name, "") for name in self.credential_names}


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
