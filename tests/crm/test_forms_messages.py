"""Error messages that name their field (crm.forms_messages), and the forms that use them."""

from decimal import Decimal

import pytest
from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from crm.forms_messages import NamedErrorsMixin
from crm.models import Account


class Sample(NamedErrorsMixin, forms.Form):
    subject = forms.CharField(max_length=5)
    rate = forms.DecimalField(label="Rate", min_value=Decimal("0"), max_digits=6, decimal_places=2)
    discount = forms.DecimalField(label="Discount %", required=False,
                                  validators=[MinValueValidator(1), MaxValueValidator(100)])
    share = forms.IntegerField(label="First stage (% of the segment)", required=False, max_value=100)
    kind = forms.ChoiceField(label="Kind", choices=[("a", "A")])
    day = forms.DateField(label="Day", required=False)
    name = forms.CharField(label="Name", error_messages={"required": "Every tier needs a name."})
    clv = forms.IntegerField(label="CLV", required=False, max_value=10)


def errors(**data: str) -> dict[str, list[str]]:
    form = Sample(data=data)
    form.is_valid()
    return dict(form.errors)


def test_generic_messages_name_their_field():
    assert errors() == {
        "subject": ["Enter the subject."],
        "rate": ["Enter the rate."],
        "kind": ["Choose the kind."],
        "name": ["Every tier needs a name."],  # a form's own message stays
    }
    assert errors(subject="too long", rate="-1", discount="0.5", share="101", kind="z", day="31 April", name="x",
                  clv="11") == {
        "subject": ["The subject can be at most 5 characters long (it has 8)."],
        "rate": ["The rate can't be negative."],
        "discount": ["The discount percentage can't be less than 1."],  # "%" is no placeholder
        "share": ["The first stage can't be more than 100."],
        "kind": ["Choose one of the listed options for the kind."],
        "day": ["Enter the day as a date, e.g. 2025-03-01."],
        "clv": ["The CLV can't be more than 10."],  # an acronym keeps its capitals
    }
    assert errors(rate="1.234", kind="a", name="x")["rate"] == ["Give the rate with at most 2 decimal places."]
    assert errors(rate="abc", kind="a", name="x")["rate"] == ["Enter the rate as a number, e.g. 12.50."]


def test_each_form_gets_its_own_messages():
    """The messages are set on the form's copies of the fields, never on the class's."""
    Sample()
    assert "Enter the subject." not in Sample.base_fields["subject"].error_messages.values()
    assert forms.CharField().error_messages["required"] == "This field is required."


class AccountNameForm(NamedErrorsMixin, forms.ModelForm):
    class Meta:
        model = Account
        fields = ["name"]


@pytest.mark.django_db
def test_a_model_forms_fields_are_named_too():
    form = AccountNameForm(data={"name": ""})
    assert not form.is_valid()
    assert form.errors == {"name": ["Enter the name."]}
