from django import forms

from .models import Role, Workspace


class WorkspaceForm(forms.ModelForm):
    class Meta:
        model = Workspace
        fields = ["name", "timezone", "default_country", "default_language"]


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=Role.choices)
    password = forms.CharField(
        widget=forms.PasswordInput, required=False, help_text="Needed only when the user is new."
    )


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
