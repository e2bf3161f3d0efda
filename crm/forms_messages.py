"""Error messages that name their field, for any form.

Every error message names its field (see :mod:`crm.forms`): a screen reader reaching "This field is required."
out of context can't tell which field it is about. :class:`NamedErrorsMixin` replaces Django's generic
messages ("This field is required.", "Ensure this value is less than or equal to 100.", "Enter a number.",
...) of every field of the form with one that names the field by its label ("Enter the rate.", "The discount %
can't be more than 100."). A message a form sets for a field itself is kept, so hand-written messages win.

Mix it in first: ``class CostRateForm(NamedErrorsMixin, forms.Form)``. It works for model forms and formset
forms alike (validators copied from model fields report by code, and the field's message for the code wins).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.core.validators import MinValueValidator


def field_name(field: forms.Field, name: str) -> str:
    """The field's label as it reads inside a sentence: "Message to the customer" → "message to the customer"."""
    label = str(field.label) if field.label else name.replace("_", " ")
    # "%" would be read as a placeholder when Django fills in a validator's limit: "Discount %" reads
    # "discount percentage" and a unit in brackets ("Amber tolerance (%)", "Discount rate (% a year)") is dropped.
    label = re.sub(r"\([^)]*%[^)]*\)", "", label).replace("%", "percentage")
    label = " ".join(label.split()).rstrip(":")
    if len(label) > 1 and label[1].isupper():  # an acronym ("CLV", "NPS ...") keeps its capitals
        return label
    return label[:1].lower() + label[1:]


def _is_choice(field: forms.Field) -> bool:
    return isinstance(field, forms.ChoiceField | forms.ModelChoiceField)


def named_messages(field: forms.Field, name: str, *, model_validators: Sequence = ()) -> dict[str, str]:
    """Messages naming ``field`` for every error code Django's form fields and their validators use.

    ``model_validators``: a model form's model field's validators, which report through the form field's
    messages too (a model's ``MinValueValidator(1)`` must not be reported as "can't be negative")."""
    what = field_name(field, name)
    messages = {
        "required": f"Choose the {what}." if _is_choice(field) else f"Enter the {what}.",
        "invalid_choice": f"Choose one of the listed options for the {what}.",
        "invalid_pk_value": f"Choose one of the listed options for the {what}.",
        "invalid_list": f"Choose one or more of the listed options for the {what}.",
        "max_length": f"The {what} can be at most %(limit_value)d characters long (it has %(show_value)d).",
        "min_length": f"The {what} needs at least %(limit_value)d characters (it has %(show_value)d).",
        "max_value": f"The {what} can't be more than %(limit_value)s.",
        "min_value": f"The {what} can't be less than %(limit_value)s.",
        "step_size": f"The {what} must be a multiple of %(limit_value)s.",
        "max_digits": f"The {what} is too large (at most %(max)s digits).",
        "max_whole_digits": f"The {what} is too large (at most %(max)s digits before the decimal point).",
        "max_decimal_places": f"Give the {what} with at most %(max)s decimal places.",
        "invalid": f"Enter a valid {what}.",
    }
    if isinstance(field, forms.IntegerField):  # DecimalField and FloatField too
        messages["invalid"] = (
            f"Enter the {what} as a number, e.g. 12.50." if isinstance(field, forms.DecimalField | forms.FloatField)
            else f"Enter the {what} as a whole number."
        )
        lows = [v.limit_value for v in (*field.validators, *model_validators) if isinstance(v, MinValueValidator)]
        if lows and all(low == 0 for low in lows):  # with a higher floor as well, its limit must show
            messages["min_value"] = f"The {what} can't be negative."
    elif isinstance(field, forms.DateTimeField):
        messages["invalid"] = f"Enter the {what} as a date and time, e.g. 2025-03-01 14:30."
    elif isinstance(field, forms.DateField):
        messages["invalid"] = f"Enter the {what} as a date, e.g. 2025-03-01."
    elif isinstance(field, forms.BooleanField):
        messages["required"] = f"Tick {what} to go on."
    return messages


def _defaults(field: forms.Field) -> dict[str, str]:
    """Django's own messages of the field's class (what ``error_messages`` holds unless a form set one)."""
    defaults: dict[str, str] = {}
    for cls in reversed(type(field).__mro__):
        defaults.update({code: str(text) for code, text in getattr(cls, "default_error_messages", {}).items()})
    return defaults


def name_field_errors(form: forms.BaseForm) -> None:
    """Give every field of ``form`` messages that name it, keeping any message the form set itself."""
    meta = getattr(form, "_meta", None)
    model = getattr(meta, "model", None)
    for name, field in form.fields.items():
        defaults = _defaults(field)
        current = field.error_messages
        model_validators: Sequence = ()
        if model is not None:
            try:
                model_validators = getattr(model._meta.get_field(name), "validators", ())
            except FieldDoesNotExist:
                pass
        for code, message in named_messages(field, name, model_validators=model_validators).items():
            if code not in current or str(current[code]) == defaults.get(code):
                current[code] = message


class NamedErrorsMixin:
    """A form whose every error message names its field (see the module's docstring)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        name_field_errors(self)  # type: ignore[arg-type]
