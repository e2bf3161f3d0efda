"""The import pages' forms: the upload, and the column mapping with the parsing choices.

They validate what the user chose; reading the file and checking its rows is the engine's
(:mod:`crm.imports.services`). Every error message names the field it is about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django import forms
from django.core.exceptions import ValidationError

from crm.models_imports import ImportKind

from . import services
from .errors import ImportFileError, ImportLimitError
from .fields import FIELDS

#: Column selects are named ``col_<tierwise field>``; the parsing choices keep their FileFormat names.
COLUMN_PREFIX = "col_"
OPTION_NAMES = ("encoding", "delimiter", "decimal_separator", "date_order")

ENCODINGS = [
    ("utf-8", "UTF-8"),
    ("utf-8-sig", "UTF-8 with BOM (Excel's “CSV UTF-8”)"),
    ("cp1252", "Windows-1252 (Western European, with €)"),
    ("latin-1", "Latin-1 (ISO-8859-1)"),
]
DELIMITERS = [(",", "Comma  ,"), (";", "Semicolon  ;"), ("\t", "Tab"), ("|", "Vertical bar  |")]
DECIMAL_SEPARATORS = [(".", "Point: 1234.56"), (",", "Comma: 1234,56")]
DATE_ORDERS = [
    ("dmy", "Day first: 31/12/2025"),
    ("mdy", "Month first: 12/31/2025"),
    ("ymd", "Year first: 2025-12-31"),
]


class UploadForm(forms.Form):
    source_system = forms.CharField(
        label="Source system",
        max_length=40,
        help_text="Where the file comes from, e.g. “SAP ERP” or “Zendesk”. Each source remembers its column mapping.",
        widget=forms.TextInput(attrs={"list": "known-sources", "autocomplete": "off"}),
        error_messages={"required": "Name the source system the file comes from.",
                        "max_length": "Keep the source system's name to 40 characters or fewer."},
    )
    kind = forms.ChoiceField(
        label="What the file holds",
        choices=ImportKind.choices,
        error_messages={"required": "Choose what the file holds.",
                        "invalid_choice": "Choose what the file holds from the list."},
    )
    file = forms.FileField(
        label="File",
        help_text="CSV (.csv, .txt or .tsv) or an Excel workbook (.xlsx), with a header row.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx,.xlsm,text/csv,text/plain,"
                                                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}),
        error_messages={"required": "Choose the file to import.", "empty": "The file is empty: choose another one."},
    )

    def clean_source_system(self) -> str:
        value = " ".join(self.cleaned_data["source_system"].split())
        if not value:
            raise ValidationError("Name the source system the file comes from.")
        return value

    def clean_file(self):  # type: ignore[no-untyped-def]
        upload = self.cleaned_data["file"]
        try:
            services.check_upload(size_bytes=upload.size, original_name=upload.name)
        except (ImportLimitError, ImportFileError) as exc:
            raise ValidationError(str(exc)) from exc
        return upload


def _choices_with(choices: list[tuple[str, str]], value: str | None) -> list[tuple[str, str]]:
    """``choices`` plus ``value`` (what the file was detected as) if the list lacks it."""
    if value and value not in {key for key, _ in choices}:
        return [*choices, (value, value)]
    return choices


class MappingForm(forms.Form):
    """One select per Tierwise field of the kind (the file's headers as options), then the parsing choices.

    Build it with the file's ``headers``; the column fields keep the order of ``FIELDS[kind]``. Required
    fields must be mapped only to start (``for_start=True``); the preview shows what is missing instead.
    """

    def __init__(self, *args, kind: str, headers: Iterable[str], is_xlsx: bool = False,
                 detected: Mapping[str, str] | None = None, for_start: bool = False, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.specs = FIELDS[kind]
        self.headers = list(headers)
        self.is_xlsx = is_xlsx
        header_choices = [("", "— not imported —"), *((h, h) for h in self.headers if h)]
        for spec in self.specs:
            help_parts = [spec.help] if spec.help else []
            if spec.choices and not spec.help:  # a field's help names its choices where it has any
                help_parts.append("One of: " + ", ".join(str(label) for _, label in spec.choices) + ".")
            self.fields[COLUMN_PREFIX + spec.name] = forms.ChoiceField(
                label=spec.label,
                choices=header_choices,
                required=for_start and spec.required,
                help_text=" ".join(help_parts),
                error_messages={
                    "required": f"Choose the column that holds “{spec.label}”: it is required.",
                    "invalid_choice": f"The column chosen for “{spec.label}” is not in the file.",
                },
            )
            self.fields[COLUMN_PREFIX + spec.name].spec = spec
            if spec.required:
                self.fields[COLUMN_PREFIX + spec.name].widget.attrs["aria-required"] = "true"
        detected = detected or {}
        self.fields["encoding"] = forms.ChoiceField(
            label="Encoding", choices=_choices_with(ENCODINGS, detected.get("encoding")), required=not is_xlsx,
            help_text="Change it if accented letters look wrong in the preview.",
        )
        self.fields["delimiter"] = forms.ChoiceField(
            label="Delimiter", choices=_choices_with(DELIMITERS, detected.get("delimiter")), required=not is_xlsx,
        )
        self.fields["decimal_separator"] = forms.ChoiceField(
            label="Decimal separator", choices=_choices_with(DECIMAL_SEPARATORS, detected.get("decimal_separator")),
        )
        self.fields["date_order"] = forms.ChoiceField(
            label="Dates", choices=_choices_with(DATE_ORDERS, detected.get("date_order")),
            help_text="How ambiguous dates like 03/04/2025 are read.",
        )
        for name in OPTION_NAMES:
            self.fields[name].error_messages.update({
                "required": f"Choose the {self.fields[name].label.lower()}.",
                "invalid_choice": f"Choose the {self.fields[name].label.lower()} from the list.",
            })

    @staticmethod
    def initial_for(*, columns: Mapping[str, str], options: Mapping[str, str]) -> dict[str, str]:
        initial = {COLUMN_PREFIX + name: header for name, header in columns.items() if header}
        initial.update({name: options[name] for name in OPTION_NAMES if options.get(name) is not None})
        return initial

    def column_fields(self) -> list[forms.BoundField]:
        return [self[COLUMN_PREFIX + spec.name] for spec in self.specs]

    def option_fields(self) -> list[forms.BoundField]:
        names = OPTION_NAMES[2:] if self.is_xlsx else OPTION_NAMES  # a workbook has no encoding or delimiter
        return [self[name] for name in names]

    def _value(self, name: str) -> str:
        if self.is_bound and hasattr(self, "cleaned_data") and name in self.cleaned_data:
            return self.cleaned_data[name] or ""
        value = self[name].value()
        return value if isinstance(value, str) else ""

    def columns(self) -> dict[str, str]:
        """``{tierwise field: header}`` of the mapped fields only (valid headers, whether or not ``is_valid``)."""
        known = set(self.headers)
        out = {}
        for spec in self.specs:
            header = self._value(COLUMN_PREFIX + spec.name)
            if header and header in known:
                out[spec.name] = header
        return out

    def options(self) -> dict[str, str]:
        """The parsing choices that hold a valid value (a workbook has no encoding or delimiter)."""
        out = {}
        for field in self.option_fields():
            value = self._value(field.name)
            if value and value in {key for key, _ in field.field.choices}:
                out[field.name] = value
        return out

    def missing_required(self) -> list[str]:
        columns = self.columns()
        return [spec.label for spec in self.specs if spec.required and spec.name not in columns]
