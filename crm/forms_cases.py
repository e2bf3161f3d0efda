"""The complaint form: what a caller or an account manager reports, for one account."""

from __future__ import annotations

from django import forms

from .forms_messages import NamedErrorsMixin
from .models import Account, Contact, InteractionChannel, Severity

COMPLAINT_CHANNELS = [
    (InteractionChannel.PHONE, "Phone"),
    (InteractionChannel.EMAIL, "Email"),
    (InteractionChannel.WEB, "Web / portal"),
    (InteractionChannel.IN_PERSON, "In person"),
    (InteractionChannel.OTHER, "Other"),
]


class ComplaintForm(NamedErrorsMixin, forms.Form):
    """Every message names its field (``NamedErrorsMixin``; the fields whose labels don't read well in a
    sentence have their own)."""

    subject = forms.CharField(max_length=200, label="Subject", help_text="One line: what went wrong.")
    contact = forms.ModelChoiceField(
        queryset=Contact.objects.none(), required=False, empty_label="— not a known contact —",
        label="Who complained",
        error_messages={"invalid_choice": "Choose who complained from this account's contacts."},
    )
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.MEDIUM)
    channel = forms.ChoiceField(choices=COMPLAINT_CHANNELS, initial=InteractionChannel.PHONE, label="Came in by",
                                error_messages={"required": "Choose how the complaint came in.",
                                                "invalid_choice": "Choose how the complaint came in from the list."})
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=5000, label="What they said",
        help_text="Their words help: the text is scored for urgency and tone.",
    )

    def __init__(self, *args, account: Account, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("auto_id", f"complaint{account.pk}_%s")
        super().__init__(*args, **kwargs)
        # Only this account's contacts can be chosen (a posted id of another account's contact is invalid).
        self.fields["contact"].queryset = Contact.objects.filter(account=account).only("id", "name", "role")
        self.fields["contact"].label_from_instance = lambda c: f"{c.name} ({c.role})" if c.role else c.name
