from django import forms

from .models import Role, Workspace


class WorkspaceForm(forms.ModelForm):
    class Meta:
        model = Workspace
        fields = [
            "name", "timezone", "default_country", "default_language",
            "retention_messages_days", "retention_steps_days", "retention_events_days",
        ]  # fmt: skip


class InvitationForm(forms.Form):
    email = forms.EmailField(help_text="The link to join is sent there; it works once, until it expires.")
    # least privilege by default: an admin raises it on purpose
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class InvitationSignupForm(forms.Form):
    username = forms.CharField(max_length=150, label="Choose a user name")
    password1 = forms.CharField(widget=forms.PasswordInput, label="Choose a password")
    password2 = forms.CharField(widget=forms.PasswordInput, label="The password again")

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", "The two passwords differ.")
        return data


class MembershipForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    is_active = forms.BooleanField(required=False, label="Active")


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="The system that will use it, e.g. 'Billing backend'.")
    rate_limit_per_minute = forms.IntegerField(min_value=1, max_value=100_000, initial=1200)


def apply_errors(form: forms.Form, exc) -> None:
    """Put a service ValidationError's messages next to the form's fields."""
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, exc.messages)
